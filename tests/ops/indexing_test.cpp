// Indexing ops against naive loops: take (any axis, indices of any shape),
// pick (an index with or without the picked axis, keepdims), one_hot and
// argmax (ties, NaN), on random shapes with size-1 and 0-size dims, 0-d
// indices and results spanning several 512-element tiles; the same ops in a
// compiled plan; and every error path. Indices are stored in T: a value that
// is not an integer in range is an Error naming the op, the index and its
// position, never a clamp.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>

#include <cmath>
#include <limits>
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

/// Valid indices for an axis of `extent` (> 0), in an index tensor of shape `d`.
Array random_indices(ref::Rng& r, const Dims& d, int64_t extent) {
  return Array{ref::random_integers(r, ref::count(d), 0, static_cast<int>(extent - 1)), d};
}

/// `d` without axis `axis`, or with extent 1 there.
Dims without_axis(Dims d, int axis, bool keep) {
  if (keep) d[axis] = 1;
  else d.erase(d.begin() + axis);
  return d;
}

template <class T>
TensorT<T> values(std::vector<T> v, const Shape& s) {
  return hybrid::from_vector<T>(std::move(v), s);
}

}  // namespace

// ---------------------------------------------------------------------------
// take

TEMPLATE_TEST_CASE("take: entries along any axis, indices of any shape", "[ops][indexing]", float, double) {
  using T = TestType;
  ref::Rng r(141);
  struct Case {
    Dims x, indices;
    int axis;
  };
  std::vector<Case> cases = {
      {{3, 700}, {600}, 1},    // a result of several tiles
      {{1030}, {5}, 0},        {{1030}, {2, 3}, 0}, {{4, 3}, {}, 0},  // 0-d indices drop the axis
      {{4, 3}, {}, 1},         {{4, 3}, {0}, 0},    {{4, 3}, {2, 0}, 1},  // no indices: an empty result
      {{0, 3}, {0}, 0},        {{2, 0, 3}, {4}, 2}, {{1}, {7}, 0},        // one row, taken 7 times
      {{2, 3, 4, 5}, {2, 2}, 2}, {{5}, {1, 1, 1}, 0},
  };
  for (int i = 0; i < 60; ++i) {
    Dims d = ref::random_dims(r, 1, 4, 4);
    const int axis = static_cast<int>(r.below(static_cast<int64_t>(d.size())));
    if (d[axis] == 0) d[axis] = 1 + r.below(3);  // an index needs something to point at
    cases.push_back({d, ref::random_dims(r, 0, 3, 3), axis});
  }
  for (const Case& c : cases) {
    const int nd = static_cast<int>(c.x.size());
    const int64_t given = r.chance(40) ? c.axis - nd : c.axis;
    INFO("take " << ref::text(c.x) << " at indices " << ref::text(c.indices) << " along axis " << given);
    const Array x = ref::random_array<T>(r, c.x, -5, 5);
    const Array idx = random_indices(r, c.indices, std::max<int64_t>(c.x[c.axis], 1));
    ref::check_equal(hybrid::take(ref::tensor<T>(x), ref::tensor<T>(idx), given), ref::take(x, idx, c.axis));
  }
  // By hand; the default axis is 0; repeated indices repeat rows.
  const auto a = hybrid::reshape(hybrid::arange<T>(6), {3, 2});
  CHECK(hybrid::take(a, values<T>({2, 0, 2}, {3})).to_vector() == std::vector<T>{4, 5, 0, 1, 4, 5});
  CHECK(hybrid::take(a, values<T>({1, 0}, {1, 2}), 1).shape() == Shape{3, 1, 2});
  CHECK(hybrid::take(a, values<T>({1, 0}, {1, 2}), -1).to_vector() == std::vector<T>{1, 0, 3, 2, 5, 4});
  CHECK(hybrid::take(a, hybrid::full<T>({}, 1)).to_vector() == std::vector<T>{2, 3});
  // An integral value written as -0 is index 0.
  CHECK(hybrid::take(a, hybrid::full<T>({1}, T(-0.0))).to_vector() == std::vector<T>{0, 1});
}

