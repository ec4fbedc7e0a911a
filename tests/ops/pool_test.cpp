// Pooling against naive loops over every tap of every window: max_pool2d,
// avg_pool2d (both divisors), global_avg_pool2d and the backward kernels of
// the first two, in float and double, for windows 1-3, strides 1-3, padding
// 0-1, batches 1 and 3, square and non-square inputs; ties (the first
// maximum wins, as PyTorch), NaN, and every error path.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "../reference.hpp"

using Catch::Contains;
using hybrid::Attrs;
using hybrid::OpCode;
using hybrid::Shape;
using hybrid::ShapeError;
using hybrid::TensorT;
using ref::Array;
using ref::Dims;

namespace {

struct Pool {
  int64_t kh, kw, sh, sw, ph, pw;
};

int64_t pooled(int64_t extent, int64_t k, int64_t s, int64_t p) { return (extent + 2 * p - k) / s + 1; }

/// Calls f(position in x, or -1 for padding) for each tap of window (i, j),
/// row-major, of plane `plane` of an (n, c, h, w) input.
template <class F>
void each_tap(const Dims& x, const Pool& p, int64_t plane, int64_t i, int64_t j, F f) {
  for (int64_t a = 0; a < p.kh; ++a)
    for (int64_t b = 0; b < p.kw; ++b) {
      const int64_t r = i * p.sh - p.ph + a, c = j * p.sw - p.pw + b;
      const bool real = r >= 0 && r < x[2] && c >= 0 && c < x[3];
      f(real ? (plane * x[2] + r) * x[3] + c : -1);
    }
}

enum class Kind { max, avg_with_pad, avg_real };

/// The pooled output and, for dy, the input gradient.
struct Reference {
  Array y, dx;
};

Reference reference_pool(const Array& x, const Pool& p, Kind kind, const Array& dy) {
  const Dims& s = x.shape;
  const int64_t ho = pooled(s[2], p.kh, p.sh, p.ph), wo = pooled(s[3], p.kw, p.sw, p.pw);
  Reference out{Array{ref::Values(static_cast<size_t>(s[0] * s[1] * ho * wo)), {s[0], s[1], ho, wo}},
                Array{ref::Values(x.v.size(), 0.0), s}};
  for (int64_t plane = 0; plane < s[0] * s[1]; ++plane)
    for (int64_t i = 0; i < ho; ++i)
      for (int64_t j = 0; j < wo; ++j) {
        const size_t o = static_cast<size_t>((plane * ho + i) * wo + j);
        int64_t best = -1, real = 0;
        double sum = 0;
        each_tap(s, p, plane, i, j, [&](int64_t at) {
          if (at < 0) return;
          ++real;
          sum += x.v[at];
          if (best < 0 || x.v[at] > x.v[best]) best = at;  // strictly larger: the first maximum stays
        });
        if (kind == Kind::max) {
          out.y.v[o] = x.v[best];
          out.dx.v[best] += dy.v[o];
          continue;
        }
        const double divisor = kind == Kind::avg_with_pad ? double(p.kh * p.kw) : double(real);
        out.y.v[o] = sum / divisor;
        each_tap(s, p, plane, i, j, [&](int64_t at) {
          if (at >= 0) out.dx.v[at] += dy.v[o] / divisor;
        });
      }
  return out;
}

template <class T>
TensorT<T> pool(const TensorT<T>& x, const Pool& p, Kind kind) {
  if (kind == Kind::max) return hybrid::max_pool2d(x, {p.kh, p.kw}, {p.sh, p.sw}, {p.ph, p.pw});
  return hybrid::avg_pool2d(x, {p.kh, p.kw}, {p.sh, p.sw}, {p.ph, p.pw}, kind == Kind::avg_with_pad);
}

/// The backward op of a pooling, as the gradient rules call it.
template <class T>
TensorT<T> pool_backward(const TensorT<T>& x, const TensorT<T>& dy, const Pool& p, Kind kind) {
  Attrs at;
  at.kernel = Shape{p.kh, p.kw};
  at.stride = Shape{p.sh, p.sw};
  at.padding = Shape{p.ph, p.pw};
  if (kind == Kind::max) return hybrid::ops::apply<T>(OpCode::max_pool2d_backward, {&x, &dy}, at);
  at.count_include_pad = kind == Kind::avg_with_pad;
  at.shape = x.shape();
  return hybrid::ops::apply<T>(OpCode::avg_pool2d_backward, {&dy}, at);
}

/// Every window 1-3 × stride 1-3 × padding 0-1 that pools (padding at most
/// half the window), as squares and as non-square mixes.
std::vector<Pool> pools() {
  std::vector<Pool> all;
  for (int64_t k = 1; k <= 3; ++k)
    for (int64_t s = 1; s <= 3; ++s)
      for (int64_t p = 0; p <= 1; ++p)
        if (2 * p <= k) all.push_back({k, k, s, s, p, p});
  all.push_back({2, 3, 1, 2, 0, 1});
  all.push_back({3, 1, 2, 1, 1, 0});
  all.push_back({1, 2, 3, 1, 0, 1});
  return all;
}

const std::vector<Dims> kInputs = {{1, 1, 4, 4}, {3, 2, 5, 7}, {1, 3, 6, 3}, {3, 1, 3, 3}};

template <class T>
void check_pooling(Kind kind, bool integers) {
  ref::Rng r(integers ? 17 : 5);
  int checked = 0;
  for (const Dims& in : kInputs)
    for (const Pool& p : pools()) {
      if (in[2] + 2 * p.ph < p.kh || in[3] + 2 * p.pw < p.kw) continue;
      INFO("input " << ref::text(in) << " kernel " << p.kh << "x" << p.kw << " stride " << p.sh << "x" << p.sw
                    << " padding " << p.ph << "x" << p.pw);
      // Small integers make ties, which the max's backward must give to the first maximum.
      const Array x = integers ? Array{ref::random_integers(r, ref::count(in), -3, 3), in}
                               : ref::random_array<T>(r, in, -2, 2);
      const TensorT<T> xt = ref::tensor<T>(x);
      const TensorT<T> y = pool(xt, p, kind);
      const Array dy = ref::random_array<T>(r, ref::dims(y.shape()), -1, 1);
      const Reference want = reference_pool(x, p, kind, dy);
      if (kind == Kind::max) ref::check_equal(y, want.y);
      else ref::check_close(y, want.y);
      ref::check_close(pool_backward(xt, ref::tensor<T>(dy), p, kind), want.dx, 4);
      ++checked;
    }
  CHECK(checked > 60);
}

}  // namespace

