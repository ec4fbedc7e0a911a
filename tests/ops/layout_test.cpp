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

// ---------------------------------------------------------------------------
// stack, split, broadcast_to, pad.

TEMPLATE_TEST_CASE("stack: joins along a new axis", "[ops][layout]", float, double) {
  using T = TestType;
  ref::Rng r(101);
  std::vector<Dims> shapes = {{}, {1}, {0}, {2, 0, 3}, {3, 700}, {1030}, {1, 1, 1}, {2, 3, 4, 5}};
  for (int i = 0; i < 30; ++i) shapes.push_back(ref::random_dims(r, 0, 4, 4));
  for (const Dims& d : shapes) {
    const int nd = static_cast<int>(d.size());
    for (int axis = 0; axis <= nd; ++axis) {
      const int64_t given = r.chance(40) ? axis - nd - 1 : axis;
      const int64_t k = 1 + r.below(4);
      std::vector<Array> xs;
      std::vector<TensorT<T>> ts;
      for (int64_t j = 0; j < k; ++j) {
        xs.push_back(ref::random_array<T>(r, d, -1, 1));
        ts.push_back(ref::tensor<T>(xs.back()));
      }
      INFO("stack " << k << " of " << ref::text(d) << " along axis " << given);
      ref::check_equal(hybrid::stack(ts, given), ref::stack(xs, axis));
    }
  }
  // More inputs than the dispatcher keeps inline.
  std::vector<Array> many;
  std::vector<TensorT<T>> many_t;
  for (int j = 0; j < 11; ++j) {
    many.push_back(ref::random_array<T>(r, {2, 3}, -1, 1));
    many_t.push_back(ref::tensor<T>(many.back()));
  }
  ref::check_equal(hybrid::stack(many_t, 1), ref::stack(many, 1));
  ref::check_equal(hybrid::stack(many_t, -1), ref::stack(many, 2));
  // A braced list; the default axis is 0; one input gains an axis of extent 1 and is copied.
  const auto a = hybrid::arange<T>(3), b = hybrid::full<T>({3}, T(7));
  const auto s = hybrid::stack({a, b});
  CHECK(s.shape() == Shape{2, 3});
  CHECK(s.to_vector() == std::vector<T>{0, 1, 2, 7, 7, 7});
  CHECK(hybrid::stack({a, b}, 1).to_vector() == std::vector<T>{0, 7, 1, 7, 2, 7});
  const auto one = hybrid::stack({a}, -1);
  CHECK(one.shape() == Shape{3, 1});
  CHECK(one.data() != a.data());
  // 0-d inputs stack into a vector.
  CHECK(hybrid::stack({hybrid::full<T>({}, 1), hybrid::full<T>({}, 2)}).to_vector() == std::vector<T>{1, 2});
}

TEMPLATE_TEST_CASE("stack: errors", "[ops][layout]", float, double) {
  using T = TestType;
  const auto a = hybrid::ones<T>({2, 3});
  CHECK_THROWS_AS(hybrid::stack<T>({}, 0), ShapeError);
  CHECK_THROWS_WITH(hybrid::stack<T>({}, 0), "stack: needs at least one tensor");
  CHECK_THROWS_AS(hybrid::stack<T>({a, hybrid::ones<T>({3, 2})}), ShapeError);
  CHECK_THROWS_WITH(hybrid::stack<T>({a, hybrid::ones<T>({3, 2})}), "stack: shapes (2, 3), (3, 2) differ");
  CHECK_THROWS_WITH(hybrid::stack<T>({a, a, hybrid::ones<T>({2, 3, 1})}),
                    "stack: shapes (2, 3), (2, 3), (2, 3, 1) differ");
  // The new axis is in [-(r+1), r]: the result's axes.
  CHECK_THROWS_AS(hybrid::stack<T>({a, a}, 3), ShapeError);
  CHECK_THROWS_WITH(hybrid::stack<T>({a, a}, 3), Contains("stack: axis 3 is out of range"));
  CHECK_THROWS_WITH(hybrid::stack<T>({a, a}, -4), Contains("stack: axis -4 is out of range"));
  CHECK(hybrid::stack<T>({a, a}, 2).shape() == Shape{2, 3, 2});
  CHECK(hybrid::stack<T>({a, a}, -3).shape() == Shape{2, 2, 3});
  // Inputs with 8 dimensions leave no room for another.
  const auto eight = hybrid::ones<T>({1, 1, 1, 1, 1, 1, 1, 2});
  CHECK_THROWS_AS(hybrid::stack<T>({eight, eight}), ShapeError);
  CHECK_THROWS_WITH(hybrid::stack<T>({eight, eight}), Contains("stack") && Contains("already have 8 dimensions"));
  CHECK_THROWS_AS(hybrid::stack<T>({a, TensorT<T>()}), hybrid::Error);
  CHECK_THROWS_WITH(hybrid::stack<T>({a, TensorT<T>()}), "stack: input 1 is an undefined tensor");
}