TEMPLATE_TEST_CASE("take: errors", "[ops][indexing]", float, double) {
  using T = TestType;
  const T inf = std::numeric_limits<T>::infinity();
  const auto a = hybrid::ones<T>({3, 4});
  CHECK_THROWS_AS(hybrid::take(hybrid::full<T>({}, 1), hybrid::zeros<T>({1})), ShapeError);
  CHECK_THROWS_WITH(hybrid::take(hybrid::full<T>({}, 1), hybrid::zeros<T>({1})), "take: cannot take from a 0-d tensor");
  CHECK_THROWS_AS(hybrid::take(a, hybrid::zeros<T>({1}), 2), ShapeError);
  CHECK_THROWS_WITH(hybrid::take(a, hybrid::zeros<T>({1}), 2), "take: axis 2 is out of range for a tensor of 2 dimensions");
  CHECK_THROWS_WITH(hybrid::take(a, hybrid::zeros<T>({1}), -3), "take: axis -3 is out of range for a tensor of 2 dimensions");
  // The result may not exceed 8 dimensions.
  const auto seven = hybrid::ones<T>({1, 1, 1, 1, 1, 1, 2});
  CHECK(hybrid::take(seven, hybrid::zeros<T>({1, 1}), 6).shape() == Shape{1, 1, 1, 1, 1, 1, 1, 1});
  CHECK_THROWS_AS(hybrid::take(seven, hybrid::zeros<T>({1, 1, 1})), ShapeError);
  CHECK_THROWS_WITH(hybrid::take(seven, hybrid::zeros<T>({1, 1, 1})),
                    Contains("take") && Contains("more than 8 dimensions"));
  // Index values: integers in [0, extent), else an Error naming the op, the value and its flat position.
  CHECK_THROWS_AS(hybrid::take(a, values<T>({0, 2.5}, {2})), hybrid::Error);
  CHECK_THROWS_WITH(hybrid::take(a, values<T>({0, 2.5}, {2})),
                    Contains("take: index 2.5") && Contains("at position 1") && Contains("[0, 3)"));
  CHECK_THROWS_WITH(hybrid::take(a, values<T>({0, 1, 2, 4}, {2, 2}), 1),
                    Contains("take: index 4") && Contains("at position 3") && Contains("[0, 4)"));
  CHECK_THROWS_WITH(hybrid::take(a, values<T>({3}, {1})), Contains("index 3") && Contains("[0, 3)"));
  CHECK_THROWS_WITH(hybrid::take(a, values<T>({1, -1}, {2})), Contains("index -1") && Contains("position 1"));
  CHECK_THROWS_WITH(hybrid::take(a, values<T>({std::numeric_limits<T>::quiet_NaN()}, {1})),
                    Contains("take: index nan") && Contains("position 0"));
  CHECK_THROWS_WITH(hybrid::take(a, values<T>({inf}, {1})), Contains("index inf"));
  CHECK_THROWS_WITH(hybrid::take(a, values<T>({T(1e30)}, {1})), Contains("take: index 1") && Contains("position 0"));
  // An empty axis has no valid index.
  CHECK_THROWS_AS(hybrid::take(hybrid::zeros<T>({0, 2}), hybrid::zeros<T>({1})), hybrid::Error);
  CHECK_THROWS_WITH(hybrid::take(hybrid::zeros<T>({0, 2}), hybrid::zeros<T>({1})), Contains("[0, 0)"));
  // The indices are checked even where nothing is gathered (x's other axes are empty).
  CHECK_THROWS_WITH(hybrid::take(hybrid::zeros<T>({0, 2}), values<T>({5}, {1}), 1), Contains("take: index 5"));
  CHECK_THROWS_AS(hybrid::take(TensorT<T>(), a), hybrid::Error);
  CHECK_THROWS_WITH(hybrid::take(a, TensorT<T>()), "take: input 1 is an undefined tensor");
}

// ---------------------------------------------------------------------------
// pick

