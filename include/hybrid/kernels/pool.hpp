#pragma once
// 2-D pooling over NCHW tensors: max_pool2d, avg_pool2d, global_avg_pool2d
// and the backward kernels of the first two. The shape rules have checked
// the window (it fits, padding at most half of it), so every window holds at
// least one real element and the kernels need no checks of their own. On the
// thread pool they split over (n, c) planes, each plane one chunk's.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "../ops/kernel_args.hpp"
#include "parallel.hpp"

namespace hybrid::kernels {

/// Extents and window of one pooling: input (n, c, h, w), output (n, c, ho, wo).
struct PoolGeometry {
  int64_t n, c, h, w, kh, kw, sh, sw, ph, pw, ho, wo;

  /// Output extent of a spatial axis, floor((extent + 2p - k) / s) + 1 (Gluon's
  /// rounding), for a window that fits (2p <= k <= extent + 2p).
  static int64_t pooled(int64_t extent, int64_t k, int64_t s, int64_t p) { return (extent - (k - 2 * p)) / s + 1; }

  PoolGeometry(const Shape& x, const Attrs& a)
      : n(x[0]), c(x[1]), h(x[2]), w(x[3]), kh(a.kernel[0]), kw(a.kernel[1]), sh(a.stride[0]), sw(a.stride[1]),
        ph(a.padding[0]), pw(a.padding[1]), ho(pooled(h, kh, sh, ph)), wo(pooled(w, kw, sw, pw)) {}

  /// The real rows [r0, r1) and columns [c0, c1) of output position (oh, ow).
  void window(int64_t oh, int64_t ow, int64_t& r0, int64_t& r1, int64_t& c0, int64_t& c1) const {
    r0 = oh * sh - ph;
    c0 = ow * sw - pw;
    r1 = std::min(r0 + kh, h);
    c1 = std::min(c0 + kw, w);
    r0 = std::max<int64_t>(r0, 0);
    c0 = std::max<int64_t>(c0, 0);
  }

  /// avg_pool2d's divisor for a window with real rows [r0, r1) and columns [c0, c1).
  int64_t divisor(const Attrs& a, int64_t r0, int64_t r1, int64_t c0, int64_t c1) const {
    return a.count_include_pad ? kh * kw : (r1 - r0) * (c1 - c0);
  }
};

namespace detail {
/// The offset in one (h, w) plane of the first largest element of a window,
/// as PyTorch: the first maximum in row-major order; a NaN wins and stays.
template <class T>
int64_t window_argmax(const T* plane, int64_t w, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
  int64_t best = r0 * w + c0;
  for (int64_t r = r0; r < r1 && !std::isnan(plane[best]); ++r)
    for (int64_t col = c0; col < c1; ++col) {
      const T v = plane[r * w + col];
      if (v > plane[best] || std::isnan(v)) {
        best = r * w + col;
        if (std::isnan(v)) break;
      }
    }
  return best;
}
}  // namespace detail

/// Calls fn(p) for every plane p in [0, planes), split over the pool.
template <class Fn>
void for_each_plane(int64_t planes, int64_t plane_cost, Fn fn) {
  parallel_for(0, planes, grain_for(plane_cost), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) fn(p);
  });
}

/// y[n, c, i, j] = max of the real elements of window (i, j); padding never wins.
template <class T>
void max_pool2d_kernel(const KernelArgs<T>& k) {
  const PoolGeometry g(k.in_shape[0], k.attrs);
  for_each_plane(g.n * g.c, std::max<int64_t>(1, g.ho * g.wo * g.kh * g.kw), [&](int64_t p) {
    const T* plane = k.in[0] + p * g.h * g.w;
    T* out = k.out + p * g.ho * g.wo;
    for (int64_t i = 0; i < g.ho; ++i)
      for (int64_t j = 0; j < g.wo; ++j) {
        int64_t r0, r1, c0, c1;
        g.window(i, j, r0, r1, c0, c1);
        out[i * g.wo + j] = plane[detail::window_argmax(plane, g.w, r0, r1, c0, c1)];
      }
  });
}

/// max_pool2d_backward(x, dy): each dy goes to the first maximum of its window.
template <class T>
void max_pool2d_backward_kernel(const KernelArgs<T>& k) {
  const PoolGeometry g(k.in_shape[0], k.attrs);
  for_each_plane(g.n * g.c, std::max<int64_t>(1, g.ho * g.wo * g.kh * g.kw), [&](int64_t p) {
    const T* plane = k.in[0] + p * g.h * g.w;
    const T* dy = k.in[1] + p * g.ho * g.wo;
    T* dx = k.out + p * g.h * g.w;
    std::fill(dx, dx + g.h * g.w, T(0));
    for (int64_t i = 0; i < g.ho; ++i)
      for (int64_t j = 0; j < g.wo; ++j) {
        int64_t r0, r1, c0, c1;
        g.window(i, j, r0, r1, c0, c1);
        dx[detail::window_argmax(plane, g.w, r0, r1, c0, c1)] += dy[i * g.wo + j];
      }
  });
}

/// y[n, c, i, j] = (Σ real elements of window (i, j)) / divisor.
template <class T>
void avg_pool2d_kernel(const KernelArgs<T>& k) {
  const PoolGeometry g(k.in_shape[0], k.attrs);
  for_each_plane(g.n * g.c, std::max<int64_t>(1, g.ho * g.wo * g.kh * g.kw), [&](int64_t p) {
    const T* plane = k.in[0] + p * g.h * g.w;
    T* out = k.out + p * g.ho * g.wo;
    for (int64_t i = 0; i < g.ho; ++i)
      for (int64_t j = 0; j < g.wo; ++j) {
        int64_t r0, r1, c0, c1;
        g.window(i, j, r0, r1, c0, c1);
        T s = 0;
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t col = c0; col < c1; ++col) s += plane[r * g.w + col];
        out[i * g.wo + j] = s / static_cast<T>(g.divisor(k.attrs, r0, r1, c0, c1));
      }
  });
}

/// avg_pool2d_backward(dy), attrs.shape = x's shape: each dy / divisor added
/// to every real element of its window.
template <class T>
void avg_pool2d_backward_kernel(const KernelArgs<T>& k) {
  const PoolGeometry g(k.out_shape, k.attrs);
  for_each_plane(g.n * g.c, std::max<int64_t>(1, g.ho * g.wo * g.kh * g.kw), [&](int64_t p) {
    const T* dy = k.in[0] + p * g.ho * g.wo;
    T* dx = k.out + p * g.h * g.w;
    std::fill(dx, dx + g.h * g.w, T(0));
    for (int64_t i = 0; i < g.ho; ++i)
      for (int64_t j = 0; j < g.wo; ++j) {
        int64_t r0, r1, c0, c1;
        g.window(i, j, r0, r1, c0, c1);
        const T share = dy[i * g.wo + j] / static_cast<T>(g.divisor(k.attrs, r0, r1, c0, c1));
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t col = c0; col < c1; ++col) dx[r * g.w + col] += share;
      }
  });
}

/// y[n, c, 0, 0] = mean of plane (n, c).
template <class T>
void global_avg_pool2d_kernel(const KernelArgs<T>& k) {
  const Shape& x = k.in_shape[0];
  const int64_t planes = x[0] * x[1], area = x[2] * x[3];
  for_each_plane(planes, std::max<int64_t>(1, area), [&](int64_t p) {
    const T* plane = k.in[0] + p * area;
    T s = 0;
    for (int64_t e = 0; e < area; ++e) s += plane[e];
    k.out[p] = s / static_cast<T>(area);
  });
}

}  // namespace hybrid::kernels