TEMPLATE_TEST_CASE("split: equal slices along an axis", "[ops][layout]", float, double) {
  using T = TestType;
  ref::Rng r(111);
  for (int i = 0; i < 40; ++i) {
    Dims d = ref::random_dims(r, 1, 4, 4);
    const int nd = static_cast<int>(d.size());
    const int axis = static_cast<int>(r.below(nd));
    const int64_t sections = 1 + r.below(4);
    d[axis] *= sections;  // divisible (0 stays 0)
    const int64_t given = r.chance(40) ? axis - nd : axis;
    INFO("split " << ref::text(d) << " into " << sections << " along axis " << given);
    const Array x = ref::random_array<T>(r, d, -1, 1);
    const auto parts = hybrid::split(ref::tensor<T>(x), sections, given);
    REQUIRE(static_cast<int64_t>(parts.size()) == sections);
    const int64_t step = d[axis] / sections;
    for (int64_t s = 0; s < sections; ++s) ref::check_equal(parts[s], ref::slice(x, axis, s * step, (s + 1) * step));
  }
  // Several tiles; parts own their storage.
  const Array big = ref::random_array<T>(r, {3, 1400}, -1, 1);
  const auto t = ref::tensor<T>(big);
  const auto halves = hybrid::split(t, 2, -1);
  ref::check_equal(halves[0], ref::slice(big, 1, 0, 700));
  ref::check_equal(halves[1], ref::slice(big, 1, 700, 1400));
  CHECK(halves[0].data() != t.data());
  // One section is a copy; the default axis is 0; an empty axis splits into empty parts.
  CHECK(hybrid::split(t, 1)[0].to_vector() == t.to_vector());
  const auto rows = hybrid::split(hybrid::reshape(hybrid::arange<T>(6), {3, 2}), 3);
  REQUIRE(rows.size() == 3);
  CHECK(rows[2].shape() == Shape{1, 2});
  CHECK(rows[2].to_vector() == std::vector<T>{4, 5});
  const auto empty = hybrid::split(hybrid::zeros<T>({0, 3}), 2);
  REQUIRE(empty.size() == 2);
  CHECK(empty[1].shape() == Shape{0, 3});
}

TEMPLATE_TEST_CASE("split: errors", "[ops][layout]", float, double) {
  using T = TestType;
  const auto a = hybrid::ones<T>({4, 6});
  CHECK_THROWS_AS(hybrid::split(a, 4, 1), ShapeError);
  CHECK_THROWS_WITH(hybrid::split(a, 4, 1), "split: axis 1 of shape (4, 6) does not split into 4 equal sections");
  CHECK_THROWS_WITH(hybrid::split(a, 5, -2), "split: axis 0 of shape (4, 6) does not split into 5 equal sections");
  CHECK_THROWS_AS(hybrid::split(a, 0, 0), ShapeError);
  CHECK_THROWS_WITH(hybrid::split(a, 0, 0), Contains("split") && Contains("0 equal sections"));
  CHECK_THROWS_AS(hybrid::split(a, -2, 0), ShapeError);
  CHECK_THROWS_WITH(hybrid::split(a, -2, 0), Contains("split") && Contains("-2 equal sections"));
  CHECK_THROWS_AS(hybrid::split(a, 2, 2), ShapeError);
  CHECK_THROWS_WITH(hybrid::split(a, 2, 2), "split: axis 2 is out of range for a tensor of 2 dimensions");
  CHECK_THROWS_AS(hybrid::split(hybrid::full<T>({}, 1), 1, 0), ShapeError);
  CHECK_THROWS_WITH(hybrid::split(hybrid::full<T>({}, 1), 1, 0),
                    "split: axis 0 is out of range for a tensor of 0 dimensions");
}

TEST_CASE("split is no op of its own: a graph holds it as slices", "[ops][layout]") {
  hybrid::OpCode code;
  CHECK_FALSE(hybrid::op_from_name("split", code));
  const auto g = hybrid::trace::trace_graph<float>(
      [](const TensorT<float>& x) {
        const auto parts = hybrid::split(x, 3, -1);
        return parts[0] * parts[1] + parts[2];
      },
      Shape{2, 9});
  int slices = 0;
  for (const auto& n : g.nodes)
    if (n.op == hybrid::OpCode::slice) {
      ++slices;
      CHECK(n.attrs.axis == 1);
      CHECK(n.attrs.end - n.attrs.begin == 3);
      CHECK(n.shape == Shape{2, 3});
    }
  CHECK(slices == 3);
}