TEMPLATE_TEST_CASE("pick: one entry per line, keepdims", "[ops][indexing]", float, double) {
  using T = TestType;
  ref::Rng r(151);
  struct Case {
    Dims x;
    int axis;
  };
  std::vector<Case> cases = {{{3, 700}, 0}, {{700, 3}, 1}, {{2, 600}, 0}, {{1030}, 0}, {{5}, 0},   {{1, 1}, 1},
                             {{0, 4}, 1},   {{3, 0}, 0},   {{2, 0, 3}, 0}, {{2, 3, 4, 5}, 2}, {{4, 1, 3}, 1}};
  for (int i = 0; i < 60; ++i) {
    Dims d = ref::random_dims(r, 1, 4, 4);
    const int axis = static_cast<int>(r.below(static_cast<int64_t>(d.size())));
    if (d[axis] == 0) d[axis] = 1 + r.below(3);
    cases.push_back({d, axis});
  }
  for (const Case& c : cases) {
    const int nd = static_cast<int>(c.x.size());
    const Array x = ref::random_array<T>(r, c.x, -5, 5);
    for (bool index_keeps_axis : {false, true})
      for (bool keepdims : {false, true}) {
        const int64_t given = r.chance(40) ? c.axis - nd : c.axis;
        const Dims id = without_axis(c.x, c.axis, index_keeps_axis);
        INFO("pick " << ref::text(c.x) << " along axis " << given << " with an index of shape " << ref::text(id)
                     << ", keepdims " << keepdims);
        const Array idx = random_indices(r, id, std::max<int64_t>(c.x[c.axis], 1));
        ref::check_equal(hybrid::pick(ref::tensor<T>(x), ref::tensor<T>(idx), given, keepdims),
                         ref::pick(x, idx, c.axis, keepdims));
      }
  }
  // By hand: the default axis is the last, keepdims false.
  const auto a = hybrid::reshape(hybrid::arange<T>(6), {2, 3});
  CHECK(hybrid::pick(a, values<T>({2, 0}, {2})).to_vector() == std::vector<T>{2, 3});
  CHECK(hybrid::pick(a, values<T>({2, 0}, {2, 1})).shape() == Shape{2});
  CHECK(hybrid::pick(a, values<T>({2, 0}, {2}), -1, true).shape() == Shape{2, 1});
  CHECK(hybrid::pick(a, values<T>({1, 0, 1}, {3}), 0).to_vector() == std::vector<T>{3, 1, 5});
  CHECK(hybrid::pick(hybrid::arange<T>(4), hybrid::full<T>({}, 3)).item() == T(3));
}

TEMPLATE_TEST_CASE("pick: errors", "[ops][indexing]", float, double) {
  using T = TestType;
  const auto a = hybrid::ones<T>({3, 4});
  CHECK_THROWS_AS(hybrid::pick(hybrid::full<T>({}, 1), hybrid::full<T>({}, 0)), ShapeError);
  CHECK_THROWS_WITH(hybrid::pick(hybrid::full<T>({}, 1), hybrid::full<T>({}, 0)),
                    "pick: needs at least one dimension, got shape ()");
  CHECK_THROWS_AS(hybrid::pick(a, hybrid::zeros<T>({4})), ShapeError);
  CHECK_THROWS_WITH(hybrid::pick(a, hybrid::zeros<T>({4})), "pick: index shape must be (3,) or (3, 1), got (3, 4), (4,)");
  CHECK_THROWS_WITH(hybrid::pick(a, hybrid::zeros<T>({3}), 0),
                    "pick: index shape must be (4,) or (1, 4), got (3, 4), (3,)");
  CHECK_THROWS_WITH(hybrid::pick(a, hybrid::zeros<T>({1, 3})), Contains("index shape must be (3,) or (3, 1)"));
  CHECK_THROWS_WITH(hybrid::pick(a, hybrid::zeros<T>({3, 4})), Contains("index shape must be"));
  CHECK_THROWS_AS(hybrid::pick(a, hybrid::zeros<T>({3}), 2), ShapeError);
  CHECK_THROWS_WITH(hybrid::pick(a, hybrid::zeros<T>({3}), 2), "pick: axis 2 is out of range for a tensor of 2 dimensions");
  // Index values.
  CHECK_THROWS_AS(hybrid::pick(a, values<T>({0, 1, 4}, {3})), hybrid::Error);
  CHECK_THROWS_WITH(hybrid::pick(a, values<T>({0, 1, 4}, {3})),
                    Contains("pick: index 4") && Contains("at position 2") && Contains("[0, 4)"));
  CHECK_THROWS_WITH(hybrid::pick(a, values<T>({0, 1, 2, -1}, {1, 4}), 0),
                    Contains("pick: index -1") && Contains("at position 3") && Contains("[0, 3)"));
  CHECK_THROWS_WITH(hybrid::pick(a, values<T>({0.5, 1, 2}, {3, 1})), Contains("index 0.5") && Contains("position 0"));
  CHECK_THROWS_WITH(hybrid::pick(a, values<T>({0, std::numeric_limits<T>::quiet_NaN(), 1}, {3})),
                    Contains("pick: index nan") && Contains("position 1"));
  CHECK_THROWS_WITH(hybrid::pick(hybrid::zeros<T>({2, 0}), hybrid::zeros<T>({2})), Contains("pick") && Contains("[0, 0)"));
  CHECK_THROWS_AS(hybrid::pick(TensorT<T>(), a), hybrid::Error);
  CHECK_THROWS_WITH(hybrid::pick(a, TensorT<T>()), "pick: input 1 is an undefined tensor");
}

