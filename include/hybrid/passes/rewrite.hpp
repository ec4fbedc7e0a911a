#pragma once
// Rewriter: copies a graph node by node into a new one, letting a pass
// replace a node by tensor functions applied to symbols of the new graph.
// The replacement is recorded through the op table like any trace, so a
// pass that rewrites with the tensor API gets shape checks and the same ops
// eager code would run.
#include <memory>
#include <vector>

#include "../autograd/mode.hpp"
#include "../trace/trace_state.hpp"

namespace hybrid::passes {

template <class T>
class Rewriter {
 public:
  /// Rewrites `source`; tensor functions record into the new graph while
  /// the rewriter lives (not on the tape, in train mode if `training`).
  explicit Rewriter(const graph::Graph<T>& source, bool training = false)
      : source_(source),
        state_(std::make_shared<trace::TraceState<T>>()),
        map_(source.nodes.size(), -1),
        scope_(state_.get()),
        mode_(false, training) {}

  /// Node i of the source as a symbol of the new graph (copied already).
  TensorT<T> symbol(int i) const {
    const int id = map_[static_cast<size_t>(i)];
    return hybrid::detail::TensorAccess::symbol(state_, id, graph().nodes[static_cast<size_t>(id)].shape);
  }
  /// The new graph's node holding `t` (an eager value becomes a constant).
  int node_of(const TensorT<T>& t) {
    return t.is_traced() ? hybrid::detail::TensorAccess::node(t) : graph().add_constant(t);
  }
  /// Source node i is computed by `t` in the new graph.
  void replace(int i, const TensorT<T>& t) { map_[static_cast<size_t>(i)] = node_of(t); }
  /// Source node i is the new graph's node `id`.
  void alias(int i, int id) { map_[static_cast<size_t>(i)] = id; }
  /// Source node i copied as it is, its inputs mapped.
  void copy(int i) {
    const graph::Node<T>& n = source_.nodes[static_cast<size_t>(i)];
    int id;
    if (n.op == OpCode::variable) {
      id = graph().add_variable(n.name, n.shape, n.var_kind);
    } else if (n.op == OpCode::constant) {
      id = graph().add_constant(n.value);
    } else {
      std::vector<int> inputs;
      for (int in : n.inputs) inputs.push_back(map_[static_cast<size_t>(in)]);
      id = graph().add_op(n.op, std::move(inputs), n.attrs);
    }
    map_[static_cast<size_t>(i)] = id;
  }
  int mapped(int i) const { return map_[static_cast<size_t>(i)]; }
  graph::Graph<T>& graph() const { return state_->graph; }

  /// The new graph, with the source's outputs mapped, then `extra` outputs.
  graph::Graph<T> finish(const std::vector<int>& extra = {}) {
    graph::Graph<T>& g = graph();
    for (int o : source_.outputs) g.outputs.push_back(mapped(o));
    for (int e : extra) g.outputs.push_back(e);
    return std::move(g);
  }

 private:
  const graph::Graph<T>& source_;
  std::shared_ptr<trace::TraceState<T>> state_;
  std::vector<int> map_;
  trace::TraceScope<T> scope_;
  autograd::detail::ModeScope mode_;
};

}  // namespace hybrid::passes
