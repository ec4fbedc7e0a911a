// random::permutation: Fisher–Yates on the library's generator.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include <hybrid/core/random.hpp>

TEST_CASE("random::permutation orders 0..n-1, deterministically after seed", "[core][random]") {
  CHECK(hybrid::random::permutation(0).empty());
  CHECK(hybrid::random::permutation(-3).empty());
  CHECK(hybrid::random::permutation(1) == std::vector<int64_t>{0});

  hybrid::random::seed(3);
  const std::vector<int64_t> a = hybrid::random::permutation(1000), b = hybrid::random::permutation(1000);
  hybrid::random::seed(3);
  CHECK(hybrid::random::permutation(1000) == a);  // the same sequence after the same seed
  CHECK(hybrid::random::permutation(1000) == b);
  CHECK(a != b);  // each call draws a new order

  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) REQUIRE(sorted[static_cast<size_t>(i)] == i);
  int64_t fixed = 0;
  for (int64_t i = 0; i < 1000; ++i) fixed += a[static_cast<size_t>(i)] == i;
  CHECK(fixed < 10);  // about one fixed point is expected of a uniform permutation
}

TEST_CASE("random::permutation is uniform over the orders of three", "[core][random]") {
  hybrid::random::seed(11);
  std::vector<int> counts(9, 0);  // by (first, second) element
  const int draws = 60000;
  for (int k = 0; k < draws; ++k) {
    const auto p = hybrid::random::permutation(3);
    ++counts[static_cast<size_t>(p[0] * 3 + p[1])];
  }
  for (int first = 0; first < 3; ++first)
    for (int second = 0; second < 3; ++second) {
      const int c = counts[static_cast<size_t>(first * 3 + second)];
      if (first == second) CHECK(c == 0);
      else CHECK(std::abs(c - draws / 6) < 500);  // 6 orders; about 5 standard deviations
    }
}
