#pragma once
// The calling convention shared by every kernel: raw pointers and shapes, so
// the same kernel runs eager tensors and the executor's arena buffers.
#include "../core/shape.hpp"
#include "attrs.hpp"
#include "op_code.hpp"

namespace hybrid {

template <class T>
struct KernelArgs {
  OpCode op;
  const T* const* in;      // n_in input buffers, contiguous row-major
  const Shape* in_shape;   // their shapes
  int n_in;
  T* out;                  // output buffer of numel(out_shape) elements
  const Shape& out_shape;
  const Attrs& attrs;
  /// Working memory owned by the run (the executor's context, or the calling
  /// thread for eager ops): as many T as the op's scratch rule asks, 64-byte
  /// aligned. Kernels never put large buffers on the stack.
  T* scratch = nullptr;
};

template <class T>
using KernelFn = void (*)(const KernelArgs<T>&);

}  // namespace hybrid
