#pragma once
// Reductions (sum, mean, max) and the normalisations built on them (softmax,
// log_softmax). Each views its input as (outer, extent, inner) around the axis.
// On the thread pool they split over output elements (rows, column blocks),
// never across a sum, so results do not depend on the thread count.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>

#include "layout.hpp"
#include "parallel.hpp"

namespace hybrid::kernels {

/// Output columns per work item of a reduction over a middle axis: whole
/// cache lines, and enough items to split a (1, extent, inner) reduction.
inline constexpr int64_t kReduceColumns = 256;

enum class Reduction { sum, mean, max };

namespace detail {
/// The input's dims with adjacent dims of the same kind (reduced or kept)
/// merged and extent-1 dims dropped: reductions then see at most 8 groups.
struct ReduceGroups {
  int n = 0;
  int64_t extent[Shape::kMaxDims];
  bool reduced[Shape::kMaxDims];
  int reduced_groups = 0;
  int64_t reduced_count = 1;  // elements reduced into each output element
};

inline ReduceGroups reduce_groups(const Shape& in, const Shape& axes) {
  bool reduced[Shape::kMaxDims] = {};
  for (int d = 0; d < in.size(); ++d) reduced[d] = axes.empty();
  for (int64_t a : axes) reduced[a] = true;
  ReduceGroups g;
  for (int d = 0; d < in.size(); ++d) {
    if (reduced[d]) g.reduced_count *= in[d];
    if (in[d] == 1) continue;
    if (g.n > 0 && g.reduced[g.n - 1] == reduced[d]) {
      g.extent[g.n - 1] *= in[d];
    } else {
      g.extent[g.n] = in[d];
      g.reduced[g.n] = reduced[d];
      g.reduced_groups += reduced[d];
      ++g.n;
    }
  }
  return g;
}
}  // namespace detail

/// Reduces over attrs.axes (normalized, sorted; empty: every axis).
template <class T, Reduction R>
void reduce_kernel(const KernelArgs<T>& k) {
  const detail::ReduceGroups g = detail::reduce_groups(k.in_shape[0], k.attrs.axes);
  const T* x = k.in[0];
  T* y = k.out;
  const int64_t n_out = numel(k.out_shape);
  if (g.reduced_groups > 1 && g.reduced[g.n - 1] && g.reduced_count > 0) {
    // Several reduced groups, the innermost among them (a conv bias gradient:
    // N, H·W of NCHW): each output adds its elements in input order, a
    // contiguous row at a time, so outputs split over the pool and every sum
    // keeps the order of the single walk below.
    int64_t in_stride[Shape::kMaxDims];
    for (int64_t d = g.n - 1, acc = 1; d >= 0; --d) {
      in_stride[d] = acc;
      acc *= g.extent[d];
    }
    const int64_t inner = g.extent[g.n - 1];
    parallel_for(0, n_out, grain_for(g.reduced_count), [&](int64_t lo, int64_t hi) {
      for (int64_t o = lo; o < hi; ++o) {
        int64_t rem = o, base = 0;
        for (int d = g.n - 1; d >= 0; --d)
          if (!g.reduced[d]) {
            base += rem % g.extent[d] * in_stride[d];
            rem /= g.extent[d];
          }
        T r = R == Reduction::max ? -std::numeric_limits<T>::infinity() : T(0);
        int64_t idx[Shape::kMaxDims] = {};
        for (;;) {
          int64_t off = base;
          for (int d = 0; d < g.n - 1; ++d)
            if (g.reduced[d]) off += idx[d] * in_stride[d];
          const T* row = x + off;
          for (int64_t i = 0; i < inner; ++i) {
            if constexpr (R == Reduction::max) {
              const T v = row[i];
              if (!std::isnan(r) && (v > r || std::isnan(v))) r = v;  // NaN propagates
            } else {
              r += row[i];
            }
          }
          int d = g.n - 2;
          for (; d >= 0; --d) {
            if (!g.reduced[d]) continue;
            if (++idx[d] < g.extent[d]) break;
            idx[d] = 0;
          }
          if (d < 0) break;
        }
        y[o] = r;
      }
    });
  } else if (g.reduced_groups > 1) {
    // Several separate reduced groups, the innermost kept: walk the input once, adding each
    // element into its output through strides that are 0 along reduced groups.
    int64_t out_stride[Shape::kMaxDims];
    int64_t acc = 1;
    for (int d = g.n - 1; d >= 0; --d) {
      out_stride[d] = g.reduced[d] ? 0 : acc;
      if (!g.reduced[d]) acc *= g.extent[d];
    }
    std::fill(y, y + n_out, R == Reduction::max ? -std::numeric_limits<T>::infinity() : T(0));
    int64_t idx[Shape::kMaxDims] = {};
    const int64_t total = numel(k.in_shape[0]), inner = g.extent[g.n - 1], inner_stride = out_stride[g.n - 1];
    int64_t o = 0;
    for (int64_t start = 0; start < total; start += inner) {
      for (int64_t i = 0; i < inner; ++i) {
        T& dst = y[o + i * inner_stride];
        if constexpr (R == Reduction::max) {
          const T v = x[start + i];
          if (!std::isnan(dst) && (v > dst || std::isnan(v))) dst = v;  // NaN propagates
        } else {
          dst += x[start + i];
        }
      }
      for (int d = g.n - 2; d >= 0; --d) {
        o += out_stride[d];
        if (++idx[d] < g.extent[d]) break;
        o -= idx[d] * out_stride[d];
        idx[d] = 0;
      }
    }
  } else {
    // One reduced group: the input is (outer, extent, inner) around it.
    int64_t outer = 1, extent = 1, inner = 1;
    bool after = false;
    for (int d = 0; d < g.n; ++d) {
      if (g.reduced[d]) {
        extent = g.extent[d];
        after = true;
      } else {
        (after ? inner : outer) *= g.extent[d];
      }
    }
    if (g.reduced_count == 0) extent = 0;
    // Split over output elements only: every output's sum runs over the
    // extent in the same order whichever chunk computes it.
    const int64_t cols = std::max<int64_t>(1, std::min<int64_t>(inner, kReduceColumns)), col_blocks = (inner + cols - 1) / cols;
    auto reduce_block = [&](int64_t item) {
      const int64_t o = item / col_blocks, c0 = item % col_blocks * cols, nc = std::min(cols, inner - c0);
      const T* xo = x + o * extent * inner + c0;
      T* yo = y + o * inner + c0;
      if (inner == 1) {
        Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> row(xo, extent);
        if constexpr (R == Reduction::max) yo[0] = row.maxCoeff();
        else yo[0] = row.sum();
      } else {
        Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> acc(yo, nc);
        if (extent) acc = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(xo, nc);  // else: zeroed below
        for (int64_t e = 1; e < extent; ++e) {
          Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> r(xo + e * inner, nc);
          if constexpr (R == Reduction::max) acc = acc.max(r);
          else acc += r;
        }
        if (extent == 0) acc.setZero();
      }
    };
    parallel_for(0, outer * col_blocks, grain_for(std::max<int64_t>(extent, 1) * cols), [&](int64_t lo, int64_t hi) {
      for (int64_t item = lo; item < hi; ++item) reduce_block(item);
    });
  }
  if constexpr (R == Reduction::mean) {
    const int64_t count = g.reduced_count;
    const T scale = count ? T(1) / static_cast<T>(count) : std::numeric_limits<T>::quiet_NaN();
    for (int64_t i = 0; i < n_out; ++i) y[i] = count ? y[i] * scale : scale;
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
  // Split over rows (outer); each row's max and sum keep their order.
  parallel_for(0, outer, grain_for(4 * std::max<int64_t>(extent * inner, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t o = lo; o < hi; ++o) {
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
  });
}

}  // namespace hybrid::kernels
