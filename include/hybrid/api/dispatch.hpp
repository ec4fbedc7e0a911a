#pragma once
// apply(): the one path every tensor op takes. Eager inputs run the op's
// kernel now; if any input is a symbol, the op is appended to that trace's
// graph instead (eager inputs become constants).
#include <string>
#include <vector>

#include "../table/run_kernel.hpp"
#include "../trace/trace_state.hpp"
#include "tape.hpp"

namespace hybrid::ops {

namespace detail {

template <class T>
TensorT<T> record(const std::shared_ptr<trace::TraceState<T>>& state, OpCode op, const TensorT<T>* const* in,
                  int n, Attrs attrs) {
  if (state.get() != trace::active_trace<T>())
    throw TraceError(std::string(op_def(op).name) +
                     ": a symbol is used outside the trace that created it; traced tensors exist only "
                     "inside the hybridized forward that produced them");
  std::vector<int> ids(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i)
    ids[i] = in[i]->is_traced() ? hybrid::detail::TensorAccess::node(*in[i]) : state->constant(*in[i]);
  const int id = state->graph.add_op(op, std::move(ids), std::move(attrs));
  return hybrid::detail::TensorAccess::symbol(state, id, state->graph.nodes[id].shape);
}

template <class T>
TensorT<T> run_eager(OpCode op, const TensorT<T>* const* in, int n, Attrs& attrs) {
  constexpr int kInline = 8;
  Shape inline_shapes[kInline];
  const T* inline_ptrs[kInline];
  std::vector<Shape> many_shapes;
  std::vector<const T*> many_ptrs;
  Shape* shapes = inline_shapes;
  const T** ptrs = inline_ptrs;
  if (n > kInline) {
    many_shapes.resize(n);
    many_ptrs.resize(n);
    shapes = many_shapes.data();
    ptrs = many_ptrs.data();
  }
  for (int i = 0; i < n; ++i) {
    shapes[i] = in[i]->shape();
    ptrs[i] = in[i]->data();
  }
  const Shape out_shape = infer_shape(op, shapes, n, attrs);
  TensorT<T> out = TensorT<T>::empty(out_shape);
  run_kernel<T>(op, ptrs, shapes, n, out.data(), out_shape, attrs);
  return out;
}

}  // namespace detail

/// Applies `op` to `n` inputs: eagerly, or recorded into the inputs' trace.
/// Eagerly inside autograd::record(), the op also goes on the tape when an
/// input needs gradients.
template <class T>
TensorT<T> apply(OpCode op, const TensorT<T>* const* in, int n, Attrs attrs = {}) {
  const std::shared_ptr<trace::TraceState<T>>* state = nullptr;
  for (int i = 0; i < n; ++i) {
    if (!in[i]->defined())
      throw Error(std::string(op_def(op).name) + ": input " + std::to_string(i) + " is an undefined tensor");
    if (in[i]->is_traced()) {
      const auto& s = hybrid::detail::TensorAccess::trace(*in[i]);
      if (state && s != *state)
        throw TraceError(std::string(op_def(op).name) + ": inputs come from two different traces");
      state = &s;
    }
  }
  if (state) return detail::record(*state, op, in, n, std::move(attrs));
  TensorT<T> out = detail::run_eager(op, in, n, attrs);
  if (autograd::detail::should_record(in, n)) autograd::detail::record_op(op, in, n, attrs, out);
  return out;
}

template <class T>
TensorT<T> apply(OpCode op, std::initializer_list<const TensorT<T>*> in, Attrs attrs = {}) {
  return apply(op, in.begin(), static_cast<int>(in.size()), std::move(attrs));
}

}  // namespace hybrid::ops
