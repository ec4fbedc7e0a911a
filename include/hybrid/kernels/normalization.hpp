#pragma once
// Normalizations along one axis:
//   layer_norm: each line along the axis normalized with its own mean and
//     biased variance, then scaled by gamma and shifted by beta (Gluon's
//     LayerNorm);
//   batch_norm with given statistics (its predict-mode meaning): each
//     channel along the axis normalized with the given mean and variance.
// On the thread pool layer_norm splits over lines (a line's mean and
// variance are summed by one chunk, in order) and batch_norm over
// (outer, channel) planes; each output is computed by one chunk with the
// arithmetic of a one-thread run. (Their gradients, and batch_norm's train
// mode, are compositions of elementwise ops and reductions.)
#include <cmath>

#include "layout.hpp"
#include "parallel.hpp"

namespace hybrid::kernels {

/// y = (x - mean) / √(var + epsilon) · gamma + beta along attrs.axis.
template <class T>
void layer_norm_kernel(const KernelArgs<T>& k) {
  const Shape& x = k.in_shape[0];
  const int axis = static_cast<int>(k.attrs.axis);
  int64_t outer, inner;
  split_at_axis(x, axis, outer, inner);
  const int64_t extent = x[axis];
  const T eps = attr_value<T>(k.attrs.epsilon);
  const T *gamma = k.in[1], *beta = k.in[2];
  // Line l = o · inner + i; three passes over its extent.
  parallel_for(0, outer * inner, grain_for(4 * std::max<int64_t>(extent, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t l = lo; l < hi; ++l) {
      const int64_t o = l / inner, i = l % inner;
      const T* line = k.in[0] + o * extent * inner + i;
      T* out = k.out + o * extent * inner + i;
      T mean = 0, var = 0;
      for (int64_t e = 0; e < extent; ++e) mean += line[e * inner];
      mean /= static_cast<T>(extent);
      for (int64_t e = 0; e < extent; ++e) var += (line[e * inner] - mean) * (line[e * inner] - mean);
      var /= static_cast<T>(extent);
      const T inv_std = T(1) / std::sqrt(var + eps);
      for (int64_t e = 0; e < extent; ++e) out[e * inner] = (line[e * inner] - mean) * inv_std * gamma[e] + beta[e];
    }
  });
}

/// batch_norm's scratch: a scale and a shift per channel (gamma's extent).
inline int64_t batch_norm_scratch(const Attrs&, const Shape* in, int, const Shape&) { return 2 * numel(in[1]); }

/// Inputs x, gamma, beta, mean, var; the channel axis is attrs.axis.
template <class T>
void batch_norm_kernel(const KernelArgs<T>& k) {
  const Shape& s = k.in_shape[0];
  const int axis = static_cast<int>(k.attrs.axis);
  int64_t outer, inner;
  split_at_axis(s, axis, outer, inner);
  const int64_t channels = s[axis];
  const T *x = k.in[0], *gamma = k.in[1], *beta = k.in[2], *mean = k.in[3], *var = k.in[4];
  const T eps = static_cast<T>(k.attrs.epsilon);
  // One scale and shift per channel, so the inner loop is a fused multiply-add.
  T *scale = k.scratch, *shift = k.scratch + channels;
  for (int64_t c = 0; c < channels; ++c) {
    scale[c] = gamma[c] / std::sqrt(var[c] + eps);
    shift[c] = beta[c] - mean[c] * scale[c];
  }
  // Plane p = o · channels + c: one multiply-add per element.
  parallel_for(0, outer * channels, grain_for(2 * std::max<int64_t>(inner, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      const T a = scale[p % channels], b = shift[p % channels];
      const T* xi = x + p * inner;
      T* yi = k.out + p * inner;
      for (int64_t i = 0; i < inner; ++i) yi[i] = xi[i] * a + b;
    }
  });
}

}  // namespace hybrid::kernels
