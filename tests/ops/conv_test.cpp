// conv2d against a naive loop: every combination of stride, padding,
// dilation, groups, kernel size and batch, in float and double; bias and
// each epilogue activation; the internal backward ops against the loop's
// adjoints; the shape rule's errors.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>

#include <cmath>
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

struct Conv {
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
};

int64_t out_extent(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) {
  return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

/// y[n, o, p, q] = b[o] + Σ w[o, c, i, j] · x[n, g·C/G + c, p·sh + i·dh − ph, q·sw + j·dw − pw].
Array reference_conv(const Array& x, const Array& w, const Array* b, const Conv& c) {
  const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  const int64_t O = w.shape[0], CG = w.shape[1], KH = w.shape[2], KW = w.shape[3];
  const int64_t HO = out_extent(H, KH, c.sh, c.ph, c.dh), WO = out_extent(W, KW, c.sw, c.pw, c.dw);
  const int64_t OG = O / c.groups;
  (void)C;
  Array y{ref::Values(static_cast<size_t>(N * O * HO * WO)), {N, O, HO, WO}};
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t p = 0; p < HO; ++p)
        for (int64_t q = 0; q < WO; ++q) {
          double s = b ? b->v[o] : 0.0;
          const int64_t g = o / OG;
          for (int64_t ci = 0; ci < CG; ++ci)
            for (int64_t i = 0; i < KH; ++i)
              for (int64_t j = 0; j < KW; ++j) {
                const int64_t ih = p * c.sh + i * c.dh - c.ph, iw = q * c.sw + j * c.dw - c.pw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                s += w.v[((o * CG + ci) * KH + i) * KW + j] * x.v[((n * C + g * CG + ci) * H + ih) * W + iw];
              }
          y.v[((n * O + o) * HO + p) * WO + q] = s;
        }
  return y;
}

/// The adjoints of the loop above: dx and dw for an output gradient dy.
void reference_backward(const Array& x, const Array& w, const Array& dy, const Conv& c, Array& dx, Array& dwt) {
  const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  const int64_t O = w.shape[0], CG = w.shape[1], KH = w.shape[2], KW = w.shape[3];
  const int64_t HO = dy.shape[2], WO = dy.shape[3], OG = O / c.groups;
  dx = Array{ref::Values(x.v.size(), 0.0), x.shape};
  dwt = Array{ref::Values(w.v.size(), 0.0), w.shape};
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t p = 0; p < HO; ++p)
        for (int64_t q = 0; q < WO; ++q) {
          const double d = dy.v[((n * O + o) * HO + p) * WO + q];
          const int64_t g = o / OG;
          for (int64_t ci = 0; ci < CG; ++ci)
            for (int64_t i = 0; i < KH; ++i)
              for (int64_t j = 0; j < KW; ++j) {
                const int64_t ih = p * c.sh + i * c.dh - c.ph, iw = q * c.sw + j * c.dw - c.pw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const int64_t xi = ((n * C + g * CG + ci) * H + ih) * W + iw, wi = ((o * CG + ci) * KH + i) * KW + j;
                dx.v[xi] += d * w.v[wi];
                dwt.v[wi] += d * x.v[xi];
              }
        }
}

Attrs conv_attrs(const Conv& c) {
  Attrs a;
  a.stride = Shape{c.sh, c.sw};
  a.padding = Shape{c.ph, c.pw};
  a.dilation = Shape{c.dh, c.dw};
  a.groups = c.groups;
  return a;
}

std::string describe(const Dims& x, const Dims& w, const Conv& c, bool bias) {
  return "x " + ref::text(x) + " w " + ref::text(w) + " stride " + std::to_string(c.sh) + "," + std::to_string(c.sw) +
         " pad " + std::to_string(c.ph) + "," + std::to_string(c.pw) + " dil " + std::to_string(c.dh) + "," +
         std::to_string(c.dw) + " groups " + std::to_string(c.groups) + (bias ? " bias" : "");
}

