#pragma once
// embedding (a row of the weight per index) and its backward, a scatter-add
// of the output gradient into the rows. Every index is checked, in order,
// before any output is written, so a bad index leaves nothing half done and
// the error names the first one whatever the thread count.
//
// On the thread pool the forward splits over output rows (copy_rows). The
// scatter-add zeroes the gradient in contiguous blocks, then splits over its
// rows: each chunk owns a block of rows, scans every index in order and adds
// the dy rows that land in its block, so every output row's sum runs in
// index order, as on one thread, with no atomics and no partial sums to
// combine.
#include <algorithm>

#include "indexing.hpp"

namespace hybrid::kernels {

/// y[p, :] = weight[indices[p], :], weight of shape (input_dim, output_dim).
template <class T>
void embedding_kernel(const KernelArgs<T>& k) {
  const int64_t count = numel(k.in_shape[0]), rows = k.in_shape[1][0], width = k.in_shape[1][1];
  const T* idx = k.in[0];
  for (int64_t p = 0; p < count; ++p) checked_index(idx[p], p, rows, "embedding");
  copy_rows(count, width, [&](int64_t p) { return k.in[1] + static_cast<int64_t>(idx[p]) * width; },
            [&](int64_t p) { return k.out + p * width; });
}

/// embedding_backward(indices, dy): dweight[indices[p], :] += dy[p, :], of
/// shape (attrs.depth, output_dim); a repeated index accumulates.
template <class T>
void embedding_backward_kernel(const KernelArgs<T>& k) {
  const int64_t count = numel(k.in_shape[0]), rows = k.out_shape[0], width = k.out_shape[1];
  const T* idx = k.in[0];
  for (int64_t p = 0; p < count; ++p) checked_index(idx[p], p, rows, "embedding_backward");
  // Zeroed first, in contiguous blocks: the table is often far larger than
  // the rows the indices touch.
  fill_parallel(k.out, rows * width, T(0));
  // Rows [r0, r1) of dweight: every dy row whose index falls in [r0, r1)
  // added, in index order.
  auto scatter = [&](int64_t r0, int64_t r1) {
    for (int64_t p = 0; p < count; ++p) {
      const int64_t r = static_cast<int64_t>(idx[p]);
      if (r < r0 || r >= r1) continue;
      const T* dy = k.in[1] + p * width;
      T* dst = k.out + r * width;
      for (int64_t j = 0; j < width; ++j) dst[j] += dy[j];
    }
  };
  // Blocks of rows. Work per row: its share of the adds; every chunk also
  // scans all `count` indices, so a chunk gets at least 4 · count of work.
  // (Blocks of 64 columns, which would balance indices crowding on a few
  // rows, made the scatter 1.35x slower on one thread: four short passes
  // over every dy row instead of one.)
  const int64_t row_cost = std::max<int64_t>(1, count * width / std::max<int64_t>(rows, 1));
  const int64_t row_grain = std::max(grain_for(row_cost), (4 * count + row_cost - 1) / row_cost);
  parallel_for(0, rows, row_grain, [&](int64_t lo, int64_t hi) { scatter(lo, hi); });
}

}  // namespace hybrid::kernels
