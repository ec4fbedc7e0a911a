// Layout ops against naive index arithmetic: transpose (any permutation,
// negative axes), reshape (-1 inference, shared storage), concat and slice.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>

#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "../reference.hpp"

using Catch::Contains;
using hybrid::Shape;
using hybrid::ShapeError;
using hybrid::TensorT;
using ref::Array;
using ref::Dims;

namespace {

Dims random_perm(ref::Rng& r, int n) {
  Dims p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), 0);
  for (int i = n - 1; i > 0; --i) std::swap(p[i], p[r.below(i + 1)]);
  return p;
}

/// A random shape with `n` elements (n > 0) of up to four dims.
Dims random_factorization(ref::Rng& r, int64_t n) {
  Dims d;
  const int rank = 1 + static_cast<int>(r.below(4));
  for (int i = 0; i + 1 < rank; ++i) {
    std::vector<int64_t> divisors;
    for (int64_t k = 1; k <= n; ++k)
      if (n % k == 0) divisors.push_back(k);
    const int64_t f = divisors[r.below(static_cast<int64_t>(divisors.size()))];
    d.push_back(f);
    n /= f;
  }
  d.push_back(n);
  return d;
}

}  // namespace

TEMPLATE_TEST_CASE("transpose: any permutation", "[ops][layout]", float, double) {
  using T = TestType;
  ref::Rng r(51);
  std::vector<Dims> shapes = {{}, {5}, {0}, {3, 700}, {700, 3}, {2, 0, 3}, {2, 3, 4, 5, 6}, {1, 1, 1}};
  for (int i = 0; i < 30; ++i) shapes.push_back(ref::random_dims(r, 0, 5, 4));
  for (const Dims& d : shapes) {
    const Array x = ref::random_array<T>(r, d, -10, 10);
    const auto t = ref::tensor<T>(x);
    const int nd = static_cast<int>(d.size());
    // No permutation: the axes reversed.
    Dims reverse(static_cast<size_t>(nd));
    for (int i = 0; i < nd; ++i) reverse[i] = nd - 1 - i;
    {
      INFO("transpose " << ref::text(d));
      ref::check_equal(hybrid::transpose(t), ref::transpose(x, reverse));
    }
    // A random permutation, some axes given from the end.
    const Dims perm = random_perm(r, nd);
    Dims given = perm;
    for (int64_t& p : given)
      if (r.chance(40)) p -= nd;
    INFO("transpose " << ref::text(d) << " by " << ref::text(given));
    ref::check_equal(hybrid::transpose(t, ref::shape(given)), ref::transpose(x, perm));
  }
  // The result owns its storage; transposing twice restores the input.
  const auto a = hybrid::reshape(hybrid::arange<T>(6), {2, 3});
  const auto at = hybrid::transpose(a);
  CHECK(at.shape() == Shape{3, 2});
  CHECK(at.to_vector() == std::vector<T>{0, 3, 1, 4, 2, 5});
  CHECK(at.data() != a.data());
  CHECK(hybrid::transpose(at).to_vector() == a.to_vector());
  CHECK(hybrid::transpose(a, {0, 1}).to_vector() == a.to_vector());
  CHECK(hybrid::transpose(a, {-1, -2}).to_vector() == at.to_vector());
}

TEMPLATE_TEST_CASE("transpose: bad permutations", "[ops][layout]", float, double) {
  using T = TestType;
  const auto a = hybrid::ones<T>({2, 3});
  CHECK_THROWS_AS(hybrid::transpose(a, {0}), ShapeError);
  CHECK_THROWS_WITH(hybrid::transpose(a, {0}), "transpose: permutation (0,) does not match shape (2, 3)");
  CHECK_THROWS_WITH(hybrid::transpose(a, {0, 1, 2}), Contains("does not match shape (2, 3)"));
  CHECK_THROWS_AS(hybrid::transpose(a, {0, 0}), ShapeError);
  CHECK_THROWS_WITH(hybrid::transpose(a, {0, 0}), "transpose: (0, 0) is not a permutation of the axes of (2, 3)");
  CHECK_THROWS_WITH(hybrid::transpose(a, {0, 2}), "transpose: (0, 2) is not a permutation of the axes of (2, 3)");
  CHECK_THROWS_AS(hybrid::transpose(a, {1, -3}), ShapeError);
  CHECK_THROWS_WITH(hybrid::transpose(a, {1, -3}), Contains("is not a permutation of the axes of (2, 3)"));
  CHECK_THROWS_WITH(hybrid::transpose(a, {-1, -1}), Contains("(1, 1) is not a permutation"));
  CHECK_THROWS_AS(hybrid::transpose(TensorT<T>()), hybrid::Error);
  CHECK_THROWS_WITH(hybrid::transpose(TensorT<T>()), "transpose: input 0 is an undefined tensor");
}

