#pragma once
// run_kernel(): runs an op's kernel outside a compiled plan (eager calls,
// constant folding, in-place updates). Its scratch comes from a buffer of the
// calling thread that grows to the largest need and is then reused, so eager
// ops put no large buffer on the stack and concurrent threads never share one.
#include <memory>

#include "op_table.hpp"

namespace hybrid {

namespace detail {
template <class T>
T* thread_scratch(int64_t elements) {
  thread_local std::unique_ptr<void, AlignedFree> buffer;
  thread_local int64_t capacity = 0;
  if (elements > capacity) {
    buffer = aligned_alloc_bytes(sizeof(T) * static_cast<size_t>(elements));
    capacity = elements;
  }
  return static_cast<T*>(buffer.get());
}
}  // namespace detail

template <class T>
void run_kernel(OpCode op, const T* const* in, const Shape* in_shape, int n_in, T* out, const Shape& out_shape,
                const Attrs& attrs) {
  const int64_t scratch = scratch_elements(op, attrs, in_shape, n_in, out_shape);
  T* buf = scratch ? detail::thread_scratch<T>(scratch) : nullptr;
  op_def(op).kernel<T>()(KernelArgs<T>{op, in, in_shape, n_in, out, out_shape, attrs, buf});
}

}  // namespace hybrid
