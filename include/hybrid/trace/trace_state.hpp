#pragma once
// TraceState: the graph being recorded while a hybridized block runs its
// forward once. Tensor ops whose inputs are symbols append nodes here; eager
// tensors that meet a symbol become constants; parameters become variables.
#include <memory>
#include <string>
#include <unordered_map>

#include "../graph/graph.hpp"

namespace hybrid::trace {

template <class T>
struct TraceState : std::enable_shared_from_this<TraceState<T>> {
  graph::Graph<T> graph;
  /// Parameter identity → its variable node; names come from `param_names`.
  std::unordered_map<const void*, int> params;
  std::unordered_map<const void*, std::string> param_names;

  /// A constant holding a copy of `t`: later writes to t must not change the graph.
  /// (Equal constants are merged later by common-subexpression elimination.)
  int constant(const TensorT<T>& t) { return graph.add_constant(t.clone()); }

  /// The variable node for parameter `key` of `shape`, created on first use.
  int param(const void* key, const Shape& shape) {
    auto it = params.find(key);
    if (it != params.end()) return it->second;
    auto name = param_names.find(key);
    if (name == param_names.end())
      throw TraceError("trace: a parameter of shape " + to_string(shape) +
                       " is used by the traced forward but does not belong to the hybridized block");
    const int id = graph.add_variable(name->second, shape, graph::VarKind::param);
    params[key] = id;
    return id;
  }
};

/// The trace recording on this thread, if any (one per element type).
template <class T>
TraceState<T>*& active_trace() {
  thread_local TraceState<T>* current = nullptr;
  return current;
}

/// Makes `state` the active trace for the lifetime of the guard.
template <class T>
class TraceScope {
 public:
  explicit TraceScope(TraceState<T>* state) : saved_(active_trace<T>()) { active_trace<T>() = state; }
  ~TraceScope() { active_trace<T>() = saved_; }
  TraceScope(const TraceScope&) = delete;
  TraceScope& operator=(const TraceScope&) = delete;

 private:
  TraceState<T>* saved_;
};

}  // namespace hybrid::trace
