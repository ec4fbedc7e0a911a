#pragma once
// embedding (a row of the weight per index) and its backward, a scatter-add
// of the output gradient into the rows. Every index is checked before any
// output is written, so a bad index leaves nothing half done.
#include <algorithm>

#include "indexing.hpp"

namespace hybrid::kernels {

/// y[p, :] = weight[indices[p], :], weight of shape (input_dim, output_dim).
template <class T>
void embedding_kernel(const KernelArgs<T>& k) {
  const int64_t count = numel(k.in_shape[0]), rows = k.in_shape[1][0], width = k.in_shape[1][1];
  const T* idx = k.in[0];
  for (int64_t p = 0; p < count; ++p) checked_index(idx[p], p, rows, "embedding");
  for (int64_t p = 0; p < count; ++p) {
    const T* row = k.in[1] + static_cast<int64_t>(idx[p]) * width;
    std::copy(row, row + width, k.out + p * width);
  }
}

/// embedding_backward(indices, dy): dweight[indices[p], :] += dy[p, :], of
/// shape (attrs.depth, output_dim); a repeated index accumulates.
template <class T>
void embedding_backward_kernel(const KernelArgs<T>& k) {
  const int64_t count = numel(k.in_shape[0]), rows = k.out_shape[0], width = k.out_shape[1];
  const T* idx = k.in[0];
  for (int64_t p = 0; p < count; ++p) checked_index(idx[p], p, rows, "embedding_backward");
  std::fill(k.out, k.out + rows * width, T(0));
  for (int64_t p = 0; p < count; ++p) {
    const T* dy = k.in[1] + p * width;
    T* dst = k.out + static_cast<int64_t>(idx[p]) * width;
    for (int64_t j = 0; j < width; ++j) dst[j] += dy[j];
  }
}

}  // namespace hybrid::kernels