// ---------------------------------------------------------------------------
// one_hot

TEMPLATE_TEST_CASE("one_hot: a last axis of classes", "[ops][indexing]", float, double) {
  using T = TestType;
  ref::Rng r(161);
  std::vector<std::pair<Dims, int64_t>> cases = {{{}, 4},   {{1}, 1},    {{0}, 3},   {{2, 0}, 5}, {{700}, 3},
                                                 {{3}, 600}, {{2, 3}, 2}, {{1030}, 1}, {{2, 1, 3, 2}, 4}};
  for (int i = 0; i < 40; ++i) cases.emplace_back(ref::random_dims(r, 0, 3, 4), 1 + r.below(6));
  for (const auto& [d, depth] : cases) {
    const bool defaults = r.chance(30);
    const double on = defaults ? 1 : ref::rounded<T>(Array{{r.uniform(-5, 5)}, {}}).v[0];
    const double off = defaults ? 0 : ref::rounded<T>(Array{{r.uniform(-5, 5)}, {}}).v[0];
    INFO("one_hot " << ref::text(d) << " of depth " << depth << ", on " << on << ", off " << off);
    const Array idx = random_indices(r, d, depth);
    const auto t = ref::tensor<T>(idx);
    ref::check_equal(defaults ? hybrid::one_hot(t, depth) : hybrid::one_hot(t, depth, on, off),
                     ref::one_hot(idx, depth, on, off));
  }
  // By hand; depth 0 is allowed when there are no indices; non-finite values.
  CHECK(hybrid::one_hot(values<T>({2, 0}, {2}), 3).to_vector() == std::vector<T>{0, 0, 1, 1, 0, 0});
  CHECK(hybrid::one_hot(hybrid::full<T>({}, 1), 2, 5, -1).to_vector() == std::vector<T>{-1, 5});
  CHECK(hybrid::one_hot(hybrid::zeros<T>({0}), 0).shape() == Shape{0, 0});
  const T inf = std::numeric_limits<T>::infinity();
  CHECK(hybrid::one_hot(hybrid::full<T>({1}, 0), 2, static_cast<double>(inf), -static_cast<double>(inf)).to_vector() ==
        std::vector<T>{inf, -inf});
}