TEMPLATE_TEST_CASE("reshape: same elements, new shape, shared storage", "[ops][layout]", float, double) {
  using T = TestType;
  ref::Rng r(61);
  for (int i = 0; i < 40; ++i) {
    const Dims d = ref::random_dims(r, 0, 4, 5, false);
    const int64_t n = ref::count(d);
    Dims target = random_factorization(r, n);
    Dims given = target;
    if (r.chance(50)) given[r.below(static_cast<int64_t>(given.size()))] = -1;
    INFO("reshape " << ref::text(d) << " into " << ref::text(given));
    const Array x = ref::random_array<T>(r, d, -1, 1);
    const auto t = ref::tensor<T>(x);
    const auto y = hybrid::reshape(t, ref::shape(given));
    ref::check_equal(y, Array{x.v, target});
    CHECK(y.data() == t.data());
  }
  // 0-d and 0-size tensors.
  CHECK(hybrid::reshape(hybrid::full<T>({}, 4), {1, 1, 1}).shape() == Shape{1, 1, 1});
  CHECK(hybrid::reshape(hybrid::full<T>({1, 1}, 4), {}).shape() == Shape{});
  CHECK(hybrid::reshape(hybrid::full<T>({1, 1}, 4), {}).item() == T(4));
  CHECK(hybrid::reshape(hybrid::ones<T>({1}), {-1}).shape() == Shape{1});
  CHECK(hybrid::reshape(hybrid::zeros<T>({2, 0, 3}), {0, 7}).shape() == Shape{0, 7});
  CHECK(hybrid::reshape(hybrid::zeros<T>({2, 0, 3}), {3, -1}).shape() == Shape{3, 0});
  CHECK(hybrid::reshape(hybrid::arange<T>(12), {-1, 4}).shape() == Shape{3, 4});
  CHECK(hybrid::reshape(hybrid::arange<T>(12), {2, -1, 3}).shape() == Shape{2, 2, 3});
}

TEMPLATE_TEST_CASE("reshape: errors", "[ops][layout]", float, double) {
  using T = TestType;
  const auto a = hybrid::ones<T>({2, 3});
  CHECK_THROWS_AS(hybrid::reshape(a, {4}), ShapeError);
  CHECK_THROWS_WITH(hybrid::reshape(a, {4}), "reshape: cannot reshape (2, 3) (6 elements) into (4,)");
  CHECK_THROWS_WITH(hybrid::reshape(a, {}), "reshape: cannot reshape (2, 3) (6 elements) into ()");
  CHECK_THROWS_AS(hybrid::reshape(a, {-1, -1}), ShapeError);
  CHECK_THROWS_WITH(hybrid::reshape(a, {-1, -1}), "reshape: more than one -1 in target shape (-1, -1)");
  CHECK_THROWS_WITH(hybrid::reshape(a, {-1, 3, -1}), Contains("more than one -1"));
  CHECK_THROWS_AS(hybrid::reshape(a, {-1, 4}), ShapeError);
  CHECK_THROWS_WITH(hybrid::reshape(a, {-1, 4}), "reshape: cannot reshape (2, 3) into (-1, 4)");
  CHECK_THROWS_AS(hybrid::reshape(a, {-2, -3}), ShapeError);
  CHECK_THROWS_WITH(hybrid::reshape(a, {-2, -3}), "reshape: negative dimension in target shape (-2, -3)");
  CHECK_THROWS_WITH(hybrid::reshape(hybrid::zeros<T>({0, 3}), {-1, 0}),
                    "reshape: cannot reshape (0, 3) into (-1, 0)");
  const int64_t big = int64_t(1) << 40;
  CHECK_THROWS_AS(hybrid::reshape(a, {big, big}), ShapeError);
  CHECK_THROWS_WITH(hybrid::reshape(a, {big, big}), Contains("reshape") && Contains("overflows"));
  CHECK_THROWS_AS(hybrid::reshape(a, {1, 1, 1, 1, 1, 1, 1, 1, 6}), ShapeError);
  CHECK_THROWS_AS(hybrid::reshape(TensorT<T>(), {1}), hybrid::Error);
  CHECK_THROWS_WITH(hybrid::reshape(TensorT<T>(), {1}), "reshape: input 0 is an undefined tensor");
}

