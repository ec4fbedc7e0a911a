#pragma once
// Datasets, as in mxnet.gluon.data: a size and one (data, label) pair per
// index. ArrayDatasetT holds whole tensors whose first dimension indexes the
// samples; a DataLoader gathers batches from it by copying rows.
//
//   hybrid::data::ArrayDataset ds(features /* (N, 4) */, labels /* (N,) */);
//   auto [x, y] = ds[0];   // x of shape (4,), y of shape ()
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include "../core/errors.hpp"
#include "../core/tensor.hpp"

namespace hybrid::data {

/// A dataset: `size()` samples, each a (data, label) pair of tensors.
template <class T>
class DatasetT {
 public:
  using Item = std::pair<TensorT<T>, TensorT<T>>;

  virtual ~DatasetT() = default;
  virtual int64_t size() const = 0;
  /// Sample i (negative counts from the end), as tensors of its own.
  virtual Item operator[](int64_t i) const = 0;

  /// The samples at `indices[0, count)` stacked along a new leading axis. This
  /// default stacks operator[]'s items, which must agree in shape; datasets
  /// backed by whole tensors override it to copy rows directly.
  virtual Item gather(const int64_t* indices, int64_t count) const {
    if (count <= 0) throw Error("Dataset::gather: a batch needs at least one index, got " + std::to_string(count));
    const Item first = (*this)[indices[0]];
    Item batch{TensorT<T>::empty(stacked(first.first.shape(), count)),
               TensorT<T>::empty(stacked(first.second.shape(), count))};
    for (int64_t b = 0; b < count; ++b) {
      const Item item = b == 0 ? first : (*this)[indices[b]];
      copy_row(item.first, first.first.shape(), batch.first, b, indices[b], "data");
      copy_row(item.second, first.second.shape(), batch.second, b, indices[b], "label");
    }
    return batch;
  }

 protected:
  DatasetT() = default;
  DatasetT(const DatasetT&) = default;
  DatasetT& operator=(const DatasetT&) = default;

  /// `count` followed by the extents of `row`.
  static Shape stacked(const Shape& row, int64_t count) {
    Shape s{count};
    for (int64_t d : row) s.push_back(d);
    return s;
  }

  /// Index i checked against `n` samples, negative counting from the end.
  static int64_t checked_index(int64_t i, int64_t n, const char* who) {
    const int64_t j = i < 0 ? i + n : i;
    if (j < 0 || j >= n)
      throw ShapeError(std::string(who) + ": index " + std::to_string(i) + " is out of range for " +
                       std::to_string(n) + " samples");
    return j;
  }

 private:
  static void copy_row(const TensorT<T>& row, const Shape& expected, TensorT<T>& batch, int64_t b, int64_t index,
                       const char* what) {
    if (row.shape() != expected)
      throw ShapeError("Dataset::gather: the " + std::string(what) + " of sample " + std::to_string(index) +
                       " has shape " + to_string(row.shape()) + ", the batch's first has " + to_string(expected) +
                       "; samples of a batch must agree in shape");
    const size_t n = static_cast<size_t>(row.size());
    if (n) std::memcpy(batch.data() + static_cast<size_t>(b) * n, row.data(), sizeof(T) * n);
  }
};

/// Samples are the rows of `features` and `labels`, tensors with the same
/// first dimension (mxnet.gluon.data.ArrayDataset). The tensors are shared,
/// not copied.
template <class T>
class ArrayDatasetT : public DatasetT<T> {
 public:
  using Item = typename DatasetT<T>::Item;

  ArrayDatasetT(TensorT<T> features, TensorT<T> labels)
      : features_(std::move(features)), labels_(std::move(labels)) {
    check("features", features_);
    check("labels", labels_);
    if (features_.shape()[0] != labels_.shape()[0])
      throw ShapeError("ArrayDataset: features of shape " + to_string(features_.shape()) + " and labels of shape " +
                       to_string(labels_.shape()) + " differ in their first dimension (" +
                       std::to_string(features_.shape()[0]) + " vs " + std::to_string(labels_.shape()[0]) +
                       "), the number of samples");
  }

  int64_t size() const override { return features_.shape()[0]; }

  /// Sample i: row i of the features and of the labels, copied.
  Item operator[](int64_t i) const override {
    const int64_t j = this->checked_index(i, size(), "ArrayDataset");
    return {row(features_, j), row(labels_, j)};
  }

  Item gather(const int64_t* indices, int64_t count) const override {
    if (count <= 0) throw Error("ArrayDataset::gather: a batch needs at least one index, got " + std::to_string(count));
    Item batch{TensorT<T>::empty(this->stacked(row_shape(features_), count)),
               TensorT<T>::empty(this->stacked(row_shape(labels_), count))};
    copy_rows(features_, batch.first, indices, count);
    copy_rows(labels_, batch.second, indices, count);
    return batch;
  }

  /// The whole tensors, first dimension the sample.
  const TensorT<T>& features() const { return features_; }
  const TensorT<T>& labels() const { return labels_; }

 protected:
  /// For datasets that load their tensors: (features, labels).
  explicit ArrayDatasetT(Item tensors) : ArrayDatasetT(std::move(tensors.first), std::move(tensors.second)) {}

 private:
  static void check(const char* what, const TensorT<T>& t) {
    if (!t.defined()) throw Error(std::string("ArrayDataset: the ") + what + " tensor is undefined");
    if (t.is_traced())
      throw TraceError(std::string("ArrayDataset: the ") + what + " tensor of shape " + to_string(t.shape()) +
                       " is traced; a dataset needs values (build it outside a hybridized forward)");
    if (t.ndim() == 0)
      throw ShapeError(std::string("ArrayDataset: the ") + what +
                       " tensor is a scalar; its first dimension must index the samples");
  }

  static Shape row_shape(const TensorT<T>& t) {
    Shape s;
    for (int d = 1; d < t.ndim(); ++d) s.push_back(t.shape()[d]);
    return s;
  }

  static size_t row_elements(const TensorT<T>& t) {
    return t.shape()[0] == 0 ? 0 : static_cast<size_t>(t.size() / t.shape()[0]);
  }

  static TensorT<T> row(const TensorT<T>& t, int64_t i) {
    TensorT<T> r = TensorT<T>::empty(row_shape(t));
    const size_t n = row_elements(t);
    if (n) std::memcpy(r.data(), t.data() + static_cast<size_t>(i) * n, sizeof(T) * n);
    return r;
  }

  void copy_rows(const TensorT<T>& from, TensorT<T>& to, const int64_t* indices, int64_t count) const {
    const size_t n = row_elements(from);
    if (n == 0) return;
    const T* src = from.data();
    T* dst = to.data();
    for (int64_t b = 0; b < count; ++b) {
      const int64_t j = this->checked_index(indices[b], size(), "ArrayDataset::gather");
      std::memcpy(dst + static_cast<size_t>(b) * n, src + static_cast<size_t>(j) * n, sizeof(T) * n);
    }
  }

  TensorT<T> features_, labels_;
};

using Dataset = DatasetT<float>;
using ArrayDataset = ArrayDatasetT<float>;

}  // namespace hybrid::data