TEMPLATE_TEST_CASE("one_hot: errors", "[ops][indexing]", float, double) {
  using T = TestType;
  CHECK_THROWS_AS(hybrid::one_hot(hybrid::zeros<T>({2}), -1), ShapeError);
  CHECK_THROWS_WITH(hybrid::one_hot(hybrid::zeros<T>({2}), -1), "one_hot: depth must be >= 0, got -1");
  const auto eight = hybrid::zeros<T>({1, 1, 1, 1, 1, 1, 1, 1});
  CHECK_THROWS_AS(hybrid::one_hot(eight, 2), ShapeError);
  CHECK_THROWS_WITH(hybrid::one_hot(eight, 2), Contains("one_hot") && Contains("already have 8 dimensions"));
  // The result's element count must fit int64 (checked before anything is allocated).
  const int64_t big = int64_t(1) << 40;
  CHECK_THROWS_AS(hybrid::one_hot(hybrid::zeros<T>({0, big}), big), ShapeError);
  CHECK_THROWS_WITH(hybrid::one_hot(hybrid::zeros<T>({0, big}), big), Contains("one_hot") && Contains("overflows"));
  // Index values.
  CHECK_THROWS_AS(hybrid::one_hot(values<T>({0, 3}, {2}), 3), hybrid::Error);
  CHECK_THROWS_WITH(hybrid::one_hot(values<T>({0, 3}, {2}), 3),
                    Contains("one_hot: index 3") && Contains("at position 1") && Contains("[0, 3)"));
  CHECK_THROWS_WITH(hybrid::one_hot(values<T>({0, 1, 1, -2}, {2, 2}), 3),
                    Contains("index -2") && Contains("position 3"));
  CHECK_THROWS_WITH(hybrid::one_hot(values<T>({1.25}, {1}), 3), Contains("one_hot: index 1.25") && Contains("position 0"));
  CHECK_THROWS_WITH(hybrid::one_hot(values<T>({std::numeric_limits<T>::quiet_NaN()}, {1}), 3),
                    Contains("one_hot: index nan"));
  CHECK_THROWS_WITH(hybrid::one_hot(hybrid::zeros<T>({2}), 0), Contains("one_hot: index 0") && Contains("[0, 0)"));
  CHECK_THROWS_AS(hybrid::one_hot(TensorT<T>(), 2), hybrid::Error);
  CHECK_THROWS_WITH(hybrid::one_hot(TensorT<T>(), 2), "one_hot: input 0 is an undefined tensor");
}

// ---------------------------------------------------------------------------
// argmax

TEMPLATE_TEST_CASE("argmax: the first largest entry along an axis", "[ops][indexing]", float, double) {
  using T = TestType;
  ref::Rng r(171);
  std::vector<Dims> shapes = {{1}, {5}, {1030}, {3, 700}, {700, 3}, {1, 1}, {0, 3}, {3, 0, 2}, {2, 3, 4, 5}};
  for (int i = 0; i < 40; ++i) shapes.push_back(ref::random_dims(r, 1, 4, 5));
  for (const Dims& d : shapes) {
    const int nd = static_cast<int>(d.size());
    // Small integers make ties; a few NaN count as the largest.
    Array x{ref::random_integers(r, ref::count(d), -2, 2), d};
    for (double& v : x.v)
      if (r.chance(3)) v = std::numeric_limits<double>::quiet_NaN();
    const auto t = ref::tensor<T>(x);
    for (int axis = 0; axis < nd; ++axis) {
      if (d[axis] == 0) continue;  // an error, tested below
      for (bool keepdims : {false, true}) {
        const int64_t given = r.chance(40) ? axis - nd : axis;
        INFO("argmax of " << ref::text(d) << " along axis " << given << ", keepdims " << keepdims);
        ref::check_equal(hybrid::argmax(t, given, keepdims), ref::argmax(x, axis, keepdims));
      }
    }
  }
  const T inf = std::numeric_limits<T>::infinity(), nan = std::numeric_limits<T>::quiet_NaN();
  CHECK(hybrid::argmax(values<T>({1, 3, 3, 2}, {4}), 0).item() == T(1));
  CHECK(hybrid::argmax(values<T>({-inf, -inf}, {2}), 0).item() == T(0));
  CHECK(hybrid::argmax(values<T>({1, inf, 5}, {3}), 0).item() == T(1));
  CHECK(hybrid::argmax(values<T>({1, nan, 5, nan}, {4}), 0).item() == T(1));
  CHECK(hybrid::argmax(values<T>({nan, 7, inf}, {3}), -1).item() == T(0));
  CHECK(hybrid::argmax(values<T>({-0.0, 0.0}, {2}), 0).item() == T(0));  // equal: the first
  const auto m = values<T>({1, 9, 3, 7, 2, 8}, {2, 3});
  CHECK(hybrid::argmax(m, 1).to_vector() == std::vector<T>{1, 2});
  CHECK(hybrid::argmax(m, 0, true).shape() == Shape{1, 3});
  CHECK(hybrid::argmax(m, 0, true).to_vector() == std::vector<T>{1, 0, 1});
  CHECK(hybrid::argmax(hybrid::zeros<T>({0, 3}), 1).shape() == Shape{0});
}

