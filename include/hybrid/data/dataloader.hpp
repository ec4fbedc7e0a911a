#pragma once
// DataLoaderT: batches of a dataset, as mxnet.gluon.data.DataLoader.
//
//   hybrid::random::seed(1);
//   hybrid::data::DataLoader loader(dataset, 256, /*shuffle=*/true, "discard");
//   for (int epoch = 0; epoch < 10; ++epoch)
//     for (auto& [data, label] : loader) { ... }   // data (256, ...), label (256, ...)
//
// Each range-for is one epoch. With shuffle, every epoch draws a new order
// (Fisher–Yates, random::permutation) from the library's generator, so the
// sequence of epochs is the same after the same random::seed. The last batch
// of an epoch, when the batch size does not divide the samples, follows
// last_batch: "keep" yields it short, "discard" drops it, "rollover" carries
// its samples over to the front of the next epoch. A batch is gathered when
// the iterator reaches it, by copying the samples' rows into new tensors.
//
// Sharding for data-parallel training (Gluon's SplitSampler): with
// num_parts = p and part_index = r, each epoch's order of all n samples is
// drawn as above, and the loader keeps its r-th contiguous part of
// floor(n / p) samples, positions [r * floor(n/p), (r+1) * floor(n/p)). After
// the same random::seed on every process, all draw the same order, so the
// parts are disjoint and every process yields the same number of batches
// (which synchronous training needs); the n mod p samples at the end of the
// order are left out of that epoch (a different few each shuffled epoch).
// last_batch then applies to the part.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../core/errors.hpp"
#include "../core/random.hpp"
#include "../core/tensor.hpp"
#include "dataset.hpp"

namespace hybrid::data {

/// What happens to the short last batch of an epoch.
enum class LastBatch { keep, discard, rollover };

inline const char* to_string(LastBatch l) {
  switch (l) {
    case LastBatch::keep: return "keep";
    case LastBatch::discard: return "discard";
    case LastBatch::rollover: return "rollover";
  }
  return "unknown";
}

/// Gluon's names: "keep", "discard" or "rollover"; anything else is Error.
inline LastBatch parse_last_batch(const std::string& name) {
  if (name == "keep") return LastBatch::keep;
  if (name == "discard") return LastBatch::discard;
  if (name == "rollover") return LastBatch::rollover;
  throw Error("DataLoader: unknown last_batch '" + name + "'; expected \"keep\", \"discard\" or \"rollover\"");
}

template <class T>
class DataLoaderT {
  struct Epoch;

 public:
  /// A batch: data and label, each with a leading batch dimension.
  using Batch = std::pair<TensorT<T>, TensorT<T>>;

  /// A loader over a copy of `dataset` (datasets share their tensors, so the
  /// copy is cheap).
  template <class D, class = std::enable_if_t<std::is_base_of_v<DatasetT<T>, std::decay_t<D>>>>
  DataLoaderT(D&& dataset, int64_t batch_size, bool shuffle = false, const std::string& last_batch = "keep",
              int64_t num_parts = 1, int64_t part_index = 0)
      : DataLoaderT(std::make_shared<std::decay_t<D>>(std::forward<D>(dataset)), batch_size, shuffle,
                    parse_last_batch(last_batch), num_parts, part_index) {}

  /// A loader over a shared dataset.
  DataLoaderT(std::shared_ptr<const DatasetT<T>> dataset, int64_t batch_size, bool shuffle = false,
              const std::string& last_batch = "keep", int64_t num_parts = 1, int64_t part_index = 0)
      : DataLoaderT(std::move(dataset), batch_size, shuffle, parse_last_batch(last_batch), num_parts, part_index) {}

  /// `num_parts` / `part_index`: this loader reads part `part_index` of
  /// `num_parts` of every epoch (see the top of this file).
  DataLoaderT(std::shared_ptr<const DatasetT<T>> dataset, int64_t batch_size, bool shuffle, LastBatch last_batch,
              int64_t num_parts = 1, int64_t part_index = 0)
      : dataset_(std::move(dataset)),
        batch_size_(batch_size),
        shuffle_(shuffle),
        last_batch_(last_batch),
        num_parts_(num_parts),
        part_index_(part_index) {
    if (!dataset_) throw Error("DataLoader: the dataset is null");
    if (batch_size_ <= 0)
      throw Error("DataLoader: batch_size must be positive, got " + std::to_string(batch_size_));
    if (num_parts_ <= 0) throw Error("DataLoader: num_parts must be positive, got " + std::to_string(num_parts_));
    if (part_index_ < 0 || part_index_ >= num_parts_)
      throw Error("DataLoader: part_index must be in [0, " + std::to_string(num_parts_) + "), got " +
                  std::to_string(part_index_));
    if (dataset_->size() < num_parts_)
      throw Error("DataLoader: the dataset has " + std::to_string(dataset_->size()) + " samples, fewer than num_parts " +
                  std::to_string(num_parts_) + ", so some parts would be empty");
  }

