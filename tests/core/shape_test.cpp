// Shape: construction, comparison, printing, element counts, broadcasting
// and axis normalisation.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>

#include <limits>
#include <sstream>
#include <vector>

using Catch::Contains;
using hybrid::Shape;
using hybrid::ShapeError;

TEST_CASE("shape: construction, access and comparison", "[core][shape]") {
  const Shape s{2, 3, 4};
  CHECK(s.size() == 3);
  CHECK_FALSE(s.empty());
  CHECK(s[0] == 2);
  CHECK(s[1] == 3);
  CHECK(s[2] == 4);
  CHECK(s.back() == 4);
  CHECK(s.to_vector() == std::vector<int64_t>{2, 3, 4});
  CHECK(Shape(std::vector<int64_t>{2, 3, 4}) == s);
  CHECK(Shape{2, 3} != s);
  CHECK(Shape{2, 3, 5} != s);
  CHECK(Shape{} == Shape());
  CHECK(Shape{}.empty());
  CHECK(Shape{}.size() == 0);

  Shape t;
  t.push_back(7);
  t.push_back(0);
  CHECK(t == Shape{7, 0});
  t[1] = 9;
  CHECK(t == Shape{7, 9});

  std::vector<int64_t> seen(s.begin(), s.end());
  CHECK(seen == std::vector<int64_t>{2, 3, 4});
}

TEST_CASE("shape: text form is Python's tuple", "[core][shape]") {
  CHECK(hybrid::to_string(Shape{}) == "()");
  CHECK(hybrid::to_string(Shape{5}) == "(5,)");
  CHECK(hybrid::to_string(Shape{2, 3}) == "(2, 3)");
  CHECK(hybrid::to_string(Shape{1, 0, 512}) == "(1, 0, 512)");
  std::ostringstream os;
  os << Shape{4, 1};
  CHECK(os.str() == "(4, 1)");
}

TEST_CASE("shape: at most 8 dimensions", "[core][shape]") {
  Shape eight{1, 2, 3, 4, 5, 6, 7, 8};
  CHECK(eight.size() == Shape::kMaxDims);
  CHECK_THROWS_AS(eight.push_back(9), ShapeError);
  CHECK_THROWS_WITH(eight.push_back(9), Contains("more than 8 dimensions"));
  CHECK_THROWS_AS((Shape{1, 1, 1, 1, 1, 1, 1, 1, 1}), ShapeError);
  CHECK_THROWS_WITH((Shape{1, 1, 1, 1, 1, 1, 1, 1, 1}), Contains("shape: more than 8 dimensions"));
  CHECK_THROWS_AS(Shape(std::vector<int64_t>(9, 2)), ShapeError);
  CHECK_THROWS_AS(hybrid::zeros<float>({1, 1, 1, 1, 1, 1, 1, 1, 1}), ShapeError);
}

TEST_CASE("shape: element counts", "[core][shape]") {
  CHECK(hybrid::checked_numel(Shape{}) == 1);
  CHECK(hybrid::checked_numel(Shape{2, 3, 4}) == 24);
  CHECK(hybrid::checked_numel(Shape{2, 0, 4}) == 0);
  CHECK(hybrid::numel(Shape{5, 7}) == 35);
  // A zero extent makes the count zero, but the other extents must still
  // multiply without overflow (kernels multiply subsets of them).
  CHECK_THROWS_AS(hybrid::checked_numel(Shape{0, int64_t(1) << 62, int64_t(1) << 62}), ShapeError);
  const int64_t big = int64_t(1) << 31;
  CHECK(hybrid::checked_numel(Shape{big, big}) == (int64_t(1) << 62));

  CHECK_THROWS_AS(hybrid::checked_numel(Shape{2, -1}, "myop"), ShapeError);
  CHECK_THROWS_WITH(hybrid::checked_numel(Shape{2, -1}, "myop"),
                    Contains("myop") && Contains("negative dimension") && Contains("(2, -1)"));
  const Shape huge{int64_t(1) << 40, int64_t(1) << 40};
  CHECK_THROWS_AS(hybrid::checked_numel(huge, "myop"), ShapeError);
  CHECK_THROWS_WITH(hybrid::checked_numel(huge, "myop"),
                    Contains("myop") && Contains("(1099511627776, 1099511627776)") && Contains("overflows"));
  const Shape max_times_two{std::numeric_limits<int64_t>::max(), 2};
  CHECK_THROWS_AS(hybrid::checked_numel(max_times_two), ShapeError);
}

