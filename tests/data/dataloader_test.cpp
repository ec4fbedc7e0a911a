// DataLoader: batch contents, deterministic shuffling, the last_batch modes
// with sizes the batch does not divide, and range-for.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include <hybrid/hybrid.hpp>

namespace {

using hybrid::Shape;
using hybrid::Tensor;
namespace data = hybrid::data;

/// n samples: sample i has features (2i, 2i+1) and label i.
data::ArrayDataset numbered(int64_t n) {
  std::vector<float> x, y;
  for (int64_t i = 0; i < n; ++i) {
    x.push_back(static_cast<float>(2 * i));
    x.push_back(static_cast<float>(2 * i + 1));
    y.push_back(static_cast<float>(i));
  }
  return data::ArrayDataset(hybrid::from_vector<float>(x, {n, 2}), hybrid::from_vector<float>(y, {n}));
}

/// The labels (sample indices) of each batch of one epoch, checking that
/// every batch's data rows belong to its labels.
std::vector<std::vector<int64_t>> epoch(data::DataLoader& loader) {
  std::vector<std::vector<int64_t>> batches;
  for (const auto& [x, y] : loader) {
    REQUIRE(x.ndim() == 2);
    REQUIRE(y.ndim() == 1);
    REQUIRE(x.shape()[0] == y.shape()[0]);
    std::vector<int64_t> ids;
    for (int64_t b = 0; b < y.shape()[0]; ++b) {
      const auto i = static_cast<int64_t>(y.at({b}));
      CHECK(x.at({b, 0}) == static_cast<float>(2 * i));
      CHECK(x.at({b, 1}) == static_cast<float>(2 * i + 1));
      ids.push_back(i);
    }
    batches.push_back(ids);
  }
  return batches;
}

std::vector<int64_t> flat(const std::vector<std::vector<int64_t>>& batches) {
  std::vector<int64_t> all;
  for (const auto& b : batches) all.insert(all.end(), b.begin(), b.end());
  return all;
}

std::vector<size_t> sizes(const std::vector<std::vector<int64_t>>& batches) {
  std::vector<size_t> s;
  for (const auto& b : batches) s.push_back(b.size());
  return s;
}

}  // namespace

TEST_CASE("DataLoader yields batches in order with a leading batch dimension", "[data][dataloader]") {
  data::DataLoader loader(numbered(6), 3);
  CHECK(loader.size() == 2);
  int count = 0;
  for (auto& [x, y] : loader) {
    CHECK(x.shape() == Shape{3, 2});
    CHECK(y.shape() == Shape{3});
    const float first = static_cast<float>(3 * count);
    CHECK(y.to_vector() == std::vector<float>{first, first + 1, first + 2});
    CHECK(x.to_vector() == std::vector<float>{2 * first, 2 * first + 1, 2 * first + 2, 2 * first + 3,
                                              2 * first + 4, 2 * first + 5});
    ++count;
  }
  CHECK(count == 2);
}

TEST_CASE("DataLoader keeps, discards or rolls over the short last batch", "[data][dataloader]") {
  SECTION("keep (the default)") {
    data::DataLoader loader(numbered(10), 4);
    CHECK(loader.last_batch() == data::LastBatch::keep);
    CHECK(loader.size() == 3);
    const auto e = epoch(loader);
    CHECK(sizes(e) == std::vector<size_t>{4, 4, 2});
    CHECK(e.back() == std::vector<int64_t>{8, 9});
    CHECK(epoch(loader) == e);  // every epoch the same without shuffling
  }
  SECTION("discard") {
    data::DataLoader loader(numbered(10), 4, false, "discard");
    CHECK(loader.size() == 2);
    const auto e = epoch(loader);
    CHECK(sizes(e) == std::vector<size_t>{4, 4});
    CHECK(flat(e) == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7});
  }
  SECTION("rollover: the leftover samples open the next epoch") {
    data::DataLoader loader(numbered(10), 4, false, "rollover");
    CHECK(loader.size() == 2);  // 10 / 4
    CHECK(flat(epoch(loader)) == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7});
    CHECK(loader.size() == 3);  // (2 carried + 10) / 4
    const auto second = epoch(loader);
    CHECK(sizes(second) == std::vector<size_t>{4, 4, 4});
    CHECK(flat(second) == std::vector<int64_t>{8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    CHECK(loader.size() == 2);  // nothing carried
    CHECK(flat(epoch(loader)) == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7});
  }
  SECTION("a batch larger than the dataset") {
    data::DataLoader keep(numbered(3), 5);
    data::DataLoader discard(numbered(3), 5, false, "discard");
    CHECK(keep.size() == 1);
    CHECK(sizes(epoch(keep)) == std::vector<size_t>{3});
    CHECK(discard.size() == 0);
    CHECK(epoch(discard).empty());
  }
  SECTION("sizes the batch divides: every mode agrees") {
    for (const char* mode : {"keep", "discard", "rollover"}) {
      data::DataLoader loader(numbered(12), 4, false, mode);
      CHECK(loader.size() == 3);
      CHECK(sizes(epoch(loader)) == std::vector<size_t>{4, 4, 4});
      CHECK(loader.size() == 3);
    }
  }
}

