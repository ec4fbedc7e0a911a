// Reductions (sum, mean, max over all axes or one, keepdims) and softmax /
// log_softmax, against naive loops; empty inputs and every error path.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "../reference.hpp"

using Catch::Contains;
using hybrid::Shape;
using hybrid::ShapeError;
using hybrid::TensorT;
using ref::Array;
using ref::Dims;
using ref::Reduce;

namespace {

template <class T>
TensorT<T> reduce_all(Reduce kind, const TensorT<T>& t) {
  switch (kind) {
    case Reduce::sum: return hybrid::sum(t);
    case Reduce::mean: return hybrid::mean(t);
    default: return hybrid::max(t);
  }
}

template <class T>
TensorT<T> reduce_axis(Reduce kind, const TensorT<T>& t, int64_t axis, bool keepdims) {
  switch (kind) {
    case Reduce::sum: return hybrid::sum(t, axis, keepdims);
    case Reduce::mean: return hybrid::mean(t, axis, keepdims);
    default: return hybrid::max(t, axis, keepdims);
  }
}

template <class T>
TensorT<T> reduce_axes(Reduce kind, const TensorT<T>& t, const std::vector<int64_t>& axes, bool keepdims) {
  switch (kind) {
    case Reduce::sum: return hybrid::sum(t, axes, keepdims);
    case Reduce::mean: return hybrid::mean(t, axes, keepdims);
    default: return hybrid::max(t, axes, keepdims);
  }
}

const char* name(Reduce kind) {
  return kind == Reduce::sum ? "sum" : kind == Reduce::mean ? "mean" : "max";
}

}  // namespace

TEMPLATE_TEST_CASE("reduce: over all axes", "[ops][reduce]", float, double) {
  using T = TestType;
  ref::Rng r(91);
  std::vector<Dims> shapes = {{}, {1}, {1030}, {3, 700}, {2, 3, 4, 5}, {0}, {2, 0, 3}};
  for (int i = 0; i < 30; ++i) shapes.push_back(ref::random_dims(r, 0, 4, 5));
  for (Reduce kind : {Reduce::sum, Reduce::mean, Reduce::max}) {
    for (const Dims& d : shapes) {
      if (kind == Reduce::max && ref::count(d) == 0) continue;  // an error, tested below
      INFO(name(kind) << " of " << ref::text(d));
      const Array x = ref::random_array<T>(r, d, -1, 1);
      const auto t = ref::tensor<T>(x);
      const double terms = static_cast<double>(ref::count(d) + 1);
      ref::check_close(reduce_all(kind, t), ref::reduce(x, -1, false, kind), terms);
      // keepdims over all axes (every axis listed): every axis stays, with extent 1.
      std::vector<int64_t> all_axes;
      for (int a = 0; a < static_cast<int>(d.size()); ++a) all_axes.push_back(a);
      const auto kept = all_axes.empty() ? reduce_all(kind, t) : reduce_axes(kind, t, all_axes, true);
      ref::check_close(kept, ref::reduce(x, -1, true, kind), terms);
    }
  }
}

TEMPLATE_TEST_CASE("reduce: along one axis, negative axes, keepdims", "[ops][reduce]", float, double) {
  using T = TestType;
  ref::Rng r(92);
  std::vector<Dims> shapes = {{1030}, {3, 700}, {700, 3}, {2, 3, 4, 5}, {2, 0, 3}, {0, 100}, {4, 0}, {1, 1, 1}};
  for (int i = 0; i < 30; ++i) shapes.push_back(ref::random_dims(r, 1, 4, 5));
  for (Reduce kind : {Reduce::sum, Reduce::mean, Reduce::max}) {
    for (const Dims& d : shapes) {
      const int nd = static_cast<int>(d.size());
      const Array x = ref::random_array<T>(r, d, -1, 1);
      const auto t = ref::tensor<T>(x);
      for (int axis = 0; axis < nd; ++axis) {
        if (kind == Reduce::max && d[axis] == 0) continue;  // an error, tested below
        for (bool keepdims : {false, true}) {
          const int64_t given = r.chance(50) ? axis - nd : axis;
          INFO(name(kind) << " of " << ref::text(d) << " along axis " << given << ", keepdims " << keepdims);
          ref::check_close(reduce_axis(kind, t, given, keepdims), ref::reduce(x, axis, keepdims, kind),
                           static_cast<double>(d[axis] + 1));
        }
      }
    }
  }
}

