#pragma once
// Elementwise kernels. Each op is a tile function over contiguous arrays of
// equal length; one driver handles broadcasting by gathering tiles, and runs
// any chain of tile functions (a fused group) tile by tile, so each input is
// read once and the output written once while intermediates stay in L1.
// On the thread pool the tiles split into chunks, each with its own tile
// buffers; a tile's arithmetic does not depend on which chunk runs it.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstring>

#include "../ops/kernel_args.hpp"
#include "parallel.hpp"

namespace hybrid::kernels {

/// out[0..n) = f(args[0][0..n), args[1][0..n), ...); `a` is the node's attributes.
template <class T>
using TileFn = void (*)(const T* const* args, T* out, int64_t n, const Attrs& a);

template <class T>
using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T>
using ConstArrayMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

// The tile functions, one per elementwise op (math in the op table). `at`
// holds the node's attributes.
#define HYBRID_UNARY_TILE(NAME, EXPR)                                       \
  template <class T>                                                        \
  void NAME(const T* const* in, T* out, int64_t n, const Attrs& at) {       \
    (void)at;                                                               \
    ConstArrayMap<T> a(in[0], n);                                           \
    ArrayMap<T>(out, n) = EXPR;                                             \
  }
#define HYBRID_BINARY_TILE(NAME, EXPR)                                      \
  template <class T>                                                        \
  void NAME(const T* const* in, T* out, int64_t n, const Attrs&) {          \
    ConstArrayMap<T> a(in[0], n), b(in[1], n);                              \
    ArrayMap<T>(out, n) = EXPR;                                             \
  }

HYBRID_UNARY_TILE(identity_tile, a)
HYBRID_UNARY_TILE(neg_tile, -a)
HYBRID_UNARY_TILE(exp_tile, a.exp())
HYBRID_UNARY_TILE(log_tile, a.log())
HYBRID_UNARY_TILE(abs_tile, a.abs())
HYBRID_UNARY_TILE(tanh_tile, a.tanh())
HYBRID_UNARY_TILE(sigmoid_tile, T(1) / (T(1) + (-a).exp()))
HYBRID_UNARY_TILE(relu_tile, a.max(T(0)))
// log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|).
HYBRID_UNARY_TILE(softrelu_tile, a.max(T(0)) + (-a.abs()).exp().log1p())
HYBRID_UNARY_TILE(pow_tile, a.pow(attr_value<T>(at.scalar)))
HYBRID_UNARY_TILE(square_tile, a * a)
HYBRID_UNARY_TILE(log1p_tile, a.log1p())
HYBRID_UNARY_TILE(leaky_relu_tile, (a > T(0)).select(a, a * attr_value<T>(at.alpha)))
HYBRID_UNARY_TILE(clip_tile, a.max(attr_value<T>(at.a_min)).min(attr_value<T>(at.a_max)))
HYBRID_BINARY_TILE(add_tile, a + b)
HYBRID_BINARY_TILE(sub_tile, a - b)
HYBRID_BINARY_TILE(mul_tile, a * b)
HYBRID_BINARY_TILE(div_tile, a / b)
HYBRID_BINARY_TILE(maximum_tile, a.max(b))
HYBRID_BINARY_TILE(minimum_tile, a.min(b))
HYBRID_BINARY_TILE(greater_tile, (a > b).template cast<T>())
HYBRID_BINARY_TILE(less_tile, (a < b).template cast<T>())
HYBRID_BINARY_TILE(equal_tile, (a == b).template cast<T>())
#undef HYBRID_UNARY_TILE
#undef HYBRID_BINARY_TILE

// Square roots through std::sqrt, which compilers vectorise exactly: Eigen's
// float sqrt under its default EIGEN_FAST_MATH is approximate (sqrt(inf)
// gives NaN in whole packets, and results differ from std::sqrt in the last bit).
template <class T>
void sqrt_tile(const T* const* in, T* out, int64_t n, const Attrs&) {
  const T* x = in[0];
  for (int64_t i = 0; i < n; ++i) out[i] = std::sqrt(x[i]);
}
template <class T>
void rsqrt_tile(const T* const* in, T* out, int64_t n, const Attrs&) {
  const T* x = in[0];
  for (int64_t i = 0; i < n; ++i) out[i] = T(1) / std::sqrt(x[i]);
}

// GELU (exact erf form) and SiLU take their limits at -inf (0, not the NaN
// of -inf · 0).
template <class T>
void gelu_tile(const T* const* in, T* out, int64_t n, const Attrs&) {
  const T* x = in[0];
  const T inv_sqrt2 = static_cast<T>(0.70710678118654752440);
  for (int64_t i = 0; i < n; ++i)
    out[i] = std::isinf(x[i]) && x[i] < 0 ? T(0) : T(0.5) * x[i] * (T(1) + std::erf(x[i] * inv_sqrt2));
}
template <class T>
void silu_tile(const T* const* in, T* out, int64_t n, const Attrs&) {
  const T* x = in[0];
  for (int64_t i = 0; i < n; ++i) out[i] = std::isinf(x[i]) && x[i] < 0 ? T(0) : x[i] / (T(1) + std::exp(-x[i]));
}

/// The error function through std::erf (Eigen's erf is in its unsupported modules).
template <class T>
void erf_tile(const T* const* in, T* out, int64_t n, const Attrs&) {
  const T* x = in[0];
  for (int64_t i = 0; i < n; ++i) out[i] = std::erf(x[i]);
}

template <class T>
void where_tile(const T* const* in, T* out, int64_t n, const Attrs&) {
  ConstArrayMap<T> c(in[0], n), a(in[1], n), b(in[2], n);
  ArrayMap<T>(out, n) = (c != T(0)).select(a, b);
}

/// One step of an elementwise program: out_slot = fn(slots[arg[0..arity)]).
template <class T>
struct TileStep {
  TileFn<T> fn;
  int arity;
  int arg[3];
  const Attrs* attrs;
};

/// Limits of one program: slots are inputs followed by step results.
inline constexpr int kMaxProgramSlots = 32;
inline constexpr int64_t kTile = 512;

namespace detail {

/// How one input is read for the output's index space.
template <class T>
struct InputView {
  enum Mode { kFull, kScalar, kGather } mode;
  const T* data;
  int64_t stride[Shape::kMaxDims];  // per output dim; 0 where broadcast
};

template <class T>
InputView<T> make_view(const T* data, const Shape& in, const Shape& out) {
  InputView<T> v{};
  v.data = data;
  const int64_t n = numel(in);
  if (n == 1) {
    v.mode = InputView<T>::kScalar;
    return v;
  }
  const int off = out.size() - in.size();
  bool same = n == numel(out);
  int64_t acc = 1;
  for (int d = out.size() - 1; d >= 0; --d) {
    const int id = d - off;
    const int64_t ext = id >= 0 ? in[id] : 1;
    v.stride[d] = ext == 1 ? 0 : acc;
    if (ext != out[d]) same = false;
    acc *= ext;
  }
  v.mode = same ? InputView<T>::kFull : InputView<T>::kGather;
  return v;
}

/// Copies elements [start, start + n) of the broadcast input into dst.
template <class T>
void gather(const InputView<T>& v, const Shape& out, int64_t start, int64_t n, T* dst) {
  const int nd = out.size();
  int64_t idx[Shape::kMaxDims];
  int64_t rem = start, src = 0;
  for (int d = nd - 1; d >= 0; --d) {
    idx[d] = rem % out[d];
    rem /= out[d];
    src += idx[d] * v.stride[d];
  }
  const int64_t last = out[nd - 1], last_stride = v.stride[nd - 1];
  while (n > 0) {
    const int64_t run = std::min(n, last - idx[nd - 1]);
    if (last_stride == 0)
      std::fill(dst, dst + run, v.data[src]);
    else
      std::memcpy(dst, v.data + src, sizeof(T) * static_cast<size_t>(run));
    dst += run;
    n -= run;
    // Advance the index by `run` along the last dim, carrying into the others.
    src += run * last_stride;
    idx[nd - 1] += run;
    for (int d = nd - 1; d > 0 && idx[d] == out[d]; --d) {
      src -= idx[d] * v.stride[d];
      idx[d] = 0;
      ++idx[d - 1];
      src += v.stride[d - 1];
    }
  }
}

}  // namespace detail

/// Elements of scratch run_tiles needs for `n_in` inputs and `n_steps` steps.
inline int64_t tile_scratch(int n_in, int n_steps) { return static_cast<int64_t>(n_in + n_steps) * kTile; }

/// Runs `steps` over the output: slot i < n_in is input i (broadcast to
/// out_shape), slot n_in + s is the result of step s; the last step's result
/// is the output. Tiles live in `scratch` (tile_scratch(n_in, n_steps)
/// elements, owned by the caller's run), so nothing is allocated.
template <class T>
void run_tiles(const TileStep<T>* steps, int n_steps, const T* const* in, const Shape* in_shape,
               int n_in, T* out, const Shape& out_shape, T* scratch) {
  const int64_t total = numel(out_shape);
  if (total == 0 || n_steps == 0) return;
  detail::InputView<T> views[kMaxProgramSlots];
  for (int i = 0; i < n_in; ++i) views[i] = detail::make_view(in[i], in_shape[i], out_shape);
  // Tiles [t0, t1) with tile buffers in `buffers` (tile_scratch(n_in, n_steps) elements).
  auto run_range = [&](int64_t t0, int64_t t1, T* buffers) {
    auto buf = [&](int slot) { return buffers + static_cast<int64_t>(slot) * kTile; };
    const T* slot[kMaxProgramSlots];
    for (int i = 0; i < n_in; ++i)
      if (views[i].mode == detail::InputView<T>::kScalar) {
        std::fill(buf(i), buf(i) + kTile, in[i][0]);
        slot[i] = buf(i);
      }
    for (int64_t start = t0 * kTile; start < std::min(total, t1 * kTile); start += kTile) {
      const int64_t n = std::min(kTile, total - start);
      for (int i = 0; i < n_in; ++i) {
        if (views[i].mode == detail::InputView<T>::kFull) {
          slot[i] = in[i] + start;
        } else if (views[i].mode == detail::InputView<T>::kGather) {
          detail::gather(views[i], out_shape, start, n, buf(i));
          slot[i] = buf(i);
        }
      }
      for (int s = 0; s < n_steps; ++s) {
        const TileStep<T>& st = steps[s];
        const T* args[3];
        for (int a = 0; a < st.arity; ++a) args[a] = slot[st.arg[a]];
        T* dst = s + 1 == n_steps ? out + start : buf(n_in + s);
        st.fn(args, dst, n, *st.attrs);
        slot[n_in + s] = dst;
      }
    }
  };
  const int64_t tiles = (total + kTile - 1) / kTile;
  parallel_for(0, tiles, grain_for(kTile * (n_in + n_steps)), [&](int64_t lo, int64_t hi) {
    run_range(lo, hi, chunk_scratch(scratch, tile_scratch(n_in, n_steps)));
  });
}

}  // namespace hybrid::kernels
