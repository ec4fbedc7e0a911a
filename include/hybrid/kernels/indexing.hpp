#pragma once
// Indexing: take (gather rows along an axis), pick (one entry per line, for
// sparse cross-entropy), one_hot, argmax. Indices are stored in T, as in
// Gluon; an index that is not an integer in range is an error, not a clamp,
// so a wrong label never turns silently into a wrong answer.
#include <cmath>
#include <string>

#include "../core/errors.hpp"
#include "layout.hpp"

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
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t m = 0; m < m_count; ++m) {
      const T* src = k.in[0] + (o * extent + static_cast<int64_t>(idx[m])) * inner;
      std::copy(src, src + inner, k.out + (o * m_count + m) * inner);
    }
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
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t p = o * inner + i;
      k.out[p] = k.in[0][(o * extent + checked_index(idx[p], p, extent, "pick")) * inner + i];
    }
}

/// one_hot: y[..., c] = on_value if c == indices[...] else off_value.
template <class T>
void one_hot_kernel(const KernelArgs<T>& k) {
  const int64_t n = numel(k.in_shape[0]), depth = k.attrs.depth;
  std::fill(k.out, k.out + n * depth, attr_value<T>(k.attrs.off_value));
  for (int64_t p = 0; p < n; ++p)
    k.out[p * depth + checked_index(k.in[0][p], p, depth, "one_hot")] = attr_value<T>(k.attrs.on_value);
}

/// argmax: the index of the first largest entry along attrs.axis (NaN counts as largest).
template <class T>
void argmax_kernel(const KernelArgs<T>& k) {
  const Shape& x = k.in_shape[0];
  const int axis = static_cast<int>(k.attrs.axis);
  int64_t outer, inner;
  split_at_axis(x, axis, outer, inner);
  const int64_t extent = x[axis];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const T* line = k.in[0] + o * extent * inner + i;
      int64_t best = 0;
      for (int64_t e = 1; e < extent && !std::isnan(line[best * inner]); ++e)
        if (line[e * inner] > line[best * inner] || std::isnan(line[e * inner])) best = e;
      k.out[o * inner + i] = static_cast<T>(best);
    }
}

}  // namespace hybrid::kernels