TEMPLATE_TEST_CASE("concat: joins along any axis", "[ops][layout]", float, double) {
  using T = TestType;
  ref::Rng r(71);
  for (int i = 0; i < 40; ++i) {
    const Dims base = ref::random_dims(r, 1, 4, 4);
    const int nd = static_cast<int>(base.size());
    const int axis = static_cast<int>(r.below(nd));
    const int64_t given_axis = r.chance(40) ? axis - nd : axis;
    const int64_t k = 1 + r.below(4);
    std::vector<Array> xs;
    std::vector<TensorT<T>> ts;
    std::string shapes;
    for (int64_t j = 0; j < k; ++j) {
      Dims d = base;
      d[axis] = r.below(4);
      xs.push_back(ref::random_array<T>(r, d, -1, 1));
      ts.push_back(ref::tensor<T>(xs.back()));
      shapes += ref::text(d) + " ";
    }
    INFO("concat " << shapes << "along axis " << given_axis);
    ref::check_equal(hybrid::concat(ts, given_axis), ref::concat(xs, axis));
  }
  // Several tiles' worth of data, and more inputs than the dispatcher keeps inline.
  const Array a = ref::random_array<T>(r, {3, 700}, -1, 1), b = ref::random_array<T>(r, {3, 100}, -1, 1);
  ref::check_equal(hybrid::concat<T>({ref::tensor<T>(a), ref::tensor<T>(b)}, 1), ref::concat({a, b}, 1));
  std::vector<Array> many;
  std::vector<TensorT<T>> many_t;
  for (int j = 0; j < 11; ++j) {
    many.push_back(ref::random_array<T>(r, {2, 1 + j % 3}, -1, 1));
    many_t.push_back(ref::tensor<T>(many.back()));
  }
  ref::check_equal(hybrid::concat(many_t, -1), ref::concat(many, 1));
  // A single input is copied; the default axis is 0.
  const auto one = hybrid::arange<T>(3);
  const auto c = hybrid::concat<T>({one});
  CHECK(c.to_vector() == one.to_vector());
  CHECK(c.data() != one.data());
  CHECK(hybrid::concat<T>({one, one}).to_vector() == std::vector<T>{0, 1, 2, 0, 1, 2});
}

TEMPLATE_TEST_CASE("concat: errors", "[ops][layout]", float, double) {
  using T = TestType;
  const auto a = hybrid::ones<T>({2, 3});
  CHECK_THROWS_AS(hybrid::concat<T>({a, hybrid::ones<T>({2, 4})}, 0), ShapeError);
  CHECK_THROWS_WITH(hybrid::concat<T>({a, hybrid::ones<T>({2, 4})}, 0),
                    "concat: shapes (2, 3), (2, 4) differ outside axis 0");
  CHECK_THROWS_WITH(hybrid::concat<T>({a, a, hybrid::ones<T>({3, 3})}, -1),
                    "concat: shapes (2, 3), (2, 3), (3, 3) differ outside axis 1");
  CHECK_THROWS_WITH(hybrid::concat<T>({a, hybrid::ones<T>({3})}, 0),
                    "concat: shapes (2, 3), (3,) differ outside axis 0");
  CHECK_THROWS_WITH(hybrid::concat<T>({a, hybrid::ones<T>({1, 2, 3})}, 0), Contains("differ outside axis 0"));
  CHECK_THROWS_AS(hybrid::concat<T>({a, a}, 2), ShapeError);
  CHECK_THROWS_WITH(hybrid::concat<T>({a, a}, 2), "concat: axis 2 is out of range for a tensor of 2 dimensions");
  CHECK_THROWS_WITH(hybrid::concat<T>({a, a}, -3), "concat: axis -3 is out of range for a tensor of 2 dimensions");
  CHECK_THROWS_AS(hybrid::concat<T>({}, 0), ShapeError);
  CHECK_THROWS_WITH(hybrid::concat<T>({}, 0), "concat: needs at least one tensor");
  const auto s = hybrid::full<T>({}, 1);
  CHECK_THROWS_WITH(hybrid::concat<T>({s, s}, 0), "concat: axis 0 is out of range for a tensor of 0 dimensions");
  CHECK_THROWS_AS(hybrid::concat<T>({a, TensorT<T>()}, 0), hybrid::Error);
  CHECK_THROWS_WITH(hybrid::concat<T>({a, TensorT<T>()}, 0), "concat: input 1 is an undefined tensor");
}

