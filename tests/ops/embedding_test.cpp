// embedding and its backward (a scatter-add) against naive loops, in float
// and double, indices of rank 0-3; every bad index is an Error naming the op
// and the index, never a crash or a clamp.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>

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

template <class T>
TensorT<T> embedding_backward(const TensorT<T>& indices, const TensorT<T>& dy, int64_t input_dim) {
  Attrs at;
  at.depth = input_dim;
  return hybrid::ops::apply<T>(OpCode::embedding_backward, {&indices, &dy}, at);
}

}  // namespace

TEMPLATE_TEST_CASE("embedding and its scatter-add against naive loops", "[ops][embedding]", float, double) {
  using T = TestType;
  ref::Rng r(44);
  for (const Dims& idx_shape : std::vector<Dims>{{}, {5}, {2, 3}, {2, 0}, {3, 2, 2}}) {
    for (const auto& [rows, width] : std::vector<std::pair<int64_t, int64_t>>{{4, 3}, {1, 5}, {6, 1}, {3, 0}}) {
      INFO("indices " << ref::text(idx_shape) << " weight (" << rows << ", " << width << ")");
      const Array idx{ref::random_integers(r, ref::count(idx_shape), 0, static_cast<int>(rows - 1)), idx_shape};
      const Array w = ref::random_array<T>(r, {rows, width}, -2, 2);
      Dims out_shape = idx_shape;
      out_shape.push_back(width);
      Array want{ref::Values(static_cast<size_t>(ref::count(out_shape))), out_shape};
      const Array dy = ref::random_array<T>(r, out_shape, -1, 1);
      Array dw{ref::Values(static_cast<size_t>(rows * width), 0.0), {rows, width}};
      for (size_t p = 0; p < idx.v.size(); ++p)
        for (int64_t j = 0; j < width; ++j) {
          const size_t row = static_cast<size_t>(idx.v[p]) * static_cast<size_t>(width) + static_cast<size_t>(j);
          want.v[p * static_cast<size_t>(width) + static_cast<size_t>(j)] = w.v[row];
          dw.v[row] += dy.v[p * static_cast<size_t>(width) + static_cast<size_t>(j)];
        }
      const TensorT<T> it = ref::tensor<T>(idx);
      ref::check_equal(hybrid::embedding(it, ref::tensor<T>(w)), want);
      ref::check_close(embedding_backward(it, ref::tensor<T>(dy), rows), dw, 4);
    }
  }
}

TEMPLATE_TEST_CASE("embedding: a bad index is an Error naming the op and the index", "[ops][embedding]", float,
                   double) {
  using T = TestType;
  const TensorT<T> w = hybrid::ones<T>({4, 2});
  const T nan = std::numeric_limits<T>::quiet_NaN(), inf = std::numeric_limits<T>::infinity();
  for (T bad : {T(4), T(-1), T(1.5), nan, inf, T(1e30)}) {
    INFO(bad);
    const TensorT<T> idx = hybrid::from_vector<T>({0, bad, 1}, {3});
    try {
      hybrid::embedding(idx, w);
      FAIL("no error");
    } catch (const ShapeError&) {
      FAIL("a value error is not a ShapeError");
    } catch (const hybrid::Error& e) {
      CHECK_THAT(std::string(e.what()), Contains("embedding") && Contains("index") && Contains("position 1") &&
                                            Contains("[0, 4)"));
    }
    CHECK_THROWS_WITH(embedding_backward(idx, hybrid::ones<T>({3, 2}), 4),
                      Contains("embedding_backward") && Contains("position 1"));
  }
}

TEST_CASE("embedding shape errors name the op and the shapes", "[ops][embedding]") {
  const hybrid::Tensor idx = hybrid::zeros<float>({2, 3});
  CHECK_THROWS_AS(hybrid::embedding(idx, hybrid::ones<float>({4})), ShapeError);
  CHECK_THROWS_WITH(hybrid::embedding(idx, hybrid::ones<float>({4, 2, 1})),
                    Contains("embedding") && Contains("(input_dim, output_dim)") && Contains("(4, 2, 1)"));
  CHECK_THROWS_WITH(embedding_backward(idx, hybrid::ones<float>({2, 2, 5}), 4),
                    Contains("embedding_backward") && Contains("(2, 3), (2, 2, 5)"));
  CHECK_THROWS_WITH(embedding_backward(idx, hybrid::ones<float>({2, 3, 5}), -1),
                    Contains("embedding_backward") && Contains("depth"));
}