TEMPLATE_TEST_CASE("reduce: small cases by hand", "[ops][reduce]", float, double) {
  using T = TestType;
  const auto a = hybrid::from_vector<T>({1, 5, 3, 4, 2, 6}, {2, 3});
  CHECK(hybrid::sum(a).shape() == Shape{});
  CHECK(hybrid::sum(a).item() == T(21));
  CHECK(hybrid::mean(a).item() == T(3.5));
  CHECK(hybrid::max(a).item() == T(6));
  CHECK(hybrid::sum(a, 0).to_vector() == std::vector<T>{5, 7, 9});
  CHECK(hybrid::sum(a, 0, true).shape() == Shape{1, 3});
  CHECK(hybrid::mean(a, 1).to_vector() == std::vector<T>{3, 4});
  CHECK(hybrid::mean(a, -1, true).shape() == Shape{2, 1});
  CHECK(hybrid::max(a, -2).to_vector() == std::vector<T>{4, 5, 6});
  CHECK(hybrid::max(a, 1).to_vector() == std::vector<T>{5, 6});
  CHECK(hybrid::max(hybrid::from_vector<T>({-3, -1, -2})).item() == T(-1));
  // 0-d input: the value itself.
  CHECK(hybrid::sum(hybrid::full<T>({}, 2)).item() == T(2));
  CHECK(hybrid::max(hybrid::full<T>({}, -2)).item() == T(-2));
}

TEMPLATE_TEST_CASE("reduce: empty inputs", "[ops][reduce]", float, double) {
  using T = TestType;
  // Sums of nothing are 0; means of nothing are NaN, as in NumPy.
  CHECK(hybrid::sum(hybrid::zeros<T>({0})).item() == T(0));
  CHECK(std::isnan(hybrid::mean(hybrid::zeros<T>({2, 0})).item()));
  // Reducing an empty axis of a tensor whose other axes are not empty.
  const auto e = hybrid::zeros<T>({0, 100});
  const auto s = hybrid::sum(e, 0);
  CHECK(s.shape() == Shape{100});
  CHECK(s.to_vector() == std::vector<T>(100, T(0)));
  const auto m = hybrid::mean(e, 0, true);
  CHECK(m.shape() == Shape{1, 100});
  bool all_nan = true;
  for (T v : m.to_vector()) all_nan = all_nan && std::isnan(v);
  CHECK(all_nan);
  const auto s3 = hybrid::sum(hybrid::zeros<T>({3, 0, 50}), 1);
  CHECK(s3.to_vector() == std::vector<T>(150, T(0)));
  CHECK(hybrid::sum(hybrid::zeros<T>({0, 100}), 1).shape() == Shape{0});
  CHECK(hybrid::max(hybrid::zeros<T>({0, 100}), 1).shape() == Shape{0});
}