/// Runs conv2d (and its two backward ops) on one configuration and checks
/// all three against the loops.
template <class T>
void check_conv(ref::Rng& r, const Dims& xs, const Dims& ws, const Conv& c, bool with_bias) {
  INFO(describe(xs, ws, c, with_bias));
  const Array x = ref::random_array<T>(r, xs, -1, 1), w = ref::random_array<T>(r, ws, -1, 1);
  const Array b = ref::random_array<T>(r, {ws[0]}, -1, 1);
  const TensorT<T> tx = ref::tensor<T>(x), tw = ref::tensor<T>(w), tb = ref::tensor<T>(b);
  const TensorT<T> y = hybrid::conv2d(tx, tw, with_bias ? tb : TensorT<T>(), Shape{c.sh, c.sw}, Shape{c.ph, c.pw},
                                      Shape{c.dh, c.dw}, c.groups);
  const Array want = reference_conv(x, w, with_bias ? &b : nullptr, c);
  const double terms = static_cast<double>(ws[1] * ws[2] * ws[3] + 1);
  ref::check_close(y, want, terms);

  const Array dy = ref::random_array<T>(r, want.shape, -1, 1);
  Array dx, dw;
  reference_backward(x, w, dy, c, dx, dw);
  const TensorT<T> tdy = ref::tensor<T>(dy);
  Attrs a = conv_attrs(c);
  a.shape = Shape(xs);
  ref::check_close(hybrid::ops::apply<T>(OpCode::conv2d_backward_data, {&tdy, &tw}, a), dx, terms);
  a.shape = Shape(ws);
  const double pixels = static_cast<double>(want.shape[0] * want.shape[2] * want.shape[3]);
  ref::check_close(hybrid::ops::apply<T>(OpCode::conv2d_backward_weight, {&tx, &tdy}, a), dw, pixels);
}

template <class T>
void sweep() {
  ref::Rng r(17);
  const int64_t C = 4, O = 4, H = 7, W = 6;
  int run = 0, skipped = 0;
  for (int64_t batch : {1, 3})
    for (int64_t k : {1, 3, 5})
      for (int64_t groups : {int64_t{1}, int64_t{2}, C})
        for (int64_t s : {1, 2})
          for (int64_t p : {0, 1, 2})
            for (int64_t d : {1, 2}) {
              // A kernel that does not fit the padded input is an error (tested below).
              if (d * (k - 1) + 1 > std::min(H, W) + 2 * p) {
                ++skipped;
                continue;
              }
              const Conv c{s, s, p, p, d, d, groups};
              check_conv<T>(r, {batch, C, H, W}, {O, C / groups, k, k}, c, (run++ % 2) == 0);
            }
  CHECK(run == 2 * 3 * 3 * 2 * 3 * 2 - skipped);
  CHECK(skipped < run);
}

}  // namespace

TEMPLATE_TEST_CASE("conv2d: every stride, padding, dilation, groups, kernel and batch against a naive loop",
                   "[ops][conv]", float, double) {
  sweep<TestType>();
}

TEMPLATE_TEST_CASE("conv2d: rectangular kernels, unequal strides and paddings, more outputs than inputs", "[ops][conv]",
                   float, double) {
  ref::Rng r(23);
  check_conv<TestType>(r, {2, 3, 9, 5}, {5, 3, 3, 2}, Conv{2, 1, 1, 0, 1, 2, 1}, true);
  check_conv<TestType>(r, {1, 2, 5, 8}, {6, 1, 1, 3}, Conv{1, 3, 2, 1, 1, 1, 2}, false);
  check_conv<TestType>(r, {2, 6, 4, 4}, {12, 1, 3, 3}, Conv{1, 1, 1, 1, 1, 1, 6}, true);  // depthwise, multiplier 2
  check_conv<TestType>(r, {2, 8, 5, 5}, {4, 8, 1, 1}, Conv{}, true);                       // pointwise, no unfolding
  check_conv<TestType>(r, {1, 1, 28, 28}, {6, 1, 5, 5}, Conv{1, 1, 2, 2, 1, 1, 1}, true);  // LeNet's first layer
  check_conv<TestType>(r, {2, 3, 3, 3}, {2, 3, 3, 3}, Conv{}, true);                       // one output pixel
  check_conv<TestType>(r, {1, 2, 1, 1}, {3, 2, 3, 3}, Conv{1, 1, 1, 1, 1, 1, 1}, false);   // all but the centre is padding
  check_conv<TestType>(r, {2, 4, 6, 6}, {4, 4, 1, 1}, Conv{2, 2, 0, 0, 1, 1, 1}, true);    // 1x1 with a stride unfolds
}

