#pragma once
// split_backward(): the backward of a traced graph, as a graph. The rules of
// the gradient column run once on symbols of a new trace, so the backward is
// made of table ops that the passes fold, fuse and memory-plan like any
// forward. What the rules read from the forward pass becomes extra outputs
// of the forward graph ("saved" values), so a hybridized training step is
// two plans: forward (results + saved values) and backward (saved values +
// head gradients → one gradient per differentiated variable). Only values a
// rule actually reads are saved; the forward's other intermediates stay in
// its arena (MXNet's CachedOp keeps forward and backward in one graph; two
// graphs let inference and training plans share nothing they do not need).
#include <string>
#include <unordered_map>
#include <vector>

#include "../trace/trace_state.hpp"
#include "mode.hpp"

namespace hybrid::autograd {

/// What binds a backward graph's input variable at run time.
struct BackwardInput {
  enum Kind { saved, head_grad, forward_input } kind;
  int index;  // saved value k, forward output k, or forward input k (in graph order)
};

template <class T>
struct BackwardSplit {
  /// The forward graph: its own outputs, then the saved values.
  graph::Graph<T> forward;
  int num_results = 0;
  /// Inputs: BackwardInput in graph order (`inputs`); parameters by name,
  /// as in the forward graph. Outputs: one gradient per `wrt` entry.
  graph::Graph<T> backward;
  std::vector<BackwardInput> inputs;
};

/// Differentiates `g`'s first `num_heads` outputs (-1: all) with respect
/// to its variables `wrt` (node ids); later outputs are only computed.
template <class T>
BackwardSplit<T> split_backward(const graph::Graph<T>& g, const std::vector<int>& wrt, int num_heads = -1) {
  using hybrid::detail::TensorAccess;
  const int n = static_cast<int>(g.nodes.size());

  // Which nodes depend on a differentiated variable: only they get gradients.
  std::vector<char> depends(static_cast<size_t>(n), 0);
  for (int w : wrt) depends[static_cast<size_t>(w)] = 1;
  for (int i = 0; i < n; ++i)
    for (int in : g.nodes[i].inputs)
      if (depends[static_cast<size_t>(in)]) depends[static_cast<size_t>(i)] = 1;

  auto state = std::make_shared<trace::TraceState<T>>();
  graph::Graph<T>& b = state->graph;
  std::vector<BackwardInput> bindings;  // per backward input variable, in creation order
  std::vector<int> saved_nodes;         // forward node of each saved value
  std::vector<int> forward_inputs = g.variables(graph::VarKind::input);
  std::unordered_map<int, int> forward_input_index;
  for (size_t k = 0; k < forward_inputs.size(); ++k) forward_input_index[forward_inputs[k]] = static_cast<int>(k);

  std::vector<TensorT<T>> value(static_cast<size_t>(n));  // forward node → its symbol in the backward trace
  auto symbol = [&](int id) { return TensorAccess::symbol(state, id, b.nodes[static_cast<size_t>(id)].shape); };
  auto forward_value = [&](int i) -> const TensorT<T>& {
    TensorT<T>& v = value[static_cast<size_t>(i)];
    if (v.defined()) return v;
    const graph::Node<T>& node = g.nodes[static_cast<size_t>(i)];
    if (node.op == OpCode::constant) {
      v = symbol(b.add_constant(node.value));
    } else if (node.op == OpCode::variable && node.var_kind == graph::VarKind::param) {
      v = symbol(b.add_variable(node.name, node.shape, graph::VarKind::param));
    } else if (node.op == OpCode::variable) {
      v = symbol(b.add_variable(node.name, node.shape, graph::VarKind::input));
      bindings.push_back({BackwardInput::forward_input, forward_input_index.at(i)});
    } else {
      v = symbol(b.add_variable("saved" + std::to_string(saved_nodes.size()), node.shape, graph::VarKind::input));
      bindings.push_back({BackwardInput::saved, static_cast<int>(saved_nodes.size())});
      saved_nodes.push_back(i);
    }
    return v;
  };

  std::vector<TensorT<T>> grad(static_cast<size_t>(n));
  auto add_grad = [&](int i, const TensorT<T>& gi) {
    TensorT<T>& slot = grad[static_cast<size_t>(i)];
    slot = slot.defined() ? slot + gi : gi;
  };
  {
    trace::TraceScope<T> scope(state.get());
    detail::ModeScope not_recorded(false, false);
    const size_t heads = num_heads < 0 ? g.outputs.size() : static_cast<size_t>(num_heads);
    for (size_t j = 0; j < heads; ++j) {
      const int o = g.outputs[j];
      if (!depends[static_cast<size_t>(o)]) continue;
      const graph::Node<T>& node = g.nodes[static_cast<size_t>(o)];
      TensorT<T> head = symbol(b.add_variable("head_grad" + std::to_string(j), node.shape, graph::VarKind::input));
      bindings.push_back({BackwardInput::head_grad, static_cast<int>(j)});
      add_grad(o, head);
    }
    std::vector<const TensorT<T>*> in;
    std::vector<TensorT<T>> in_values, grad_in;
    std::unique_ptr<bool[]> needs;
    for (int i = n - 1; i >= 0; --i) {
      const graph::Node<T>& node = g.nodes[static_cast<size_t>(i)];
      if (has_trait(node.op, kSource) || !grad[static_cast<size_t>(i)].defined()) continue;
      const size_t arity = node.inputs.size();
      in_values.clear();
      for (int k : node.inputs) in_values.push_back(forward_value(k));
      in.clear();
      for (const auto& t : in_values) in.push_back(&t);
      needs.reset(new bool[arity + 1]);
      for (size_t k = 0; k < arity; ++k) needs[k] = depends[static_cast<size_t>(node.inputs[k])] != 0;
      const TensorT<T> out = forward_value(i);
      detail::op_vjp<T>(node.op, node.attrs, in.data(), static_cast<int>(arity), out, grad[static_cast<size_t>(i)],
                        needs.get(), grad_in);
      grad[static_cast<size_t>(i)] = TensorT<T>();  // consumed
      for (size_t k = 0; k < arity; ++k)
        if (needs[k] && grad_in[k].defined()) add_grad(node.inputs[k], grad_in[k]);
    }
  }
  for (int w : wrt) {
    const TensorT<T>& gw = grad[static_cast<size_t>(w)];
    if (!gw.defined()) {
      b.outputs.push_back(b.add_constant(full<T>(g.nodes[static_cast<size_t>(w)].shape, T(0))));
    } else if (!gw.is_traced()) {
      b.outputs.push_back(b.add_constant(gw));
    } else {
      b.outputs.push_back(TensorAccess::node(gw));
    }
  }

  // Keep what the gradients need: rules were handed every input and output
  // of their node, and most read only some.
  const int nb = static_cast<int>(b.nodes.size());
  std::vector<char> live(static_cast<size_t>(nb), 0);
  for (int o : b.outputs) live[static_cast<size_t>(o)] = 1;
  for (int i = nb - 1; i >= 0; --i)
    if (live[static_cast<size_t>(i)])
      for (int in : b.nodes[static_cast<size_t>(i)].inputs) live[static_cast<size_t>(in)] = 1;
  BackwardSplit<T> split;
  split.forward = g;
  split.num_results = static_cast<int>(g.outputs.size());
  std::vector<int> index(static_cast<size_t>(nb), -1);
  size_t next_binding = 0;
  for (int i = 0; i < nb; ++i) {
    graph::Node<T>& node = b.nodes[static_cast<size_t>(i)];
    const bool is_input = node.op == OpCode::variable && node.var_kind == graph::VarKind::input;
    const BackwardInput binding = is_input ? bindings[next_binding++] : BackwardInput{};
    if (!live[static_cast<size_t>(i)]) continue;
    for (int& in : node.inputs) in = index[static_cast<size_t>(in)];
    if (is_input) {
      BackwardInput kept = binding;
      if (kept.kind == BackwardInput::saved) {  // renumber the saved values that stay
        kept.index = static_cast<int>(split.forward.outputs.size()) - split.num_results;
        node.name = "saved" + std::to_string(kept.index);
        split.forward.outputs.push_back(saved_nodes[static_cast<size_t>(binding.index)]);
      }
      split.inputs.push_back(kept);
    }
    index[static_cast<size_t>(i)] = split.backward.add(std::move(node));
  }
  for (int o : b.outputs) split.backward.outputs.push_back(index[static_cast<size_t>(o)]);
  return split;
}

}  // namespace hybrid::autograd
