#pragma once
// trace_graph(): runs a function once on symbols and returns the graph it
// recorded. Inputs are variables named "data" (one input) or "data0",
// "data1", … (several); a result that does not depend on the inputs is a
// constant, so a function of constants traces to a single value.
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "trace_state.hpp"

namespace hybrid::trace {

inline std::string input_name(size_t k, size_t count) {
  return count == 1 ? std::string("data") : "data" + std::to_string(k);
}

/// Traces a function of several inputs with several results; the graph's
/// outputs are the results in order. `param_names` maps parameter
/// identities to their structural names.
template <class T>
graph::Graph<T> trace_graph_many(
    const std::function<std::vector<TensorT<T>>(const std::vector<TensorT<T>>&)>& fn,
    const std::vector<Shape>& input_shapes, std::unordered_map<const void*, std::string> param_names = {}) {
  auto state = std::make_shared<TraceState<T>>();
  state->param_names = std::move(param_names);
  std::vector<TensorT<T>> inputs;
  for (size_t k = 0; k < input_shapes.size(); ++k) {
    const int id = state->graph.add_variable(input_name(k, input_shapes.size()), input_shapes[k],
                                             graph::VarKind::input);
    inputs.push_back(detail::TensorAccess::symbol(state, id, input_shapes[k]));
  }
  std::vector<TensorT<T>> outs;
  {
    TraceScope<T> scope(state.get());
    outs = fn(inputs);
  }
  if (outs.empty()) throw TraceError("trace: the traced function returned no tensor");
  for (const TensorT<T>& out : outs) {
    if (!out.defined()) throw TraceError("trace: the traced function returned an undefined tensor");
    if (!out.is_traced()) {
      state->graph.outputs.push_back(state->graph.add_constant(out.clone()));
    } else {
      if (detail::TensorAccess::trace(out) != state)
        throw TraceError("trace: the traced function returned a symbol of another trace");
      state->graph.outputs.push_back(detail::TensorAccess::node(out));
    }
  }
  return std::move(state->graph);
}

/// One result.
template <class T>
graph::Graph<T> trace_graph(const std::function<TensorT<T>(const std::vector<TensorT<T>>&)>& fn,
                            const std::vector<Shape>& input_shapes,
                            std::unordered_map<const void*, std::string> param_names = {}) {
  return trace_graph_many<T>(
      [&](const std::vector<TensorT<T>>& in) { return std::vector<TensorT<T>>{fn(in)}; }, input_shapes,
      std::move(param_names));
}

/// One-input convenience form.
template <class T, class F>
graph::Graph<T> trace_graph(F&& fn, const Shape& input_shape) {
  return trace_graph<T>(
      std::function<TensorT<T>(const std::vector<TensorT<T>>&)>(
          [&](const std::vector<TensorT<T>>& in) { return fn(in[0]); }),
      std::vector<Shape>{input_shape});
}

}  // namespace hybrid::trace