TEMPLATE_TEST_CASE("conv2d: the backward ops split inside one image, for any thread count", "[ops][conv][threads]",
                   float, double) {
  using T = TestType;
  // Batch 1 with enough work per image: the data op splits the patch-matrix
  // rows (then col2im over dx rows), the weight op splits dW's columns.
  struct Case {
    Dims x, w;
    Conv c;
  };
  const std::vector<Case> cases = {
      {{1, 16, 24, 24}, {32, 16, 3, 3}, Conv{1, 1, 1, 1, 1, 1, 1}},
      {{1, 32, 31, 29}, {64, 16, 3, 3}, Conv{2, 2, 2, 2, 2, 2, 2}},   // groups, stride, dilation
      {{1, 128, 20, 20}, {64, 128, 1, 1}, Conv{}},                    // pointwise: the product is dx
      {{1, 6, 14, 14}, {16, 6, 5, 5}, Conv{}},                        // LeNet's second layer
      {{1, 63, 31, 33}, {16, 63, 3, 3}, Conv{1, 1, 1, 1, 1, 1, 1}},  // col2im splits mid-channel
  };
  const int saved = hybrid::get_num_threads();
  for (const Case& k : cases) {
    std::vector<std::vector<T>> first;
    for (int threads : {1, 2, 3, 8}) {
      INFO("threads " << threads);
      hybrid::set_num_threads(threads);
      ref::Rng r(29);  // the same data for every thread count
      check_conv<T>(r, k.x, k.w, k.c, true);
      ref::Rng again(29);
      const Array x = ref::random_array<T>(again, k.x, -1, 1), w = ref::random_array<T>(again, k.w, -1, 1);
      const TensorT<T> tx = ref::tensor<T>(x), tw = ref::tensor<T>(w);
      const TensorT<T> y = hybrid::conv2d(tx, tw, TensorT<T>(), Shape{k.c.sh, k.c.sw}, Shape{k.c.ph, k.c.pw},
                                          Shape{k.c.dh, k.c.dw}, k.c.groups);
      const TensorT<T> dy = hybrid::tanh(y);
      Attrs a = conv_attrs(k.c);
      a.shape = Shape(k.x);
      const std::vector<T> dx = hybrid::ops::apply<T>(OpCode::conv2d_backward_data, {&dy, &tw}, a).to_vector();
      a.shape = Shape(k.w);
      const std::vector<T> dw = hybrid::ops::apply<T>(OpCode::conv2d_backward_weight, {&tx, &dy}, a).to_vector();
      if (first.empty()) {
        first = {dx, dw};
      } else {
        CHECK(dx == first[0]);  // bit for bit: no NaN in these
        CHECK(dw == first[1]);
      }
    }
  }
  hybrid::set_num_threads(saved);
}

TEMPLATE_TEST_CASE("conv2d: empty batches, channels and outputs", "[ops][conv]", float, double) {
  ref::Rng r(5);
  check_conv<TestType>(r, {0, 2, 4, 4}, {3, 2, 3, 3}, Conv{}, true);
  check_conv<TestType>(r, {2, 0, 4, 4}, {3, 0, 3, 3}, Conv{}, true);  // no input channels: the bias alone
  check_conv<TestType>(r, {2, 2, 4, 4}, {0, 2, 3, 3}, Conv{}, false);
  check_conv<TestType>(r, {2, 2, 0, 3}, {3, 2, 1, 1}, Conv{1, 1, 1, 0, 1, 1, 1}, true);  // 0 rows, padded to 2
}

TEMPLATE_TEST_CASE("conv2d: bias and every epilogue activation", "[ops][conv]", float, double) {
  using T = TestType;
  ref::Rng r(41);
  const Array x = ref::random_array<T>(r, {2, 4, 6, 5}, -1, 1), w = ref::random_array<T>(r, {6, 2, 3, 3}, -1, 1);
  const Array b = ref::random_array<T>(r, {6}, -1, 1);
  const Conv c{1, 2, 1, 1, 1, 1, 2};
  const Array z = reference_conv(x, w, &b, c);
  const std::vector<std::pair<OpCode, double (*)(double)>> acts = {
      {OpCode::relu, [](double v) { return v > 0 ? v : 0.0; }},
      {OpCode::sigmoid, [](double v) { return 1 / (1 + std::exp(-v)); }},
      {OpCode::tanh, [](double v) { return std::tanh(v); }},
      {OpCode::softrelu, [](double v) { return std::log1p(std::exp(v)); }},
      {OpCode::gelu, &ref::gelu},
      {OpCode::silu, &ref::silu},
  };
  for (const auto& [op, f] : acts) {
    INFO(hybrid::op_def(op).name);
    const TensorT<T> y = hybrid::conv2d(ref::tensor<T>(x), ref::tensor<T>(w), ref::tensor<T>(b), {1, 2}, {1, 1},
                                        {1, 1}, 2, op);
    Array want = z;
    for (double& v : want.v) v = f(v);
    ref::check_close(y, want, 20);
  }
  CHECK_THROWS_WITH(hybrid::conv2d(ref::tensor<T>(x), ref::tensor<T>(w), ref::tensor<T>(b), {1, 1}, {0, 0}, {1, 1}, 2,
                                   OpCode::exp),
                    Contains("conv2d") && Contains("exp is not an activation"));
}

