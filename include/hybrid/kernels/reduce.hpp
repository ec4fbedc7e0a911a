#pragma once
// Reductions (sum, mean, max) and the normalisations built on them (softmax,
// log_softmax). Each views its input as (outer, extent, inner) around the axis.
#include <Eigen/Core>
#include <cmath>
#include <limits>

#include "layout.hpp"

namespace hybrid::kernels {

enum class Reduction { sum, mean, max };

template <class T, Reduction R>
void reduce_kernel(const KernelArgs<T>& k) {
  const Shape& in = k.in_shape[0];
  int64_t outer = 1, extent = numel(in), inner = 1;
  if (k.attrs.axis != kAllAxes) {
    const int axis = static_cast<int>(k.attrs.axis);
    split_at_axis(in, axis, outer, inner);
    extent = in[axis];
  }
  const T* x = k.in[0];
  T* y = k.out;
  for (int64_t o = 0; o < outer; ++o) {
    const T* xo = x + o * extent * inner;
    T* yo = y + o * inner;
    if (inner == 1) {
      Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> row(xo, extent);
      if constexpr (R == Reduction::max) yo[0] = row.maxCoeff();
      else yo[0] = row.sum();
    } else {
      Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> acc(yo, inner);
      if (extent) acc = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(xo, inner);  // else: zeroed below
      for (int64_t e = 1; e < extent; ++e) {
        Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> r(xo + e * inner, inner);
        if constexpr (R == Reduction::max) acc = acc.max(r);
        else acc += r;
      }
      if (extent == 0) acc.setZero();
    }
    if constexpr (R == Reduction::mean) {
      const T scale = extent ? T(1) / static_cast<T>(extent) : std::numeric_limits<T>::quiet_NaN();
      for (int64_t i = 0; i < inner; ++i) yo[i] = extent ? yo[i] * scale : scale;
    }
  }
}

/// softmax (Log = false) or log_softmax (Log = true) along attrs.axis.
template <class T, bool Log>
void softmax_kernel(const KernelArgs<T>& k) {
  const Shape& in = k.in_shape[0];
  const int axis = static_cast<int>(k.attrs.axis);
  int64_t outer, inner;
  split_at_axis(in, axis, outer, inner);
  const int64_t extent = in[axis];
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const T* x = k.in[0] + o * extent * inner + i;
      T* y = k.out + o * extent * inner + i;
      T m = -std::numeric_limits<T>::infinity();
      for (int64_t e = 0; e < extent; ++e) m = std::max(m, x[e * inner]);
      T s = 0;
      for (int64_t e = 0; e < extent; ++e) s += std::exp(x[e * inner] - m);
      const T log_s = std::log(s);
      for (int64_t e = 0; e < extent; ++e) {
        const T z = x[e * inner] - m;
        y[e * inner] = Log ? z - log_s : std::exp(z) / s;
      }
    }
  }
}

}  // namespace hybrid::kernels
