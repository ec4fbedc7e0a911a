// matmul (2-D and batched with broadcast leading dims) and fully_connected,
// against naive triple loops.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "../reference.hpp"

using Catch::Contains;
using hybrid::OpCode;
using hybrid::ShapeError;
using hybrid::TensorT;
using ref::Array;
using ref::Dims;

namespace {

Dims with_matrix(Dims batch, int64_t rows, int64_t cols) {
  batch.push_back(rows);
  batch.push_back(cols);
  return batch;
}

/// (a shape, b shape) pairs: fixed edge cases, then random 2-D and batched ones.
std::vector<std::pair<Dims, Dims>> matmul_shapes() {
  std::vector<std::pair<Dims, Dims>> cases = {
      {{1, 1}, {1, 1}},
      {{2, 3}, {3, 4}},
      {{33, 65}, {65, 17}},        // past Eigen's small-product path
      {{1, 64}, {64, 1}},
      {{70, 1}, {1, 80}},          // an outer product
      {{0, 3}, {3, 4}},            // 0-size rows
      {{3, 4}, {4, 0}},            // 0-size columns
      {{3, 0}, {0, 4}},            // empty inner dimension: zeros
      {{2, 1, 4, 3}, {5, 3, 2}},   // batch dims broadcast: (2, 5, 4, 2)
      {{4, 3}, {2, 3, 5}},         // a 2-D operand against a batch
      {{2, 4, 3}, {3, 5}},
      {{2, 0, 3, 4}, {4, 5}},      // 0-size batch
      {{1, 3, 2}, {4, 2, 2}},
      {{2, 1, 1, 2, 3}, {3, 1, 3, 1}},
  };
  ref::Rng r(31);
  for (int i = 0; i < 20; ++i) {
    const int64_t m = r.below(6), k = r.below(6), n = r.below(6);
    cases.emplace_back(Dims{m + 1, k + 1}, Dims{k + 1, n + 1});
  }
  for (int i = 0; i < 25; ++i) {
    const Dims batch = ref::random_dims(r, 1, 3, 3);
    const int64_t m = 1 + r.below(5), k = r.below(5), n = 1 + r.below(5);
    Dims a = with_matrix(ref::broadcastable_to(r, batch), m, k);
    Dims b = with_matrix(ref::broadcastable_to(r, batch), k, n);
    cases.emplace_back(a, b);
  }
  return cases;
}

template <class T>
Array fully_connected_ref(const Array& x, const Array& w, const Array* bias, bool flatten, double (*act)(double)) {
  const int64_t units = w.shape[0], in_units = w.shape[1];
  // The data as a matrix of rows of in_units features.
  Array x2 = x;
  const int64_t rows = flatten ? x.shape[0] : ref::count(Dims(x.shape.begin(), x.shape.end() - 1));
  x2.shape = {rows, in_units};
  Array y = ref::matmul(x2, ref::transpose(w, {1, 0}));
  for (int64_t i = 0; i < ref::count(y.shape); ++i) {
    double v = y.v[i] + (bias ? bias->v[i % units] : 0.0);
    y.v[i] = act ? act(v) : v;
  }
  if (flatten) {
    y.shape = {x.shape[0], units};
  } else {
    y.shape = Dims(x.shape.begin(), x.shape.end() - 1);
    y.shape.push_back(units);
  }
  return y;
}

}  // namespace

TEMPLATE_TEST_CASE("matmul: matches a naive triple loop", "[ops][linalg]", float, double) {
  using T = TestType;
  ref::Rng r(3);
  for (const auto& [da, db] : matmul_shapes()) {
    INFO("matmul " << ref::text(da) << " @ " << ref::text(db));
    const Array a = ref::random_array<T>(r, da, -1, 1), b = ref::random_array<T>(r, db, -1, 1);
    const auto got = hybrid::matmul(ref::tensor<T>(a), ref::tensor<T>(b));
    ref::check_close(got, ref::matmul(a, b), static_cast<double>(da.back() + 1));
  }
}

TEMPLATE_TEST_CASE("matmul: a small product by hand", "[ops][linalg]", float, double) {
  using T = TestType;
  const auto a = hybrid::from_vector<T>({1, 2, 3, 4, 5, 6}, {2, 3});
  const auto b = hybrid::from_vector<T>({7, 8, 9, 10, 11, 12}, {3, 2});
  const auto c = hybrid::matmul(a, b);
  CHECK(c.shape() == hybrid::Shape{2, 2});
  CHECK(c.to_vector() == std::vector<T>{58, 64, 139, 154});
  // The inputs are untouched and the result has its own storage.
  CHECK(a.to_vector() == std::vector<T>{1, 2, 3, 4, 5, 6});
  CHECK(c.data() != a.data());
  // An empty inner dimension gives zeros, not uninitialised memory.
  CHECK(hybrid::matmul(hybrid::ones<T>({2, 0}), hybrid::ones<T>({0, 3})).to_vector() == std::vector<T>(6, T(0)));
}

