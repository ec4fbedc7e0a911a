// layer_norm against a naive loop over every line along the axis (any axis,
// size-1 lines, empty batches), in float and double, and its errors.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "../reference.hpp"

using Catch::Contains;
using hybrid::Shape;
using hybrid::ShapeError;
using hybrid::TensorT;
using ref::Array;
using ref::Dims;

namespace {

/// (x - mean) / √(var + eps) · gamma + beta along `axis`, the variance biased.
Array reference_layer_norm(const Array& x, const Array& gamma, const Array& beta, int axis, double eps) {
  Array y{ref::Values(x.v.size()), x.shape};
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.shape[d];
  for (size_t d = static_cast<size_t>(axis) + 1; d < x.shape.size(); ++d) inner *= x.shape[d];
  const int64_t n = x.shape[axis];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t e) { return static_cast<size_t>((o * n + e) * inner + i); };
      double mean = 0, var = 0;
      for (int64_t e = 0; e < n; ++e) mean += x.v[at(e)];
      mean /= double(n);
      for (int64_t e = 0; e < n; ++e) var += (x.v[at(e)] - mean) * (x.v[at(e)] - mean);
      var /= double(n);
      for (int64_t e = 0; e < n; ++e)
        y.v[at(e)] = (x.v[at(e)] - mean) / std::sqrt(var + eps) * gamma.v[static_cast<size_t>(e)] +
                     beta.v[static_cast<size_t>(e)];
    }
  return y;
}

}  // namespace

TEMPLATE_TEST_CASE("layer_norm against a naive loop, any axis", "[ops][norm]", float, double) {
  using T = TestType;
  ref::Rng r(31);
  struct Case {
    Dims x;
    int axis;
    double eps;
  };
  const std::vector<Case> cases = {
      {{4, 6}, -1, 1e-5}, {{4, 6}, 0, 1e-5},    {{2, 3, 5}, 1, 1e-3}, {{2, 3, 5}, -1, 1e-5},
      {{7}, 0, 1e-5},     {{3, 1}, 1, 1e-5},    {{0, 4}, 1, 1e-5},    {{2, 4, 3, 2}, 2, 0.5},
      {{1, 9}, -1, 0},
  };
  for (const Case& c : cases) {
    INFO(ref::text(c.x) << " axis " << c.axis);
    const int axis = c.axis < 0 ? c.axis + static_cast<int>(c.x.size()) : c.axis;
    const Array x = ref::random_array<T>(r, c.x, -3, 3);
    const Array gamma = ref::random_array<T>(r, {c.x[axis]}, 0.5, 2);
    const Array beta = ref::random_array<T>(r, {c.x[axis]}, -1, 1);
    const TensorT<T> y = hybrid::layer_norm(ref::tensor<T>(x), ref::tensor<T>(gamma), ref::tensor<T>(beta), c.axis,
                                            c.eps);
    // A line of one element has variance 0: y = beta (eps > 0), NaN when eps = 0 makes 0/0.
    ref::check_close(y, reference_layer_norm(x, gamma, beta, axis, static_cast<double>(static_cast<T>(c.eps))), 10);
  }
}

TEMPLATE_TEST_CASE("layer_norm: mean 0 and variance 1 before the affine part", "[ops][norm]", float, double) {
  using T = TestType;
  const TensorT<T> x = hybrid::from_vector<T>({1, 2, 3, 4, 10, 10, 10, 10}, {2, 4});
  const TensorT<T> y = hybrid::layer_norm(x, hybrid::ones<T>({4}), hybrid::zeros<T>({4}), -1, 0.0);
  const std::vector<T> v = y.to_vector();
  const T s = std::sqrt(T(1.25));
  CHECK(v[0] == Approx(-1.5 / s));
  CHECK(v[3] == Approx(1.5 / s));
  // A constant line with epsilon 0 is 0/0; with the default epsilon it is 0.
  CHECK(std::isnan(v[4]));
  const TensorT<T> z = hybrid::layer_norm(x, hybrid::ones<T>({4}), hybrid::full<T>({4}, 2));
  CHECK(z.to_vector()[5] == T(2));
}

TEST_CASE("layer_norm errors name the op and the shapes", "[ops][norm]") {
  const hybrid::Tensor x = hybrid::zeros<float>({2, 3});
  CHECK_THROWS_AS(hybrid::layer_norm(x, hybrid::ones<float>({2}), hybrid::zeros<float>({2})), ShapeError);
  CHECK_THROWS_WITH(hybrid::layer_norm(x, hybrid::ones<float>({2}), hybrid::zeros<float>({3})),
                    Contains("layer_norm") && Contains("(3,)") && Contains("(2, 3), (2,), (3,)"));
  CHECK_THROWS_WITH(hybrid::layer_norm(x, hybrid::ones<float>({2}), hybrid::zeros<float>({2}), 0, -1.0),
                    Contains("layer_norm") && Contains("epsilon"));
  CHECK_THROWS_WITH(hybrid::layer_norm(x, hybrid::ones<float>({3}), hybrid::zeros<float>({3}), 2),
                    Contains("layer_norm") && Contains("axis"));
  CHECK_THROWS_WITH(hybrid::layer_norm(hybrid::zeros<float>({}), hybrid::ones<float>({1}), hybrid::zeros<float>({1})),
                    Contains("layer_norm") && Contains("shape ()"));
}