TEMPLATE_TEST_CASE("slice: Python bounds along any axis", "[ops][layout]", float, double) {
  using T = TestType;
  ref::Rng r(81);
  for (int i = 0; i < 60; ++i) {
    const Dims d = ref::random_dims(r, 1, 4, 5);
    const int nd = static_cast<int>(d.size());
    const int axis = static_cast<int>(r.below(nd));
    const int64_t given_axis = r.chance(40) ? axis - nd : axis;
    const int64_t ext = d[axis];
    const int64_t begin = r.below(2 * ext + 5) - ext - 2, end = r.below(2 * ext + 5) - ext - 2;
    INFO("slice " << ref::text(d) << " axis " << given_axis << " [" << begin << ", " << end << ")");
    const Array x = ref::random_array<T>(r, d, -1, 1);
    ref::check_equal(hybrid::slice(ref::tensor<T>(x), given_axis, begin, end), ref::slice(x, axis, begin, end));
  }
  const auto a = hybrid::reshape(hybrid::arange<T>(12), {3, 4});
  CHECK(hybrid::slice(a, 1, 1, 3).to_vector() == std::vector<T>{1, 2, 5, 6, 9, 10});
  CHECK(hybrid::slice(a, 0, -1, 3).to_vector() == std::vector<T>{8, 9, 10, 11});
  CHECK(hybrid::slice(a, -1, 0, -2).shape() == Shape{3, 2});
  CHECK(hybrid::slice(a, 0, 2, 1).shape() == Shape{0, 4});
  CHECK(hybrid::slice(a, 0, -100, 100).to_vector() == a.to_vector());
  const Array big = ref::random_array<T>(r, {3, 700}, -1, 1);
  ref::check_equal(hybrid::slice(ref::tensor<T>(big), 1, 100, 650), ref::slice(big, 1, 100, 650));
}

TEMPLATE_TEST_CASE("slice: errors", "[ops][layout]", float, double) {
  using T = TestType;
  CHECK_THROWS_AS(hybrid::slice(hybrid::full<T>({}, 1), 0, 0, 1), ShapeError);
  CHECK_THROWS_WITH(hybrid::slice(hybrid::full<T>({}, 1), 0, 0, 1), "slice: cannot slice a 0-d tensor");
  const auto a = hybrid::ones<T>({2, 3});
  CHECK_THROWS_AS(hybrid::slice(a, 2, 0, 1), ShapeError);
  CHECK_THROWS_WITH(hybrid::slice(a, 2, 0, 1), "slice: axis 2 is out of range for a tensor of 2 dimensions");
  CHECK_THROWS_WITH(hybrid::slice(a, -3, 0, 1), "slice: axis -3 is out of range for a tensor of 2 dimensions");
  CHECK_THROWS_AS(hybrid::slice(TensorT<T>(), 0, 0, 1), hybrid::Error);
  CHECK_THROWS_WITH(hybrid::slice(TensorT<T>(), 0, 0, 1), "slice: input 0 is an undefined tensor");
}

TEMPLATE_TEST_CASE("layout: concat takes a braced list", "[ops][layout]", float, double) {
  using T = TestType;
  const auto a = hybrid::arange<T>(3), b = hybrid::full<T>({2}, T(7));
  const auto c = hybrid::concat({a, b}, 0);
  CHECK(c.to_vector() == std::vector<T>{0, 1, 2, 7, 7});
  CHECK(hybrid::concat({a}, -1).to_vector() == a.to_vector());
}
