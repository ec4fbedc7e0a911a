#pragma once
// Batch normalization with given statistics (its predict-mode meaning):
// y = (x - mean) · gamma / √(var + epsilon) + beta along one channel axis.
#include <cmath>

#include "../ops/kernel_args.hpp"

namespace hybrid::kernels {

/// Inputs x, gamma, beta, mean, var; the channel axis is attrs.axis.
template <class T>
void batch_norm_kernel(const KernelArgs<T>& k) {
  const Shape& s = k.in_shape[0];
  const int axis = static_cast<int>(k.attrs.axis);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= s[d];
  for (int d = axis + 1; d < s.size(); ++d) inner *= s[d];
  const int64_t channels = s[axis];
  const T *x = k.in[0], *gamma = k.in[1], *beta = k.in[2], *mean = k.in[3], *var = k.in[4];
  const T eps = static_cast<T>(k.attrs.epsilon);
  for (int64_t c = 0; c < channels; ++c) {
    // One scale and shift per channel, so the inner loop is a fused multiply-add.
    const T scale = gamma[c] / std::sqrt(var[c] + eps);
    const T shift = beta[c] - mean[c] * scale;
    for (int64_t o = 0; o < outer; ++o) {
      const T* xi = x + (o * channels + c) * inner;
      T* yi = k.out + (o * channels + c) * inner;
      for (int64_t i = 0; i < inner; ++i) yi[i] = xi[i] * scale + shift;
    }
  }
}

}  // namespace hybrid::kernels