TEST_CASE("DataLoader shuffles deterministically after random::seed", "[data][dataloader]") {
  auto three_epochs = [](const char* mode) {
    hybrid::random::seed(7);
    data::DataLoader loader(numbered(50), 8, true, mode);
    std::vector<std::vector<std::vector<int64_t>>> epochs;
    for (int e = 0; e < 3; ++e) epochs.push_back(epoch(loader));
    return epochs;
  };
  const auto a = three_epochs("keep");
  const auto b = three_epochs("keep");
  CHECK(a == b);  // the same seed, the same sequence of epochs
  std::vector<int64_t> identity(50);
  for (int64_t i = 0; i < 50; ++i) identity[static_cast<size_t>(i)] = i;
  for (const auto& e : a) {
    CHECK(sizes(e) == std::vector<size_t>{8, 8, 8, 8, 8, 8, 2});
    std::vector<int64_t> all = flat(e);
    CHECK(all != identity);  // shuffled
    std::sort(all.begin(), all.end());
    CHECK(all == identity);  // each sample exactly once
  }
  CHECK(flat(a[0]) != flat(a[1]));  // a new order every epoch
  CHECK(flat(a[1]) != flat(a[2]));

  hybrid::random::seed(8);
  data::DataLoader other(numbered(50), 8, true);
  CHECK(flat(epoch(other)) != flat(a[0]));  // another seed, another order

  SECTION("with rollover, each sample once per pass of the permutations") {
    const auto r = three_epochs("rollover");
    CHECK(r == three_epochs("rollover"));
    // 50 = 6 * 8 + 2: epoch 1 carries 2 into epoch 2 (52 = 6 * 8 + 4), which carries 4.
    CHECK(sizes(r[0]).size() == 6);
    CHECK(sizes(r[1]).size() == 6);
    CHECK(sizes(r[2]).size() == 6);
    std::vector<int64_t> first_pass = flat(r[0]);
    const std::vector<int64_t> second = flat(r[1]);
    first_pass.insert(first_pass.end(), second.begin(), second.begin() + 2);  // the carried two
    std::sort(first_pass.begin(), first_pass.end());
    CHECK(first_pass == identity);
  }
}

TEST_CASE("DataLoader iterators: range-for, manual stepping, an abandoned epoch", "[data][dataloader]") {
  data::DataLoader loader(numbered(5), 2);
  auto it = loader.begin();
  REQUIRE(it != loader.end());
  CHECK(it->second.to_vector() == std::vector<float>{0, 1});
  ++it;
  CHECK((*it).second.to_vector() == std::vector<float>{2, 3});
  CHECK(it.index() == 1);
  ++it;
  CHECK(it->second.to_vector() == std::vector<float>{4});
  ++it;
  CHECK(it == loader.end());
  // Breaking out of an epoch leaves the next one whole.
  for (const auto& batch : loader) {
    CHECK(batch.first.shape()[0] == 2);
    break;
  }
  CHECK(flat(epoch(loader)) == std::vector<int64_t>{0, 1, 2, 3, 4});
}

TEST_CASE("DataLoader keeps its dataset alive and shares a dataset given by pointer", "[data][dataloader]") {
  auto shared = std::make_shared<const data::ArrayDataset>(numbered(4));
  data::DataLoader a(shared, 2);
  data::DataLoader b(shared, 4);
  CHECK(&a.dataset() == shared.get());
  CHECK(a.size() == 2);
  CHECK(b.size() == 1);
  data::DataLoader::iterator it;
  {
    data::DataLoader temporary(numbered(3), 3);
    it = temporary.begin();
  }
  CHECK(it->second.to_vector() == std::vector<float>{0, 1, 2});
}

TEST_CASE("DataLoader works for double tensors", "[data][dataloader]") {
  data::ArrayDatasetT<double> ds(hybrid::reshape(hybrid::arange<double>(12), {4, 3}), hybrid::arange<double>(4));
  data::DataLoaderT<double> loader(ds, 3, false, "discard");
  int n = 0;
  for (const auto& [x, y] : loader) {
    CHECK(x.shape() == Shape{3, 3});
    CHECK(x.to_vector() == std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7, 8});
    CHECK(y.to_vector() == std::vector<double>{0, 1, 2});
    ++n;
  }
  CHECK(n == 1);
}

