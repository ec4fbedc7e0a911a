// ArrayDataset: items, gathered batches and the checks on its tensors.
#include <catch2/catch.hpp>
#include <cstdint>
#include <utility>
#include <vector>

#include <hybrid/hybrid.hpp>

namespace {

using hybrid::Shape;
using hybrid::Tensor;
namespace data = hybrid::data;

/// Sample i has features (i*10, i*10+1, i*10+2) and label i.
std::pair<Tensor, Tensor> numbered(int64_t n) {
  std::vector<float> x, y;
  for (int64_t i = 0; i < n; ++i) {
    for (int j = 0; j < 3; ++j) x.push_back(static_cast<float>(i * 10 + j));
    y.push_back(static_cast<float>(i));
  }
  return {hybrid::from_vector<float>(x, {n, 3}), hybrid::from_vector<float>(y, {n})};
}

/// A dataset with only operator[]: exercises the default gather.
class Squares : public data::Dataset {
 public:
  int64_t size() const override { return 5; }
  Item operator[](int64_t i) const override {
    const int64_t j = checked_index(i, size(), "Squares");
    return {hybrid::full<float>({2}, static_cast<float>(j * j)), hybrid::full<float>({}, static_cast<float>(j))};
  }
};

}  // namespace

TEST_CASE("ArrayDataset gives rows of its tensors", "[data][dataset]") {
  auto [x, y] = numbered(4);
  const data::ArrayDataset ds(x, y);
  CHECK(ds.size() == 4);
  auto [xi, yi] = ds[2];
  CHECK(xi.shape() == Shape{3});
  CHECK(xi.to_vector() == std::vector<float>{20, 21, 22});
  CHECK(yi.shape() == Shape{});
  CHECK(yi.item() == 2);
  CHECK(ds[-1].second.item() == 3);  // negative counts from the end
  // The whole tensors are shared, not copied.
  CHECK(ds.features().data() == x.data());
  CHECK(ds.labels().data() == y.data());
  // An item is a copy: changing it leaves the dataset alone.
  xi.data()[0] = -1;
  CHECK(ds[2].first.to_vector() == std::vector<float>{20, 21, 22});
}

TEST_CASE("ArrayDataset gathers rows in the order asked", "[data][dataset]") {
  auto [x, y] = numbered(6);
  const data::ArrayDataset ds(x, y);
  const std::vector<int64_t> idx{5, 0, 3};
  const auto [bx, by] = ds.gather(idx.data(), 3);
  CHECK(bx.shape() == Shape{3, 3});
  CHECK(bx.to_vector() == std::vector<float>{50, 51, 52, 0, 1, 2, 30, 31, 32});
  CHECK(by.shape() == Shape{3});
  CHECK(by.to_vector() == std::vector<float>{5, 0, 3});
}

TEST_CASE("ArrayDataset keeps trailing dimensions, for features and labels", "[data][dataset]") {
  const auto ds = hybrid::data::ArrayDatasetT<double>(hybrid::reshape(hybrid::arange<double>(8), {2, 1, 2, 2}),
                                                      hybrid::reshape(hybrid::arange<double>(4), {2, 2}));
  CHECK(ds[1].first.shape() == Shape{1, 2, 2});
  CHECK(ds[1].first.to_vector() == std::vector<double>{4, 5, 6, 7});
  CHECK(ds[1].second.to_vector() == std::vector<double>{2, 3});
  const std::vector<int64_t> idx{1};
  CHECK(ds.gather(idx.data(), 1).first.shape() == Shape{1, 1, 2, 2});
}

TEST_CASE("ArrayDataset rejects tensors that do not pair up", "[data][dataset]") {
  auto [x, y] = numbered(4);
  CHECK_THROWS_MATCHES(data::ArrayDataset(x, hybrid::zeros<float>({3})), hybrid::ShapeError,
                       Catch::Message("ArrayDataset: features of shape (4, 3) and labels of shape (3,) differ in "
                                      "their first dimension (4 vs 3), the number of samples"));
  CHECK_THROWS_MATCHES(data::ArrayDataset(hybrid::full<float>({}, 1), y), hybrid::ShapeError,
                       Catch::Message("ArrayDataset: the features tensor is a scalar; its first dimension must "
                                      "index the samples"));
  CHECK_THROWS_MATCHES(data::ArrayDataset(x, Tensor()), hybrid::Error,
                       Catch::Message("ArrayDataset: the labels tensor is undefined"));
  const data::ArrayDataset ds(x, y);
  CHECK_THROWS_MATCHES(ds[4], hybrid::ShapeError,
                       Catch::Message("ArrayDataset: index 4 is out of range for 4 samples"));
  CHECK_THROWS_MATCHES(ds[-5], hybrid::ShapeError,
                       Catch::Message("ArrayDataset: index -5 is out of range for 4 samples"));
  const std::vector<int64_t> idx{0, 9};
  CHECK_THROWS_MATCHES(ds.gather(idx.data(), 2), hybrid::ShapeError,
                       Catch::Message("ArrayDataset::gather: index 9 is out of range for 4 samples"));
}

TEST_CASE("A dataset with only operator[] is stacked by the default gather", "[data][dataset]") {
  const Squares ds;
  const std::vector<int64_t> idx{3, 1, 4};
  const auto [bx, by] = ds.gather(idx.data(), 3);
  CHECK(bx.shape() == Shape{3, 2});
  CHECK(bx.to_vector() == std::vector<float>{9, 9, 1, 1, 16, 16});
  CHECK(by.shape() == Shape{3});
  CHECK(by.to_vector() == std::vector<float>{3, 1, 4});
}