TEST_CASE("conv2d: shape errors name the op, the problem and the shapes", "[ops][conv]") {
  using T = float;
  auto t = [](Dims d) { return hybrid::zeros<T>(Shape(d)); };
  auto conv = [&](Dims x, Dims w, Dims b, Shape stride = {1, 1}, Shape pad = {0, 0}, Shape dil = {1, 1},
                  int64_t groups = 1) {
    return hybrid::conv2d(t(x), t(w), b.empty() ? TensorT<T>() : t(b), stride, pad, dil, groups);
  };
  CHECK_THROWS_MATCHES(conv({1, 3, 5, 5}, {4, 3, 3, 3}, {}, {1, 1}, {0, 0}, {1, 1}, 2), ShapeError,
                       Catch::Matchers::Message("conv2d: 3 input channels do not divide into 2 groups: (1, 3, 5, 5), (4, 3, 3, 3)"));
  CHECK_THROWS_WITH(conv({1, 4, 5, 5}, {3, 2, 3, 3}, {}, {1, 1}, {0, 0}, {1, 1}, 2),
                    Contains("3 output channels do not divide into 2 groups"));
  CHECK_THROWS_WITH(conv({1, 4, 5, 5}, {4, 3, 3, 3}, {}),
                    Contains("conv2d: the weight has 3 channels per group but the data has 4 channels in 1 groups") &&
                        Contains("(1, 4, 5, 5), (4, 3, 3, 3)"));
  CHECK_THROWS_AS(conv({1, 4, 5, 5}, {4, 3, 3, 3}, {}), ShapeError);
  CHECK_THROWS_WITH(conv({1, 1, 4, 4}, {2, 1, 5, 5}, {}),
                    Contains("conv2d: the kernel (dilated to 5 along axis 2) is larger than the padded input (4)") &&
                        Contains("(1, 1, 4, 4), (2, 1, 5, 5)"));
  CHECK_THROWS_WITH(conv({1, 1, 6, 6}, {2, 1, 3, 3}, {}, {1, 1}, {0, 0}, {3, 1}),
                    Contains("dilated to 7 along axis 2"));
  CHECK_NOTHROW(conv({1, 1, 4, 4}, {2, 1, 5, 5}, {}, {1, 1}, {1, 1}));  // padding makes it fit
  CHECK_THROWS_WITH(conv({1, 1, 6, 6}, {2, 1, 3, 3}, {}, {0, 1}), Contains("conv2d: stride must be positive, got (0, 1)"));
  CHECK_THROWS_WITH(conv({1, 1, 6, 6}, {2, 1, 3, 3}, {}, {1, 1}, {0, 0}, {1, -1}),
                    Contains("conv2d: dilation must be positive, got (1, -1)"));
  CHECK_THROWS_WITH(conv({1, 1, 6, 6}, {2, 1, 3, 3}, {}, {1, 1}, {-1, 0}),
                    Contains("conv2d: padding must be >= 0, got (-1, 0)"));
  CHECK_THROWS_WITH(conv({1, 1, 6, 6}, {2, 1, 3, 3}, {}, {1, 1, 1}), Contains("conv2d: stride needs two values (h, w), got (1, 1, 1)"));
  CHECK_THROWS_WITH(conv({1, 1, 6, 6}, {2, 1, 3, 3}, {}, {1, 1}, {1}), Contains("padding needs two values"));
  CHECK_THROWS_WITH(conv({1, 1, 6, 6}, {2, 1, 3, 3}, {}, {1, 1}, {0, 0}, {}), Contains("dilation needs two values"));
  CHECK_THROWS_WITH(conv({1, 6, 6}, {2, 1, 3, 3}, {}),
                    Contains("conv2d: needs data (N, C, H, W) and a weight (O, C/groups, kh, kw), got (1, 6, 6), (2, 1, 3, 3)"));
  CHECK_THROWS_WITH(conv({1, 1, 6, 6}, {2, 1, 3}, {}), Contains("needs data (N, C, H, W)"));
  CHECK_THROWS_WITH(conv({1, 1, 6, 6}, {2, 1, 3, 3}, {3}),
                    Contains("conv2d: bias shape must be (2,), got (1, 1, 6, 6), (2, 1, 3, 3), (3,)"));
  CHECK_THROWS_WITH(conv({1, 1, 6, 6}, {2, 1, 3, 3}, {}, {1, 1}, {0, 0}, {1, 1}, 0), Contains("conv2d: groups must be >= 1, got 0"));
  CHECK_THROWS_WITH(conv({1, 1, 6, 6}, {2, 1, 0, 3}, {}), Contains("conv2d: the kernel must be at least 1x1"));
  CHECK_THROWS_WITH(conv({1, 1, 6, 6}, {2, 1, 3, 3}, {}, {1, 1}, {int64_t{1} << 62, 0}), Contains("is too large"));
  // Arity, through the op itself.
  const TensorT<T> x = t({1, 1, 6, 6}), w = t({2, 1, 3, 3});
  Attrs a;
  a.no_bias = false;
  CHECK_THROWS_WITH(hybrid::ops::apply<T>(OpCode::conv2d, {&x, &w}, a), Contains("conv2d: expects 3 inputs, got 2"));
  // An epilogue that is not an activation op, given to the op directly.
  for (int64_t bad : {int64_t{-2}, static_cast<int64_t>(OpCode::exp), int64_t{1000}}) {
    Attrs e;
    e.no_bias = true;
    e.activation = bad;
    CHECK_THROWS_AS(hybrid::ops::apply<T>(OpCode::conv2d, {&x, &w}, e), ShapeError);
    CHECK_THROWS_WITH(hybrid::ops::apply<T>(OpCode::conv2d, {&x, &w}, e),
                      Contains("conv2d: activation " + std::to_string(bad) + " is not an activation op"));
  }
  // The backward ops check dy against the convolution their attributes describe.
  a.shape = Shape{1, 1, 6, 6};
  const TensorT<T> dy = t({1, 2, 3, 3});
  CHECK_THROWS_WITH(hybrid::ops::apply<T>(OpCode::conv2d_backward_data, {&dy, &w}, a),
                    Contains("conv2d_backward_data: dy has shape (1, 2, 3, 3) but the convolution of data (1, 1, 6, 6), "
                             "weight (2, 1, 3, 3) gives (1, 2, 4, 4)"));
  a.shape = Shape{2, 1, 3, 3};
  CHECK_THROWS_WITH(hybrid::ops::apply<T>(OpCode::conv2d_backward_weight, {&x, &dy}, a),
                    Contains("conv2d_backward_weight: dy has shape (1, 2, 3, 3)"));
}

TEST_CASE("conv2d: scratch is sized from the shapes; pointwise kernels need none", "[ops][conv]") {
  Attrs a;
  const Shape x{2, 3, 8, 8}, w{4, 3, 3, 3}, y{2, 4, 6, 6};
  const Shape in[2] = {x, w};
  CHECK(hybrid::scratch_elements(OpCode::conv2d, a, in, 2, y) == 3 * 3 * 3 * 6 * 6);
  const Shape w1{4, 3, 1, 1}, in1[2] = {x, w1};
  CHECK(hybrid::scratch_elements(OpCode::conv2d, a, in1, 2, Shape{2, 4, 8, 8}) == 0);
  const Shape dgrad[2] = {y, w};
  CHECK(hybrid::scratch_elements(OpCode::conv2d_backward_data, a, dgrad, 2, x) == 3 * 3 * 3 * 6 * 6);
  const Shape wgrad[2] = {x, y};
  CHECK(hybrid::scratch_elements(OpCode::conv2d_backward_weight, a, wgrad, 2, w) == 3 * 3 * 3 * 6 * 6);
}