TEMPLATE_TEST_CASE("reduce: errors", "[ops][reduce]", float, double) {
  using T = TestType;
  CHECK_THROWS_AS(hybrid::max(hybrid::zeros<T>({0, 3})), ShapeError);
  CHECK_THROWS_WITH(hybrid::max(hybrid::zeros<T>({0, 3})), "max: reduction of an empty tensor of shape (0, 3)");
  CHECK_THROWS_AS(hybrid::max(hybrid::zeros<T>({0, 3}), 0), ShapeError);
  CHECK_THROWS_WITH(hybrid::max(hybrid::zeros<T>({0, 3}), 0), "max: reduction over empty axis 0 of shape (0, 3)");
  CHECK_THROWS_WITH(hybrid::max(hybrid::zeros<T>({3, 0}), -1), Contains("empty axis 1") && Contains("(3, 0)"));

  const auto a = hybrid::ones<T>({2, 3});
  CHECK_THROWS_AS(hybrid::sum(a, 2), ShapeError);
  CHECK_THROWS_WITH(hybrid::sum(a, 2), "sum: axis 2 is out of range for a tensor of 2 dimensions");
  CHECK_THROWS_WITH(hybrid::mean(a, -3, true), "mean: axis -3 is out of range for a tensor of 2 dimensions");
  CHECK_THROWS_WITH(hybrid::max(a, 5), "max: axis 5 is out of range for a tensor of 2 dimensions");
  CHECK_THROWS_WITH(hybrid::sum(hybrid::full<T>({}, 1), 0),
                    "sum: axis 0 is out of range for a tensor of 0 dimensions");
  CHECK_THROWS_AS(hybrid::sum(TensorT<T>()), hybrid::Error);
  CHECK_THROWS_WITH(hybrid::sum(TensorT<T>()), "sum: input 0 is an undefined tensor");
  CHECK_THROWS_WITH(hybrid::max(TensorT<T>(), 0), "max: input 0 is an undefined tensor");
}

TEMPLATE_TEST_CASE("softmax and log_softmax: match the reference", "[ops][reduce]", float, double) {
  using T = TestType;
  ref::Rng r(93);
  std::vector<Dims> shapes = {{1}, {5}, {1030}, {3, 700}, {2, 0, 3}, {0}, {2, 3, 4, 5}};
  for (int i = 0; i < 30; ++i) shapes.push_back(ref::random_dims(r, 1, 4, 5));
  for (const Dims& d : shapes) {
    const int nd = static_cast<int>(d.size());
    const Array x = ref::random_array<T>(r, d, -5, 5);
    const auto t = ref::tensor<T>(x);
    for (int axis = 0; axis < nd; ++axis) {
      const int64_t given = r.chance(50) ? axis - nd : axis;
      INFO("softmax of " << ref::text(d) << " along axis " << given);
      const double terms = static_cast<double>(d[axis] + 1);
      ref::check_close(hybrid::softmax(t, given), ref::softmax(x, axis, false), terms);
      ref::check_close(hybrid::log_softmax(t, given), ref::softmax(x, axis, true), terms);
    }
    // The default axis is the last.
    INFO("softmax of " << ref::text(d) << " along the default axis");
    ref::check_close(hybrid::softmax(t), ref::softmax(x, nd - 1, false), static_cast<double>(d.back() + 1));
    ref::check_close(hybrid::log_softmax(t), ref::softmax(x, nd - 1, true), static_cast<double>(d.back() + 1));
  }
}

TEMPLATE_TEST_CASE("softmax and log_softmax: numerically stable", "[ops][reduce]", float, double) {
  using T = TestType;
  const T inf = std::numeric_limits<T>::infinity();
  // Large inputs do not overflow: only differences matter.
  const auto big = hybrid::from_vector<T>({1000, 1001, 1002});
  const auto small = hybrid::from_vector<T>({0, 1, 2});
  CHECK(hybrid::allclose(hybrid::softmax(big), hybrid::softmax(small)));
  CHECK(hybrid::allclose(hybrid::log_softmax(big), hybrid::log_softmax(small)));
  const auto far = hybrid::log_softmax(hybrid::from_vector<T>({-1000, 0}));
  CHECK(far.to_vector() == std::vector<T>{-1000, 0});
  const auto sm = hybrid::softmax(hybrid::from_vector<T>({-1000, 0})).to_vector();
  CHECK(sm == std::vector<T>{0, 1});
  CHECK(hybrid::softmax(hybrid::from_vector<T>({-inf, 0})).to_vector() == std::vector<T>{0, 1});
  // Rows sum to one.
  ref::Rng r(94);
  const auto x = ref::tensor<T>(ref::random_array<T>(r, {4, 9}, -30, 30));
  const auto rows = hybrid::sum(hybrid::softmax(x, 1), 1);
  CHECK(hybrid::allclose(rows, hybrid::ones<T>({4}), 1e-5, 1e-6));
  const auto cols = hybrid::sum(hybrid::exp(hybrid::log_softmax(x, 0)), 0);
  CHECK(hybrid::allclose(cols, hybrid::ones<T>({9}), 1e-5, 1e-6));
}