  /// The number of batches the next epoch yields (Gluon's len(loader)).
  int64_t size() const {
    const int64_t n = static_cast<int64_t>(carried_.size()) + part_size();
    return last_batch_ == LastBatch::keep ? (n + batch_size_ - 1) / batch_size_ : n / batch_size_;
  }

  int64_t batch_size() const { return batch_size_; }
  bool shuffle() const { return shuffle_; }
  LastBatch last_batch() const { return last_batch_; }
  int64_t num_parts() const { return num_parts_; }
  int64_t part_index() const { return part_index_; }
  /// Samples of one epoch's part: floor(n / num_parts).
  int64_t part_size() const { return dataset_->size() / num_parts_; }
  const DatasetT<T>& dataset() const { return *dataset_; }

  class iterator;

  /// Starts an epoch: fixes its order (drawing a new one when shuffling) and,
  /// with "rollover", sets aside the samples of its short last batch for the next.
  iterator begin() {
    auto epoch = std::make_shared<Epoch>();
    epoch->dataset = dataset_;
    epoch->batch_size = batch_size_;
    epoch->order = std::move(carried_);
    carried_.clear();
    const int64_t n = dataset_->size(), part = part_size(), first = part_index_ * part;
    if (shuffle_) {
      // The whole order is drawn on every process, so the generators stay in step.
      const std::vector<int64_t> p = random::permutation(n);
      epoch->order.insert(epoch->order.end(), p.begin() + first, p.begin() + first + part);
    } else {
      for (int64_t i = first; i < first + part; ++i) epoch->order.push_back(i);
    }
    const int64_t total = static_cast<int64_t>(epoch->order.size());
    const int64_t full = total / batch_size_, rest = total % batch_size_;
    epoch->batches = full + (rest && last_batch_ == LastBatch::keep ? 1 : 0);
    if (rest && last_batch_ == LastBatch::rollover)
      carried_.assign(epoch->order.end() - rest, epoch->order.end());
    return iterator(std::move(epoch));
  }
  iterator end() { return iterator(); }

  /// An input iterator over one epoch's batches; it keeps the dataset alive.
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    using pointer = const Batch*;
    using reference = const Batch&;

    iterator() = default;
    reference operator*() const { return batch_; }
    pointer operator->() const { return &batch_; }
    iterator& operator++() {
      ++index_;
      load();
      return *this;
    }
    /// Batch index within the epoch.
    int64_t index() const { return index_; }

    friend bool operator==(const iterator& a, const iterator& b) {
      if (a.done() || b.done()) return a.done() == b.done();
      return a.epoch_ == b.epoch_ && a.index_ == b.index_;
    }
    friend bool operator!=(const iterator& a, const iterator& b) { return !(a == b); }

   private:
    friend class DataLoaderT;
    explicit iterator(std::shared_ptr<const Epoch> epoch) : epoch_(std::move(epoch)) { load(); }

    bool done() const { return !epoch_ || index_ >= epoch_->batches; }
    void load() {
      if (done()) {
        batch_ = Batch{};
        return;
      }
      const int64_t begin = index_ * epoch_->batch_size;
      const int64_t count = std::min<int64_t>(epoch_->batch_size, static_cast<int64_t>(epoch_->order.size()) - begin);
      batch_ = epoch_->dataset->gather(epoch_->order.data() + begin, count);
    }

    std::shared_ptr<const Epoch> epoch_;
    int64_t index_ = 0;
    Batch batch_;
  };

 private:
  /// One epoch's fixed order of sample indices.
  struct Epoch {
    std::shared_ptr<const DatasetT<T>> dataset;
    std::vector<int64_t> order;
    int64_t batch_size = 0;
    int64_t batches = 0;
  };

  std::shared_ptr<const DatasetT<T>> dataset_;
  int64_t batch_size_;
  bool shuffle_;
  LastBatch last_batch_;
  int64_t num_parts_ = 1, part_index_ = 0;
  std::vector<int64_t> carried_;  // "rollover": the last epoch's leftover samples
};

using DataLoader = DataLoaderT<float>;

}  // namespace hybrid::data