TEMPLATE_TEST_CASE("broadcast_to: repeats extent-1 and missing leading axes", "[ops][layout]", float, double) {
  using T = TestType;
  ref::Rng r(121);
  std::vector<std::pair<Dims, Dims>> cases = {
      {{700}, {3, 700}},     {{3, 1}, {3, 700}}, {{}, {1030}}, {{}, {}},       {{1}, {}},
      {{1}, {0}},            {{2, 1, 3}, {2, 0, 3}}, {{0}, {4, 0}},  {{1, 1}, {5, 1, 2}}, {{2, 3}, {2, 3}},
      {{1, 3, 1, 130}, {2, 3, 5, 130}}, {{4, 1}, {2, 4, 600}},
  };
  for (int i = 0; i < 40; ++i) {
    const Dims out = ref::random_dims(r, 0, 5, 4);
    cases.emplace_back(ref::broadcastable_to(r, out), out);
  }
  for (const auto& [from, to] : cases) {
    if (from.size() == 1 && from[0] == 1 && to.empty()) continue;  // not a broadcast: an error, below
    INFO("broadcast_to " << ref::text(from) << " -> " << ref::text(to));
    const Array x = ref::random_array<T>(r, from, -1, 1);
    const auto t = ref::tensor<T>(x);
    const auto y = hybrid::broadcast_to(t, ref::shape(to));
    ref::check_equal(y, ref::broadcast_to(x, to));
    if (ref::count(to) > 0) CHECK(y.data() != t.data());
  }
}

TEMPLATE_TEST_CASE("broadcast_to: errors", "[ops][layout]", float, double) {
  using T = TestType;
  const auto a = hybrid::ones<T>({2, 3});
  CHECK_THROWS_AS(hybrid::broadcast_to(a, {2, 4}), ShapeError);
  CHECK_THROWS_WITH(hybrid::broadcast_to(a, {2, 4}), "broadcast_to: cannot broadcast (2, 3) to (2, 4)");
  CHECK_THROWS_WITH(hybrid::broadcast_to(a, {3}), "broadcast_to: cannot broadcast (2, 3) to (3,)");  // fewer axes
  CHECK_THROWS_WITH(hybrid::broadcast_to(a, {3, 1}), "broadcast_to: cannot broadcast (2, 3) to (3, 1)");
  CHECK_THROWS_WITH(hybrid::broadcast_to(hybrid::ones<T>({1}), {}), "broadcast_to: cannot broadcast (1,) to ()");
  // A target extent 0 is reached only from 0 or 1.
  CHECK_THROWS_WITH(hybrid::broadcast_to(a, {2, 0}), "broadcast_to: cannot broadcast (2, 3) to (2, 0)");
  CHECK_THROWS_AS(hybrid::broadcast_to(a, {-1, 3}), ShapeError);
  CHECK_THROWS_WITH(hybrid::broadcast_to(a, {-1, 3}), Contains("broadcast_to") && Contains("negative dimension"));
  const int64_t big = int64_t(1) << 40;
  CHECK_THROWS_AS(hybrid::broadcast_to(a, {big, big, 3}), ShapeError);
  CHECK_THROWS_WITH(hybrid::broadcast_to(a, {big, big, 3}), Contains("broadcast_to") && Contains("overflows"));
  CHECK_THROWS_AS(hybrid::broadcast_to(TensorT<T>(), {2}), hybrid::Error);
  CHECK_THROWS_WITH(hybrid::broadcast_to(TensorT<T>(), {2}), "broadcast_to: input 0 is an undefined tensor");
}

