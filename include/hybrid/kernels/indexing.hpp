#pragma once
// Indexing: take (gather rows along an axis), pick (one entry per line, for
// sparse cross-entropy), one_hot, argmax. Indices are stored in T, as in
// Gluon; an index that is not an integer in range is an error, not a clamp,
// so a wrong label never turns silently into a wrong answer. Every index is
// checked, in order, before any output is written, so the error names the
// first bad index whatever the thread count; the writes then split over the
// output on the thread pool (rows for take, lines for pick and argmax, one
// depth-long row per index for one_hot).
#include <cmath>
#include <string>

#include "../core/errors.hpp"
#include "layout.hpp"
#include "parallel.hpp"

namespace hybrid::kernels {

/// The integer value of index `v` (at `position` of the index tensor) in [0, extent).
template <class T>
int64_t checked_index(T v, int64_t position, int64_t extent, const char* op) {
  if (!(v >= T(0) && v < static_cast<T>(extent)) || std::floor(v) != v)
    throw Error(std::string(op) + ": index " + std::to_string(static_cast<double>(v)) + " at position " +
                std::to_string(position) + " is not an integer in [0, " + std::to_string(extent) + ")");
  return static_cast<int64_t>(v);
}

/// take: y[o, m, i] = x[o, indices[m], i] around attrs.axis.
template <class T>
void take_kernel(const KernelArgs<T>& k) {
  const Shape& x = k.in_shape[0];
  const int axis = static_cast<int>(k.attrs.axis);
  int64_t outer, inner;
  split_at_axis(x, axis, outer, inner);
  const int64_t extent = x[axis], m_count = numel(k.in_shape[1]);
  const T* idx = k.in[1];
  for (int64_t m = 0; m < m_count; ++m) checked_index(idx[m], m, extent, "take");
  if (m_count == 0) return;
  // Output row r = o · m_count + m.
  copy_rows(outer * m_count, inner,
            [&](int64_t r) { return k.in[0] + (r / m_count * extent + static_cast<int64_t>(idx[r % m_count])) * inner; },
            [&](int64_t r) { return k.out + r * inner; });
}

/// pick: y[o, i] = x[o, index[o, i], i] around attrs.axis.
template <class T>
void pick_kernel(const KernelArgs<T>& k) {
  const Shape& x = k.in_shape[0];
  const int axis = static_cast<int>(k.attrs.axis);
  int64_t outer, inner;
  split_at_axis(x, axis, outer, inner);
  const int64_t extent = x[axis];
  const T* idx = k.in[1];
  const int64_t n = outer * inner;
  for (int64_t p = 0; p < n; ++p) checked_index(idx[p], p, extent, "pick");
  parallel_for(0, n, kChunkCost, [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p)
      k.out[p] = k.in[0][(p / inner * extent + static_cast<int64_t>(idx[p])) * inner + p % inner];
  });
}

/// one_hot: y[..., c] = on_value if c == indices[...] else off_value.
template <class T>
void one_hot_kernel(const KernelArgs<T>& k) {
  const int64_t n = numel(k.in_shape[0]), depth = k.attrs.depth;
  for (int64_t p = 0; p < n; ++p) checked_index(k.in[0][p], p, depth, "one_hot");
  const T on = attr_value<T>(k.attrs.on_value), off = attr_value<T>(k.attrs.off_value);
  parallel_for(0, n, grain_for(std::max<int64_t>(depth, 1)), [&](int64_t lo, int64_t hi) {
    std::fill(k.out + lo * depth, k.out + hi * depth, off);
    for (int64_t p = lo; p < hi; ++p) k.out[p * depth + static_cast<int64_t>(k.in[0][p])] = on;
  });
}

/// argmax: the index of the first largest entry along attrs.axis (NaN counts as largest).
template <class T>
void argmax_kernel(const KernelArgs<T>& k) {
  const Shape& x = k.in_shape[0];
  const int axis = static_cast<int>(k.attrs.axis);
  int64_t outer, inner;
  split_at_axis(x, axis, outer, inner);
  const int64_t extent = x[axis];
  // Line l = o · inner + i.
  parallel_for(0, outer * inner, grain_for(std::max<int64_t>(extent, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t l = lo; l < hi; ++l) {
      const T* line = k.in[0] + l / inner * extent * inner + l % inner;
      int64_t best = 0;
      for (int64_t e = 1; e < extent && !std::isnan(line[best * inner]); ++e)
        if (line[e * inner] > line[best * inner] || std::isnan(line[e * inner])) best = e;
      k.out[l] = static_cast<T>(best);
    }
  });
}

}  // namespace hybrid::kernels