TEMPLATE_TEST_CASE("softmax and log_softmax: errors", "[ops][reduce]", float, double) {
  using T = TestType;
  const auto s = hybrid::full<T>({}, 1);
  CHECK_THROWS_AS(hybrid::softmax(s), ShapeError);
  CHECK_THROWS_WITH(hybrid::softmax(s), "softmax: needs at least one dimension, got shape ()");
  CHECK_THROWS_WITH(hybrid::log_softmax(s), "log_softmax: needs at least one dimension, got shape ()");
  const auto a = hybrid::ones<T>({2, 3});
  CHECK_THROWS_AS(hybrid::softmax(a, 2), ShapeError);
  CHECK_THROWS_WITH(hybrid::softmax(a, 2), "softmax: axis 2 is out of range for a tensor of 2 dimensions");
  CHECK_THROWS_WITH(hybrid::log_softmax(a, -3), "log_softmax: axis -3 is out of range for a tensor of 2 dimensions");
  CHECK_THROWS_AS(hybrid::softmax(TensorT<T>()), hybrid::Error);
  CHECK_THROWS_WITH(hybrid::log_softmax(TensorT<T>()), "log_softmax: input 0 is an undefined tensor");
}

// ---------------------------------------------------------------------------
// Reductions over several axes.

namespace {

/// The non-negative axes of `given` (which may count from the end).
Dims normalized(const Dims& given, int nd) {
  Dims axes;
  for (int64_t a : given) axes.push_back(a < 0 ? a + nd : a);
  return axes;
}

}  // namespace

TEMPLATE_TEST_CASE("reduce: over several axes, in any order, negative, keepdims", "[ops][reduce]", float, double) {
  using T = TestType;
  ref::Rng r(95);
  // Fixed cases first: non-adjacent axes take the kernel's general path
  // (several separate reduced groups); adjacent ones and axes separated only
  // by extent-1 axes merge into one group.
  std::vector<std::pair<Dims, Dims>> cases = {
      {{2, 3, 4, 5}, {0, 2}},     {{2, 3, 4, 5}, {1, 3}},     {{2, 3, 4, 5}, {0, 3}},  {{2, 3, 4, 5}, {0, 1, 3}},
      {{2, 3, 4, 5}, {-1, -3}},   {{2, 3, 4, 5}, {3, 0, 2}},  {{2, 3, 4, 5}, {1, 2}},  {{2, 3, 4, 5}, {0, 1, 2, 3}},
      {{2, 1, 4, 5}, {0, 2}},     {{3, 5, 70}, {0, 2}},       {{5, 3, 700}, {0, 2}},   {{700, 3, 2}, {0, 2}},
      {{3, 700}, {0, 1}},         {{1030}, {0}},              {{2, 3, 2, 3, 2}, {0, 2, 4}},
      {{2, 3, 2, 3, 2}, {1, 3}},  {{1, 1, 1}, {0, 2}},        {{0, 3, 4}, {0, 2}},     {{3, 0, 4}, {0, 2}},
      {{3, 4, 0}, {0, 1}},        {{2, 0, 3, 4}, {1, 3}},     {{4, 1}, {1}},           {{1, 4}, {0}},
  };
  for (int i = 0; i < 40; ++i) {
    const Dims d = ref::random_dims(r, 1, 5, 4);
    const int nd = static_cast<int>(d.size());
    Dims axes;
    for (int a = 0; a < nd; ++a)
      if (r.chance(50)) axes.push_back(r.chance(40) ? a - nd : a);
    if (axes.empty()) axes.push_back(r.below(nd));
    for (size_t k = axes.size(); k > 1; --k) std::swap(axes[k - 1], axes[r.below(static_cast<int64_t>(k))]);
    cases.emplace_back(d, axes);
  }
  for (Reduce kind : {Reduce::sum, Reduce::mean, Reduce::max}) {
    for (const auto& [d, given] : cases) {
      const int nd = static_cast<int>(d.size());
      const Dims axes = normalized(given, nd);
      int64_t reduced = 1;
      for (int64_t a : axes) reduced *= d[a];
      bool empty_axis = false;
      for (int64_t a : axes) empty_axis = empty_axis || d[a] == 0;
      if (kind == Reduce::max && empty_axis) continue;  // an error, tested below
      const Array x = ref::random_array<T>(r, d, -1, 1);
      const auto t = ref::tensor<T>(x);
      for (bool keepdims : {false, true}) {
        INFO(name(kind) << " of " << ref::text(d) << " over axes " << ref::text(given) << ", keepdims " << keepdims);
        ref::check_close(reduce_axes(kind, t, std::vector<int64_t>(given.begin(), given.end()), keepdims),
                         ref::reduce_axes(x, axes, keepdims, kind), static_cast<double>(reduced + 1));
      }
    }
  }
}

