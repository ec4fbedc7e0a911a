#pragma once
// Data movement: reshape (a copy), transpose (any permutation), concat,
// slice, stack, pad. On the thread pool they split over the output: copies
// over blocks of at least kChunkCost elements (copy_rows), transpose over
// output rows. Nothing is summed, so every partition gives the same bits.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "../ops/kernel_args.hpp"
#include "parallel.hpp"

namespace hybrid::kernels {

/// Copies `rows` rows of `len` elements, row r from src(r) to dst(r) (the
/// functions return pointers), over the pool: the rows·len elements are cut
/// into blocks of at least kChunkCost, whatever the row length, so a few long
/// rows split as well as many short ones.
template <class Src, class Dst>
void copy_rows(int64_t rows, int64_t len, Src src, Dst dst) {
  if (rows <= 0 || len <= 0) return;
  parallel_for(0, rows * len, kChunkCost, [&](int64_t lo, int64_t hi) {
    int64_t r = lo / len, off = lo % len;
    while (lo < hi) {
      const int64_t n = std::min(len - off, hi - lo);
      const auto* s = src(r) + off;
      std::copy(s, s + n, dst(r) + off);
      lo += n;
      ++r;
      off = 0;
    }
  });
}

/// out[0..n) = value, over the pool in blocks of at least kChunkCost. Zero
/// goes through memset, whose stores skip reading the lines first: a fill
/// loop with a run-time value made a 10 MB gradient's zeroing 1.3x slower.
template <class T>
void fill_parallel(T* out, int64_t n, T value) {
  const bool zero = value == T(0) && !std::signbit(value);
  parallel_for(0, n, kChunkCost, [&](int64_t lo, int64_t hi) {
    if (zero) std::memset(out + lo, 0, sizeof(T) * static_cast<size_t>(hi - lo));
    else std::fill(out + lo, out + hi, value);
  });
}

template <class T>
void copy_kernel(const KernelArgs<T>& k) {
  const int64_t n = numel(k.out_shape);
  if (n && k.out != k.in[0])
    copy_rows(1, n, [&](int64_t) { return k.in[0]; }, [&](int64_t) { return k.out; });
}

/// The permutation an op applies: attrs.perm, or all axes reversed when empty.
inline Shape resolved_perm(const Attrs& a, int ndim) {
  if (!a.perm.empty()) return a.perm;
  Shape p;
  for (int i = ndim - 1; i >= 0; --i) p.push_back(i);
  return p;
}

template <class T>
void transpose_kernel(const KernelArgs<T>& k) {
  const Shape& in = k.in_shape[0];
  const Shape& out = k.out_shape;
  const int nd = in.size();
  const int64_t total = numel(out);
  if (total == 0) return;
  if (nd <= 1) {
    std::memcpy(k.out, k.in[0], sizeof(T) * static_cast<size_t>(total));
    return;
  }
  const Shape perm = resolved_perm(k.attrs, nd);
  const Shape in_strides = contiguous_strides(in);
  int64_t src_stride[Shape::kMaxDims];  // input stride of each output dim
  for (int d = 0; d < nd; ++d) src_stride[d] = in_strides[static_cast<int>(perm[d])];
  const int64_t inner = out[nd - 1], inner_stride = src_stride[nd - 1];
  // Output rows [lo, hi) (rows of the last output axis): each chunk starts
  // its source index from its first row, then steps it as the serial walk
  // does. Rows go in groups of up to kRows, copied kCols columns at a time:
  // when neighbouring rows read neighbouring input elements (a 2-D
  // transpose) each input cache line then serves the whole group.
  constexpr int64_t kRows = 16, kCols = 64;
  parallel_for(0, total / inner, grain_for(2 * inner), [&](int64_t lo, int64_t hi) {
    int64_t idx[Shape::kMaxDims] = {};
    int64_t src = 0;
    int64_t rem = lo;
    for (int d = nd - 2; d >= 0; --d) {
      idx[d] = rem % out[d];
      rem /= out[d];
      src += idx[d] * src_stride[d];
    }
    int64_t group_src[kRows];
    for (int64_t r0 = lo; r0 < hi; r0 += kRows) {
      const int64_t rows = std::min(kRows, hi - r0);
      for (int64_t g = 0; g < rows; ++g) {
        group_src[g] = src;
        for (int d = nd - 2; d >= 0; --d) {
          src += src_stride[d];
          if (++idx[d] < out[d]) break;
          src -= idx[d] * src_stride[d];
          idx[d] = 0;
        }
      }
      for (int64_t c0 = 0; c0 < inner; c0 += kCols) {
        const int64_t c1 = std::min(inner, c0 + kCols);
        for (int64_t g = 0; g < rows; ++g) {
          T* dst = k.out + (r0 + g) * inner;
          const T* s = k.in[0] + group_src[g];
          for (int64_t i = c0; i < c1; ++i) dst[i] = s[i * inner_stride];
        }
      }
    }
  });
}

/// Splits a shape around `axis` into (outer, extent, inner) element counts.
inline void split_at_axis(const Shape& s, int axis, int64_t& outer, int64_t& inner) {
  outer = 1;
  inner = 1;
  for (int d = 0; d < axis; ++d) outer *= s[d];
  for (int d = axis + 1; d < s.size(); ++d) inner *= s[d];
}

template <class T>
void concat_kernel(const KernelArgs<T>& k) {
  const int axis = static_cast<int>(k.attrs.axis);
  int64_t outer, inner;
  split_at_axis(k.out_shape, axis, outer, inner);
  const int64_t out_row = k.out_shape[axis] * inner;
  int64_t col = 0;
  for (int i = 0; i < k.n_in; ++i) {
    const int64_t row = k.in_shape[i][axis] * inner;
    copy_rows(outer, row, [&](int64_t o) { return k.in[i] + o * row; },
              [&](int64_t o) { return k.out + o * out_row + col; });
    col += row;
  }
}

/// Python-style bounds: negative counts from the end, clamped into [0, extent].
inline void slice_bounds(int64_t begin, int64_t end, int64_t extent, int64_t& b, int64_t& e) {
  b = begin < 0 ? begin + extent : begin;
  e = end < 0 ? end + extent : end;
  b = std::clamp<int64_t>(b, 0, extent);
  e = std::clamp<int64_t>(e, b, extent);
}

template <class T>
void slice_kernel(const KernelArgs<T>& k) {
  const Shape& in = k.in_shape[0];
  const int axis = static_cast<int>(k.attrs.axis);
  int64_t outer, inner, b, e;
  split_at_axis(in, axis, outer, inner);
  slice_bounds(k.attrs.begin, k.attrs.end, in[axis], b, e);
  const int64_t in_row = in[axis] * inner, out_row = (e - b) * inner;
  copy_rows(outer, out_row, [&](int64_t o) { return k.in[0] + o * in_row + b * inner; },
            [&](int64_t o) { return k.out + o * out_row; });
}

/// stack: y[o, j, i] = input_j[o, i] with the new axis j at attrs.axis.
template <class T>
void stack_kernel(const KernelArgs<T>& k) {
  const Shape& in = k.in_shape[0];
  const int axis = static_cast<int>(k.attrs.axis);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= in[d];
  for (int d = axis; d < in.size(); ++d) inner *= in[d];
  for (int j = 0; j < k.n_in; ++j)
    copy_rows(outer, inner, [&](int64_t o) { return k.in[j] + o * inner; },
              [&](int64_t o) { return k.out + (o * k.n_in + j) * inner; });
}

/// pad (constant mode): the output is filled with constant_value, then each
/// input row (last axis) is copied to its place shifted by pad_before.
template <class T>
void pad_kernel(const KernelArgs<T>& k) {
  const Shape& in = k.in_shape[0];
  const Shape& out = k.out_shape;
  const int nd = in.size();
  fill_parallel(k.out, numel(out), attr_value<T>(k.attrs.constant_value));
  const int64_t total = numel(in);
  if (total == 0) return;
  if (nd == 0) {
    k.out[0] = k.in[0][0];
    return;
  }
  const Shape out_strides = contiguous_strides(out);
  int64_t base = 0;  // output offset of the first input element
  for (int d = 0; d < nd; ++d) base += k.attrs.pad_before[d] * out_strides[d];
  const int64_t row = in[nd - 1];
  // Input row r lands at base + Σ_d idx_d(r) · out_strides[d] over the leading axes.
  copy_rows(total / row, row, [&](int64_t r) { return k.in[0] + r * row; },
            [&](int64_t r) {
              int64_t dst = base;
              for (int d = nd - 2; d >= 0; --d) {
                dst += r % in[d] * out_strides[d];
                r /= in[d];
              }
              return k.out + dst;
            });
}

}  // namespace hybrid::kernels
