#pragma once
// layer_norm: each line along one axis normalized with its mean and biased
// variance, then scaled by gamma and shifted by beta (Gluon's LayerNorm).
#include <cmath>

#include "layout.hpp"

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
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
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
}

}  // namespace hybrid::kernels
