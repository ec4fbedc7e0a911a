#pragma once
// Creating tensors from shapes and values. Inside a traced forward a
// created tensor is a constant of the graph (so constant folding sees the
// whole computation, as in the chapter's fancy_func).
#include <algorithm>
#include <vector>

#include "../trace/trace_state.hpp"

namespace hybrid {

namespace detail {
/// `t` itself when eager; a constant symbol of the active trace otherwise.
template <class T>
TensorT<T> traced_if_tracing(TensorT<T> t) {
  trace::TraceState<T>* state = trace::active_trace<T>();
  if (!state) return t;
  const int id = state->graph.add_constant(std::move(t));
  return TensorAccess::symbol(state->shared_from_this(), id, state->graph.nodes[id].shape);
}

template <class T>
TensorT<T> filled(const Shape& shape, T value) {
  TensorT<T> t = TensorT<T>::empty(shape);
  std::fill(t.data(), t.data() + t.size(), value);
  return t;
}
}  // namespace detail

template <class T = float>
TensorT<T> full(const Shape& shape, T value) {
  return detail::traced_if_tracing(detail::filled(shape, value));
}

template <class T = float>
TensorT<T> zeros(const Shape& shape) { return full<T>(shape, T(0)); }

template <class T = float>
TensorT<T> ones(const Shape& shape) { return full<T>(shape, T(1)); }

/// 0, 1, …, n-1 as a 1-D tensor.
template <class T = float>
TensorT<T> arange(int64_t n) {
  if (n < 0) throw ShapeError("arange: negative length " + std::to_string(n));
  TensorT<T> t = TensorT<T>::empty(Shape{n});
  for (int64_t i = 0; i < n; ++i) t.data()[i] = static_cast<T>(i);
  return detail::traced_if_tracing(std::move(t));
}

template <class T = float>
TensorT<T> from_vector(const std::vector<T>& values, const Shape& shape) {
  const int64_t n = checked_numel(shape, "from_vector");
  if (n != static_cast<int64_t>(values.size()))
    throw ShapeError("from_vector: " + std::to_string(values.size()) + " values do not fill shape " +
                     to_string(shape) + " (" + std::to_string(n) + " elements)");
  TensorT<T> t = TensorT<T>::empty(shape);
  std::copy(values.begin(), values.end(), t.data());
  return detail::traced_if_tracing(std::move(t));
}

/// A 1-D tensor of the given values: from_vector({1, 2, 3}).
template <class T = float>
TensorT<T> from_vector(const std::vector<T>& values) {
  return from_vector<T>(values, Shape{static_cast<int64_t>(values.size())});
}

}  // namespace hybrid