TEMPLATE_TEST_CASE("reduce: several axes by hand", "[ops][reduce]", float, double) {
  using T = TestType;
  // x[i, j, k] = 100 i + 10 j + k, shape (2, 3, 2).
  std::vector<T> v;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 2; ++k) v.push_back(static_cast<T>(100 * i + 10 * j + k));
  const auto x = hybrid::from_vector<T>(v, {2, 3, 2});
  // Over i and k (not adjacent): for each j, (0 + 1 + 100 + 101) + 4 · 10 j.
  CHECK(hybrid::sum(x, {0, 2}).to_vector() == std::vector<T>{202, 242, 282});
  CHECK(hybrid::sum(x, {2, 0}, true).shape() == Shape{1, 3, 1});
  CHECK(hybrid::mean(x, {-1, -3}).to_vector() == std::vector<T>{50.5, 60.5, 70.5});
  CHECK(hybrid::max(x, {0, 2}).to_vector() == std::vector<T>{101, 111, 121});
  CHECK(hybrid::max(x, {0, 1}).to_vector() == std::vector<T>{120, 121});
  CHECK(hybrid::sum(x, {1, 2}).to_vector() == std::vector<T>{63, 663});
  // One axis in a list is that axis; every axis listed is a full reduction.
  CHECK(hybrid::sum(x, std::vector<int64_t>{1}).to_vector() == hybrid::sum(x, 1).to_vector());
  CHECK(hybrid::sum(x, {0, 1, 2}).item() == hybrid::sum(x).item());
  CHECK(hybrid::max(x, {0, 1, 2}, true).shape() == Shape{1, 1, 1});
  CHECK(hybrid::mean(x, {2, 1, 0}).item() == hybrid::mean(x).item());
}

TEMPLATE_TEST_CASE("reduce: several axes, empty inputs", "[ops][reduce]", float, double) {
  using T = TestType;
  // Nothing reduced into each output: sum 0, mean NaN (general and one-group paths).
  const auto e = hybrid::zeros<T>({0, 3, 4});
  CHECK(hybrid::sum(e, {0, 2}).to_vector() == std::vector<T>(3, T(0)));
  const auto m = hybrid::mean(e, {0, 2}, true);
  CHECK(m.shape() == Shape{1, 3, 1});
  for (T y : m.to_vector()) CHECK(std::isnan(y));
  CHECK(hybrid::sum(hybrid::zeros<T>({2, 0, 3}), {1, 2}).to_vector() == std::vector<T>(2, T(0)));
  // An empty kept axis: an empty result.
  CHECK(hybrid::sum(hybrid::zeros<T>({3, 0, 4}), {0, 2}).shape() == Shape{0});
  CHECK(hybrid::max(hybrid::zeros<T>({3, 0, 4}), {0, 2}).shape() == Shape{0});
}