TEMPLATE_TEST_CASE("max_pool2d and its backward against naive loops", "[ops][pool]", float, double) {
  check_pooling<TestType>(Kind::max, false);
  check_pooling<TestType>(Kind::max, true);
}

TEMPLATE_TEST_CASE("avg_pool2d and its backward against naive loops, both divisors", "[ops][pool]", float, double) {
  check_pooling<TestType>(Kind::avg_with_pad, false);
  check_pooling<TestType>(Kind::avg_real, false);
}

TEMPLATE_TEST_CASE("pooling by hand: shapes, padding and defaults", "[ops][pool]", float, double) {
  using T = TestType;
  const TensorT<T> x = hybrid::reshape(hybrid::arange<T>(16), {1, 1, 4, 4});
  // Stride defaults to the kernel (Gluon).
  CHECK(hybrid::max_pool2d(x, {2, 2}).to_vector() == std::vector<T>{5, 7, 13, 15});
  CHECK(hybrid::avg_pool2d(x, {2, 2}).to_vector() == std::vector<T>{2.5, 4.5, 10.5, 12.5});
  // Floor rounding: (4 - 3) / 2 + 1 = 1.
  CHECK(hybrid::max_pool2d(x, {3, 3}, {2, 2}).shape() == Shape{1, 1, 1, 1});
  // Padding never wins the max, even where every real element is negative.
  const TensorT<T> neg = -x - T(1);
  CHECK(hybrid::max_pool2d(neg, {2, 2}, {2, 2}, {1, 1}).to_vector() ==
        std::vector<T>{-1, -2, -4, -5, -6, -8, -13, -14, -16});
  // The corner window holds one real element: 0/4 with the padding counted, 0/1 without.
  const TensorT<T> ones = hybrid::ones<T>({1, 1, 2, 2});
  CHECK(hybrid::avg_pool2d(ones, {2, 2}, {1, 1}, {1, 1}, true).to_vector() ==
        std::vector<T>{0.25, 0.5, 0.25, 0.5, 1, 0.5, 0.25, 0.5, 0.25});
  CHECK(hybrid::avg_pool2d(ones, {2, 2}, {1, 1}, {1, 1}, false).to_vector() == std::vector<T>(9, 1));
  // NaN propagates through the max; the backward gives the NaN's window gradient to the NaN.
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const TensorT<T> with_nan = hybrid::from_vector<T>({1, nan, 3, 2}, {1, 1, 2, 2});
  CHECK(std::isnan(hybrid::max_pool2d(with_nan, {2, 2}).to_vector()[0]));
  Attrs at;
  at.kernel = Shape{2, 2};
  at.stride = Shape{2, 2};
  const TensorT<T> dy = hybrid::full<T>({1, 1, 1, 1}, 5);
  CHECK(hybrid::ops::apply<T>(OpCode::max_pool2d_backward, {&with_nan, &dy}, at).to_vector() ==
        std::vector<T>{0, 5, 0, 0});
  // Empty batches and channels pool to empty outputs.
  CHECK(hybrid::max_pool2d(hybrid::zeros<T>({0, 2, 4, 4}), {2, 2}).shape() == Shape{0, 2, 2, 2});
  CHECK(hybrid::avg_pool2d(hybrid::zeros<T>({2, 0, 4, 4}), {2, 2}).shape() == Shape{2, 0, 2, 2});
}