TEST_CASE("shape: a zero extent gives the same answer wherever it stands", "[core][shape]") {
  const int64_t big = int64_t(1) << 31;
  CHECK(hybrid::checked_numel(Shape{0, big, big}) == 0);
  CHECK(hybrid::checked_numel(Shape{big, big, 0}) == 0);
  const int64_t huge = int64_t(1) << 62;
  CHECK_THROWS_AS(hybrid::checked_numel(Shape{0, huge, huge}), ShapeError);
  CHECK_THROWS_AS(hybrid::checked_numel(Shape{huge, huge, 0}), ShapeError);
  const auto z = hybrid::zeros<float>({0, big, big});
  CHECK(z.size() == 0);
  CHECK(hybrid::transpose(z).shape() == Shape{big, big, 0});
}

TEST_CASE("shape: contiguous strides", "[core][shape]") {
  CHECK(hybrid::contiguous_strides(Shape{2, 3, 4}) == Shape{12, 4, 1});
  CHECK(hybrid::contiguous_strides(Shape{5}) == Shape{1});
  CHECK(hybrid::contiguous_strides(Shape{}) == Shape{});
  CHECK(hybrid::contiguous_strides(Shape{3, 0, 2}) == Shape{0, 2, 1});
}

TEST_CASE("shape: NumPy broadcasting", "[core][shape]") {
  using hybrid::broadcast_shapes;
  CHECK(broadcast_shapes(Shape{3, 1}, Shape{4}, "op") == Shape{3, 4});
  CHECK(broadcast_shapes(Shape{4}, Shape{3, 1}, "op") == Shape{3, 4});
  CHECK(broadcast_shapes(Shape{}, Shape{2, 3}, "op") == Shape{2, 3});
  CHECK(broadcast_shapes(Shape{2, 3}, Shape{}, "op") == Shape{2, 3});
  CHECK(broadcast_shapes(Shape{}, Shape{}, "op") == Shape{});
  CHECK(broadcast_shapes(Shape{0}, Shape{1}, "op") == Shape{0});
  CHECK(broadcast_shapes(Shape{2, 1, 0}, Shape{3, 1}, "op") == Shape{2, 3, 0});
  CHECK(broadcast_shapes(Shape{5, 1, 1, 2}, Shape{1, 3, 1}, "op") == Shape{5, 1, 3, 2});
  CHECK(broadcast_shapes(Shape{1}, Shape{1, 1, 1}, "op") == Shape{1, 1, 1});

  CHECK_THROWS_AS(broadcast_shapes(Shape{2, 3}, Shape{4}, "myop"), ShapeError);
  CHECK_THROWS_WITH(broadcast_shapes(Shape{2, 3}, Shape{4}, "myop"),
                    Contains("myop") && Contains("(2, 3)") && Contains("(4,)") && Contains("cannot be broadcast"));
  // 0 only broadcasts with 0 and 1.
  CHECK_THROWS_AS(broadcast_shapes(Shape{0}, Shape{2}, "op"), ShapeError);
}

TEST_CASE("shape: axis normalisation", "[core][shape]") {
  using hybrid::normalize_axis;
  CHECK(normalize_axis(0, 3, "op") == 0);
  CHECK(normalize_axis(2, 3, "op") == 2);
  CHECK(normalize_axis(-1, 3, "op") == 2);
  CHECK(normalize_axis(-3, 3, "op") == 0);
  CHECK_THROWS_AS(normalize_axis(3, 3, "myop"), ShapeError);
  CHECK_THROWS_WITH(normalize_axis(3, 3, "myop"),
                    Contains("myop") && Contains("axis 3 is out of range") && Contains("3 dimensions"));
  CHECK_THROWS_WITH(normalize_axis(-4, 3, "myop"), Contains("myop: axis -4 is out of range"));
  CHECK_THROWS_AS(normalize_axis(0, 0, "myop"), ShapeError);
}

TEST_CASE("dtype: names", "[core][shape]") {
  CHECK(hybrid::to_string(hybrid::DType::float32) == "float32");
  CHECK(hybrid::to_string(hybrid::DType::float64) == "float64");
  CHECK(hybrid::dtype_of<float>() == hybrid::DType::float32);
  CHECK(hybrid::dtype_of<double>() == hybrid::DType::float64);
}