TEMPLATE_TEST_CASE("reduce: several axes, errors", "[ops][reduce]", float, double) {
  using T = TestType;
  const auto a = hybrid::ones<T>({2, 3, 4});
  // An axis named twice, directly or through a negative axis.
  CHECK_THROWS_AS(hybrid::sum(a, {1, 1}), ShapeError);
  CHECK_THROWS_WITH(hybrid::sum(a, {1, 1}), "sum: axis 1 is named twice in (1, 1)");
  CHECK_THROWS_WITH(hybrid::mean(a, {0, 2, -1}), "mean: axis 2 is named twice in (0, 2, -1)");
  CHECK_THROWS_WITH(hybrid::max(a, {-3, 0}, true), Contains("max: axis 0 is named twice"));
  // An axis out of range anywhere in the list.
  CHECK_THROWS_AS(hybrid::sum(a, {0, 3}), ShapeError);
  CHECK_THROWS_WITH(hybrid::sum(a, {0, 3}), "sum: axis 3 is out of range for a tensor of 3 dimensions");
  CHECK_THROWS_WITH(hybrid::max(a, {-4, 1}), "max: axis -4 is out of range for a tensor of 3 dimensions");
  // An empty list: the API asks for sum(t) instead (the graph's null).
  CHECK_THROWS_AS(hybrid::sum(a, std::vector<int64_t>{}), ShapeError);
  CHECK_THROWS_WITH(hybrid::sum(a, std::vector<int64_t>{}), Contains("sum: an empty axis list") && Contains("sum(t)"));
  CHECK_THROWS_WITH(hybrid::mean(a, std::vector<int64_t>{}, true), Contains("mean: an empty axis list"));
  CHECK_THROWS_WITH(hybrid::max(a, std::vector<int64_t>{}), Contains("max: an empty axis list"));
  // max over an empty axis among several.
  CHECK_THROWS_AS(hybrid::max(hybrid::zeros<T>({3, 0, 2}), {0, 1}), ShapeError);
  CHECK_THROWS_WITH(hybrid::max(hybrid::zeros<T>({3, 0, 2}), {0, 1}),
                    "max: reduction over empty axis 1 of shape (3, 0, 2)");
  CHECK_THROWS_WITH(hybrid::max(TensorT<T>(), {0, 1}), "max: input 0 is an undefined tensor");
}

TEST_CASE("reduce: the graph holds several axes sorted and non-negative", "[ops][reduce]") {
  const auto g = hybrid::trace::trace_graph<float>(
      [](const TensorT<float>& x) { return hybrid::sum(x, {-1, 0}, true) + hybrid::mean(x, {2, -2}); }, Shape{2, 3, 4});
  int seen = 0;
  for (const auto& n : g.nodes) {
    if (n.op == hybrid::OpCode::sum) {
      CHECK(n.attrs.axes == Shape{0, 2});
      CHECK(n.shape == Shape{1, 3, 1});
      ++seen;
    }
    if (n.op == hybrid::OpCode::mean) {
      CHECK(n.attrs.axes == Shape{1, 2});
      CHECK(n.shape == Shape{2});
      ++seen;
    }
  }
  CHECK(seen == 2);
}

TEST_CASE("reduce: max over separated axes of NaN only is NaN", "[ops][reduce]") {
  // Both kernel paths (one reduced group, several separate groups) propagate
  // NaN: max returns one of its operands, never a value in none of them.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const auto x = hybrid::full<float>({2, 3, 2}, nan);
  for (float v : hybrid::max(x, {0, 1}).to_vector()) CHECK(std::isnan(v));  // one group
  for (float v : hybrid::max(x, {0, 2}).to_vector()) CHECK(std::isnan(v));  // two groups
  const auto mixed = hybrid::from_vector<float>({1, nan, 3, 4, 5, 6, 7, 8}, {2, 2, 2});
  const auto m = hybrid::max(mixed, {0, 2}).to_vector();
  CHECK(std::isnan(m[0]));
  CHECK(m[1] == 8);
}