TEMPLATE_TEST_CASE("matmul: shape errors", "[ops][linalg]", float, double) {
  using T = TestType;
  CHECK_THROWS_AS(hybrid::matmul(hybrid::ones<T>({2, 3}), hybrid::ones<T>({4, 5})), ShapeError);
  CHECK_THROWS_WITH(hybrid::matmul(hybrid::ones<T>({2, 3}), hybrid::ones<T>({4, 5})),
                    "matmul: inner dimensions differ: (2, 3), (4, 5)");
  CHECK_THROWS_WITH(hybrid::matmul(hybrid::ones<T>({7, 2, 3}), hybrid::ones<T>({2, 3})),
                    Contains("inner dimensions differ") && Contains("(7, 2, 3)") && Contains("(2, 3)"));
  CHECK_THROWS_AS(hybrid::matmul(hybrid::ones<T>({3}), hybrid::ones<T>({3, 2})), ShapeError);
  CHECK_THROWS_WITH(hybrid::matmul(hybrid::ones<T>({3}), hybrid::ones<T>({3, 2})),
                    "matmul: operands need at least 2 dimensions, got (3,), (3, 2)");
  CHECK_THROWS_WITH(hybrid::matmul(hybrid::ones<T>({2, 3}), hybrid::ones<T>({})),
                    Contains("at least 2 dimensions") && Contains("()"));
  CHECK_THROWS_AS(hybrid::matmul(hybrid::ones<T>({2, 3, 4}), hybrid::ones<T>({3, 4, 5})), ShapeError);
  CHECK_THROWS_WITH(hybrid::matmul(hybrid::ones<T>({2, 3, 4}), hybrid::ones<T>({3, 4, 5})),
                    Contains("matmul") && Contains("(2,)") && Contains("(3,)") && Contains("cannot be broadcast"));
  CHECK_THROWS_AS(hybrid::matmul(hybrid::ones<T>({2, 3}), TensorT<T>()), hybrid::Error);
  CHECK_THROWS_WITH(hybrid::matmul(hybrid::ones<T>({2, 3}), TensorT<T>()), "matmul: input 1 is an undefined tensor");
}

TEMPLATE_TEST_CASE("fully_connected: x · Wᵀ + b, then the activation", "[ops][linalg]", float, double) {
  using T = TestType;
  ref::Rng r(41);
  struct Act {
    OpCode op;
    double (*fn)(double);
  };
  const std::vector<Act> acts = {
      {OpCode::count, nullptr},
      {OpCode::relu, [](double v) { return v > 0 ? v : 0.0; }},
      {OpCode::sigmoid, [](double v) { return 1 / (1 + std::exp(-v)); }},
      {OpCode::tanh, [](double v) { return std::tanh(v); }},
      {OpCode::softrelu, [](double v) { return std::log1p(std::exp(v)); }},
  };
  struct Case {
    Dims x;
    int64_t units;
    bool flatten;
  };
  const std::vector<Case> cases = {
      {{1, 5}, 3, true},        // one row: the matrix-vector path
      {{4, 5}, 3, true},
      {{40, 7}, 1000, true},    // rows split into several blocks
      {{17, 7}, 1000, true},    // the last block holds one row
      {{2, 3, 4}, 6, true},     // flattened to (2, 12)
      {{2, 3, 4}, 6, false},    // applied to the last axis: (2, 3, 6)
      {{5}, 2, false},          // a single vector
      {{0, 4}, 3, true},
      {{3, 0}, 4, true},        // no input features: just the bias
      {{2, 2, 2, 2}, 1, false},
  };
  for (const Act& act : acts) {
    for (const Case& c : cases) {
      for (bool use_bias : {true, false}) {
        int64_t in_units = c.x.back();
        if (c.flatten) in_units = ref::count(Dims(c.x.begin() + 1, c.x.end()));
        INFO("x " << ref::text(c.x) << ", units " << c.units << ", flatten " << c.flatten << ", bias " << use_bias
                  << ", activation " << (act.fn ? hybrid::op_def(act.op).name : "none"));
        const Array x = ref::random_array<T>(r, c.x, -1, 1);
        const Array w = ref::random_array<T>(r, {c.units, in_units}, -1, 1);
        const Array b = ref::random_array<T>(r, {c.units}, -1, 1);
        const auto got = hybrid::fully_connected(ref::tensor<T>(x), ref::tensor<T>(w),
                                                 use_bias ? ref::tensor<T>(b) : TensorT<T>(), c.flatten, act.op);
        ref::check_close(got, fully_connected_ref<T>(x, w, use_bias ? &b : nullptr, c.flatten, act.fn),
                         static_cast<double>(in_units + 1));
      }
    }
  }
}

TEMPLATE_TEST_CASE("fully_connected: errors", "[ops][linalg]", float, double) {
  using T = TestType;
  const auto x = hybrid::ones<T>({2, 5});
  const auto w = hybrid::ones<T>({3, 4});
  const auto b = hybrid::ones<T>({3});
  CHECK_THROWS_AS(hybrid::fully_connected(x, w, b), ShapeError);
  CHECK_THROWS_WITH(hybrid::fully_connected(x, w, b),
                    "fully_connected: data has 5 features but the weight expects 4: (2, 5), (3, 4), (3,)");
  CHECK_THROWS_WITH(hybrid::fully_connected(hybrid::ones<T>({2, 4}), w, hybrid::ones<T>({4})),
                    Contains("bias shape must be (3,)") && Contains("(4,)"));
  CHECK_THROWS_WITH(hybrid::fully_connected(hybrid::ones<T>({2, 4}), hybrid::ones<T>({3, 4, 1}), b),
                    Contains("needs data of rank >= 1 and a 2-D weight") && Contains("(3, 4, 1)"));
  CHECK_THROWS_WITH(hybrid::fully_connected(hybrid::ones<T>({}), w, b), Contains("fully_connected"));
  CHECK_THROWS_AS(hybrid::fully_connected(hybrid::ones<T>({2, 4}), w, b, true, OpCode::exp), hybrid::Error);
  CHECK_THROWS_WITH(hybrid::fully_connected(hybrid::ones<T>({2, 4}), w, b, true, OpCode::exp),
                    "fully_connected: exp is not an activation");
  CHECK_THROWS_WITH(hybrid::fully_connected(TensorT<T>(), w, b), "fully_connected: input 0 is an undefined tensor");
}