TEST_CASE("DataLoader rejects bad arguments by name", "[data][dataloader]") {
  CHECK_THROWS_MATCHES(data::DataLoader(numbered(4), 0), hybrid::Error,
                       Catch::Message("DataLoader: batch_size must be positive, got 0"));
  CHECK_THROWS_MATCHES(data::DataLoader(numbered(4), 2, false, "drop"), hybrid::Error,
                       Catch::Message("DataLoader: unknown last_batch 'drop'; expected \"keep\", \"discard\" or "
                                      "\"rollover\""));
  CHECK_THROWS_MATCHES(data::DataLoader(std::shared_ptr<const data::Dataset>(), 2), hybrid::Error,
                       Catch::Message("DataLoader: the dataset is null"));
}

TEST_CASE("DataLoader parts: the same permutation everywhere, each part a contiguous slice of it",
          "[data][dataloader]") {
  // 50 samples in 3 parts: floor(50 / 3) = 16 each, the last 2 of each epoch's order left out.
  auto epochs_of = [](int64_t parts, int64_t index) {
    hybrid::random::seed(11);
    data::DataLoader loader(numbered(50), 5, true, "keep", parts, index);
    CHECK(loader.num_parts() == parts);
    CHECK(loader.part_index() == index);
    std::vector<std::vector<int64_t>> epochs;
    for (int e = 0; e < 3; ++e) {
      CHECK(loader.size() == (50 / parts + 4) / 5);
      const auto batches = epoch(loader);
      CHECK(static_cast<int64_t>(batches.size()) == (50 / parts + 4) / 5);
      epochs.push_back(flat(batches));
    }
    return epochs;
  };
  const auto whole = epochs_of(1, 0);  // the unsharded orders: the reference
  std::vector<std::vector<std::vector<int64_t>>> parts;
  for (int64_t r = 0; r < 3; ++r) parts.push_back(epochs_of(3, r));
  for (size_t e = 0; e < 3; ++e) {
    std::vector<int64_t> joined;
    for (int64_t r = 0; r < 3; ++r) {
      const auto& part = parts[static_cast<size_t>(r)][e];
      CHECK(part.size() == 16);
      const auto first = whole[e].begin() + r * 16;
      CHECK(part == std::vector<int64_t>(first, first + 16));
      joined.insert(joined.end(), part.begin(), part.end());
    }
    std::sort(joined.begin(), joined.end());
    CHECK(std::adjacent_find(joined.begin(), joined.end()) == joined.end());  // disjoint
    CHECK(joined.size() == 48);
  }
  CHECK(whole[0] != whole[1]);  // each epoch a new permutation, so a different 2 left out

  SECTION("without shuffling, part r is samples [r * part, (r + 1) * part)") {
    data::DataLoader loader(numbered(10), 4, false, "keep", 3, 2);
    CHECK(loader.part_size() == 3);
    CHECK(epoch(loader) == std::vector<std::vector<int64_t>>{{6, 7, 8}});
  }
  SECTION("last_batch applies to the part") {
    data::DataLoader discard(numbered(50), 5, false, "discard", 3, 1);  // 16 = 3 * 5 + 1
    CHECK(sizes(epoch(discard)) == std::vector<size_t>{5, 5, 5});
    data::DataLoader rollover(numbered(50), 5, false, "rollover", 3, 1);
    CHECK(flat(epoch(rollover)).front() == 16);
    CHECK(flat(epoch(rollover)).front() == 31);  // the carried sample comes first
  }
}

TEST_CASE("DataLoader rejects bad parts by name", "[data][dataloader]") {
  CHECK_THROWS_MATCHES(data::DataLoader(numbered(4), 2, false, "keep", 0, 0), hybrid::Error,
                       Catch::Message("DataLoader: num_parts must be positive, got 0"));
  CHECK_THROWS_MATCHES(data::DataLoader(numbered(4), 2, false, "keep", 2, 2), hybrid::Error,
                       Catch::Message("DataLoader: part_index must be in [0, 2), got 2"));
  CHECK_THROWS_MATCHES(data::DataLoader(numbered(4), 2, false, "keep", 2, -1), hybrid::Error,
                       Catch::Message("DataLoader: part_index must be in [0, 2), got -1"));
  CHECK_THROWS_MATCHES(data::DataLoader(numbered(3), 2, false, "keep", 4, 0), hybrid::Error,
                       Catch::Message("DataLoader: the dataset has 3 samples, fewer than num_parts 4, so some parts "
                                      "would be empty"));
}