TEMPLATE_TEST_CASE("pad: a constant border around every axis", "[ops][layout]", float, double) {
  using T = TestType;
  ref::Rng r(131);
  std::vector<Dims> shapes = {{}, {0}, {1}, {2, 0, 3}, {3, 700}, {1030}, {1, 1, 1}, {2, 3, 4, 5}};
  for (int i = 0; i < 40; ++i) shapes.push_back(ref::random_dims(r, 0, 4, 4));
  for (const Dims& d : shapes) {
    Dims widths;
    for (size_t k = 0; k < 2 * d.size(); ++k) widths.push_back(r.chance(30) ? 0 : r.below(3));
    const double value = r.chance(30) ? 0 : ref::rounded<T>(Array{{r.uniform(-5, 5)}, {}}).v[0];
    INFO("pad " << ref::text(d) << " by " << ref::text(widths) << " with " << value);
    const Array x = ref::random_array<T>(r, d, -1, 1);
    ref::check_equal(hybrid::pad(ref::tensor<T>(x), widths, value), ref::pad(x, widths, value));
  }
  // The default value is 0; widths of 0 copy; non-finite fill values.
  const auto a = hybrid::from_vector<T>({1, 2, 3, 4}, {2, 2});
  CHECK(hybrid::pad(a, {0, 1, 1, 0}).to_vector() == std::vector<T>{0, 1, 2, 0, 3, 4, 0, 0, 0});
  CHECK(hybrid::pad(a, {0, 0, 0, 0}).to_vector() == a.to_vector());
  CHECK(hybrid::pad(a, {0, 0, 0, 0}).data() != a.data());
  const T inf = std::numeric_limits<T>::infinity();
  CHECK(hybrid::pad(a, {1, 0, 0, 0}, -static_cast<double>(inf)).to_vector() == std::vector<T>{-inf, -inf, 1, 2, 3, 4});
  const auto n = hybrid::pad(hybrid::full<T>({}, 3), {}, std::numeric_limits<double>::quiet_NaN());
  CHECK(n.shape() == Shape{});
  CHECK(n.item() == T(3));
  // Padding an empty tensor fills the whole result.
  CHECK(hybrid::pad(hybrid::zeros<T>({0, 2}), {1, 1, 0, 0}, 5).to_vector() == std::vector<T>(4, T(5)));
}

TEMPLATE_TEST_CASE("pad: errors", "[ops][layout]", float, double) {
  using T = TestType;
  const auto a = hybrid::ones<T>({2, 3});
  CHECK_THROWS_AS(hybrid::pad(a, {1, 1}), ShapeError);
  CHECK_THROWS_WITH(hybrid::pad(a, {1, 1}), "pad: pad_width (1, 1) needs 2 entries per axis of (2, 3)");
  CHECK_THROWS_WITH(hybrid::pad(a, {1, 1, 1, 1, 1, 1}), Contains("needs 2 entries per axis of (2, 3)"));
  CHECK_THROWS_WITH(hybrid::pad(hybrid::full<T>({}, 1), {0, 0}), "pad: pad_width (0, 0) needs 2 entries per axis of ()");
  CHECK_THROWS_AS(hybrid::pad(a, {0, 0, -1, 2}), ShapeError);
  CHECK_THROWS_WITH(hybrid::pad(a, {0, 0, -1, 2}),
                    "pad: widths (0, -1), (0, 2) are negative or too large for (2, 3)");
  const int64_t max = std::numeric_limits<int64_t>::max();
  CHECK_THROWS_AS(hybrid::pad(a, {0, 0, max, 1}), ShapeError);
  CHECK_THROWS_WITH(hybrid::pad(a, {0, 0, max, 1}), Contains("pad") && Contains("negative or too large"));
  CHECK_THROWS_WITH(hybrid::pad(a, {0, 0, max - 3, 1}), Contains("pad") && Contains("negative or too large"));
  const int64_t big = int64_t(1) << 40;
  CHECK_THROWS_AS(hybrid::pad(a, {big, 0, big, 0}), ShapeError);
  CHECK_THROWS_WITH(hybrid::pad(a, {big, 0, big, 0}), Contains("pad") && Contains("overflows"));
  CHECK_THROWS_AS(hybrid::pad(TensorT<T>(), {}), hybrid::Error);
  CHECK_THROWS_WITH(hybrid::pad(TensorT<T>(), {0, 0}), "pad: input 0 is an undefined tensor");
}

TEST_CASE("pad: tensors of rank 5 to 8", "[ops][layout]") {
  // Widths are two lists of one entry per axis, so every rank a Shape holds pads.
  ref::Rng r(3);
  const Array x{ref::random_integers(r, 4, -3, 3), {1, 2, 1, 1, 2}};
  const Dims widths = {0, 1, 1, 0, 0, 0, 2, 0, 0, 1};
  ref::check_equal(hybrid::pad(ref::tensor<float>(x), widths, 9), ref::pad(x, widths, 9));
  const Array y{ref::random_integers(r, 1, -3, 3), {1, 1, 1, 1, 1, 1, 1, 1}};
  const Dims eight = {1, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 2, 0};
  ref::check_equal(hybrid::pad(ref::tensor<double>(y), eight, -1), ref::pad(y, eight, -1));
}