TEMPLATE_TEST_CASE("global_avg_pool2d: the mean of every plane", "[ops][pool]", float, double) {
  using T = TestType;
  ref::Rng r(9);
  for (const Dims& in : std::vector<Dims>{{1, 1, 1, 1}, {3, 2, 5, 7}, {2, 4, 1, 6}, {0, 3, 2, 2}}) {
    INFO(ref::text(in));
    const Array x = ref::random_array<T>(r, in, -2, 2);
    Array want{ref::Values(static_cast<size_t>(in[0] * in[1])), {in[0], in[1], 1, 1}};
    for (int64_t p = 0; p < in[0] * in[1]; ++p) {
      double s = 0;
      for (int64_t e = 0; e < in[2] * in[3]; ++e) s += x.v[static_cast<size_t>(p * in[2] * in[3] + e)];
      want.v[static_cast<size_t>(p)] = s / double(in[2] * in[3]);
    }
    ref::check_close(hybrid::global_avg_pool2d(ref::tensor<T>(x)), want);
  }
}

TEST_CASE("pooling errors name the op and the shapes", "[ops][pool]") {
  const hybrid::Tensor x = hybrid::zeros<float>({1, 2, 4, 5});
  auto message = [](auto f) {
    try {
      f();
    } catch (const ShapeError& e) {
      return std::string(e.what());
    }
    FAIL("expected a ShapeError");
    return std::string();
  };
  CHECK_THAT(message([&] { hybrid::max_pool2d(hybrid::zeros<float>({2, 4, 5}), {2, 2}); }),
             Contains("max_pool2d") && Contains("(N, C, H, W)") && Contains("(2, 4, 5)"));
  CHECK_THAT(message([&] { hybrid::avg_pool2d(x, {5, 2}); }),
             Contains("avg_pool2d") && Contains("does not fit") && Contains("(1, 2, 4, 5)") &&
                 Contains("kernel (5, 2)"));
  CHECK_THAT(message([&] { hybrid::max_pool2d(x, {0, 2}); }), Contains("max_pool2d") && Contains(">= 1"));
  CHECK_THAT(message([&] { hybrid::max_pool2d(x, {2, 2}, {0, 1}); }), Contains("stride (0, 1)"));
  CHECK_THAT(message([&] { hybrid::max_pool2d(x, {2}); }), Contains("2 entries"));
  CHECK_THAT(message([&] { hybrid::max_pool2d(x, {2, 2}, {1, 1}, {2, 0}); }),
             Contains("at most half the kernel") && Contains("padding (2, 0)"));
  CHECK_THAT(message([&] { hybrid::avg_pool2d(hybrid::zeros<float>({1, 1, 0, 3}), {1, 1}); }),
             Contains("does not fit"));
  CHECK_THAT(message([&] { hybrid::global_avg_pool2d(hybrid::zeros<float>({2, 3})); }),
             Contains("global_avg_pool2d") && Contains("(2, 3)"));
  CHECK_THAT(message([&] { hybrid::global_avg_pool2d(hybrid::zeros<float>({2, 3, 0, 4})); }),
             Contains("H, W >= 1"));
  // A window larger than the int64 range of its size is refused, not overflowed.
  const int64_t big = int64_t(1) << 40;
  Attrs huge;
  huge.kernel = Shape{big, big};
  huge.stride = Shape{1, 1};
  const Shape huge_in[1] = {Shape{1, 1, big, big}};
  CHECK_THROWS_AS(hybrid::infer_shape(OpCode::avg_pool2d, huge_in, 1, huge), ShapeError);
  // The backward ops check dy against the pooled shape.
  Attrs at;
  at.kernel = Shape{2, 2};
  at.stride = Shape{2, 2};
  const hybrid::Tensor dy = hybrid::zeros<float>({1, 2, 3, 3});
  CHECK_THAT(message([&] { hybrid::ops::apply<float>(OpCode::max_pool2d_backward, {&x, &dy}, at); }),
             Contains("max_pool2d_backward") && Contains("(1, 2, 2, 2)"));
  at.shape = x.shape();
  CHECK_THAT(message([&] { hybrid::ops::apply<float>(OpCode::avg_pool2d_backward, {&dy}, at); }),
             Contains("avg_pool2d_backward") && Contains("(1, 2, 2, 2)"));
}