TEMPLATE_TEST_CASE("argmax: errors", "[ops][indexing]", float, double) {
  using T = TestType;
  CHECK_THROWS_AS(hybrid::argmax(hybrid::full<T>({}, 1), 0), ShapeError);
  CHECK_THROWS_WITH(hybrid::argmax(hybrid::full<T>({}, 1), 0), "argmax: needs at least one dimension, got shape ()");
  CHECK_THROWS_AS(hybrid::argmax(hybrid::zeros<T>({2, 0}), 1), ShapeError);
  CHECK_THROWS_WITH(hybrid::argmax(hybrid::zeros<T>({2, 0}), 1), "argmax: axis 1 of shape (2, 0) is empty");
  CHECK_THROWS_WITH(hybrid::argmax(hybrid::zeros<T>({0}), -1), "argmax: axis 0 of shape (0,) is empty");
  const auto a = hybrid::ones<T>({2, 3});
  CHECK_THROWS_AS(hybrid::argmax(a, 2), ShapeError);
  CHECK_THROWS_WITH(hybrid::argmax(a, 2), "argmax: axis 2 is out of range for a tensor of 2 dimensions");
  CHECK_THROWS_WITH(hybrid::argmax(a, -3, true), "argmax: axis -3 is out of range for a tensor of 2 dimensions");
  CHECK_THROWS_AS(hybrid::argmax(TensorT<T>(), 0), hybrid::Error);
  CHECK_THROWS_WITH(hybrid::argmax(TensorT<T>(), 0), "argmax: input 0 is an undefined tensor");
}

// ---------------------------------------------------------------------------
// In a compiled plan.

TEMPLATE_TEST_CASE("indexing ops give the same results hybridized", "[ops][indexing]", float, double) {
  using T = TestType;
  auto fn = [](const TensorT<T>& x) {
    const TensorT<T> best = hybrid::argmax(x, 1);                   // (4,): per row, in [0, 5)
    const TensorT<T> cols = hybrid::argmax(x, 0);                   // (5,): per column, in [0, 4)
    return hybrid::pick(x, best, 1, true) + hybrid::one_hot(best, 5, 2.0, -0.5) +
           hybrid::take(x, cols, 1) * T(0.25) + hybrid::take(x, hybrid::full<T>({}, 3), 0);  // (4, 5)
  };
  hybrid::nn::HybridLambdaT<T> net(fn);
  net.hybridize();
  hybrid::random::seed(7);
  for (int run = 0; run < 3; ++run) {
    const TensorT<T> x = hybrid::random::normal<T>({4, 5});
    const TensorT<T> y = net(x);
    const TensorT<T> expected = fn(x);
    CHECK(y.shape() == Shape{4, 5});
    CHECK(y.to_vector() == expected.to_vector());
  }
}

TEMPLATE_TEST_CASE("a bad index in a compiled plan throws and the plan still runs", "[ops][indexing]", float,
                   double) {
  using T = TestType;
  hybrid::nn::HybridLambdaT<T> net([](const TensorT<T>& x) { return hybrid::one_hot(x, 4) * T(3); });
  net.hybridize();
  CHECK(net(values<T>({0, 3, 1}, {3})).to_vector() == std::vector<T>{3, 0, 0, 0, 0, 0, 0, 3, 0, 3, 0, 0});
  CHECK_THROWS_AS(net(values<T>({0, 4, 1}, {3})), hybrid::Error);
  CHECK_THROWS_WITH(net(values<T>({0, 1, 1.5}, {3})),
                    Contains("one_hot: index 1.5") && Contains("position 2") && Contains("[0, 4)"));
  CHECK(net(values<T>({2, 2, 0}, {3})).to_vector() == std::vector<T>{0, 0, 3, 0, 0, 0, 3, 0, 3, 0, 0, 0});
}
