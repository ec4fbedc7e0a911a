#pragma once
// Gluon's 2-D pooling layers over NCHW inputs: MaxPool2D, AvgPool2D and
// GlobalAvgPool2D, each one op of the table, so they trace and export as it.
#include <string>

#include "../api/tensor_ops.hpp"
#include "hybrid_block.hpp"
#include "int_pair.hpp"

namespace hybrid::nn {

namespace detail {
/// Checks a pooling layer's arguments at construction, naming the layer.
inline void check_pool_args(const std::string& who, const IntPair& size, const IntPair& strides,
                            const IntPair& padding) {
  if (size.h < 1 || size.w < 1 || strides.h < 1 || strides.w < 1 || padding.h < 0 || padding.w < 0)
    throw Error(who + ": pool_size and strides must be >= 1 and padding >= 0, got pool_size " + size.text() +
                ", strides " + strides.text() + ", padding " + padding.text());
}
}  // namespace detail

/// The largest element of each window; strides default to pool_size.
template <class T>
class MaxPool2DT : public HybridBlockT<T> {
 public:
  explicit MaxPool2DT(IntPair pool_size = 2) : MaxPool2DT(pool_size, pool_size, 0) {}
  explicit MaxPool2DT(IntPair pool_size, IntPair strides, IntPair padding = 0)
      : size_(pool_size), strides_(strides), padding_(padding) {
    detail::check_pool_args("MaxPool2D", size_, strides_, padding_);
  }

  TensorT<T> forward(const TensorT<T>& x) override {
    return hybrid::max_pool2d(x, size_.shape(), strides_.shape(), padding_.shape());
  }
  std::string type_name() const override { return "MaxPool2D"; }
  /// "MaxPool2D(size=(2, 2), stride=(2, 2), padding=(0, 0))", as Gluon's repr.
  std::string describe() const override {
    return "MaxPool2D(size=" + size_.text() + ", stride=" + strides_.text() + ", padding=" + padding_.text() + ")";
  }

  IntPair pool_size() const { return size_; }
  IntPair strides() const { return strides_; }
  IntPair padding() const { return padding_; }

 private:
  IntPair size_, strides_, padding_;
};

/// The mean of each window; with count_include_pad (the default) padding
/// counts in the divisor.
template <class T>
class AvgPool2DT : public HybridBlockT<T> {
 public:
  explicit AvgPool2DT(IntPair pool_size = 2) : AvgPool2DT(pool_size, pool_size, 0) {}
  explicit AvgPool2DT(IntPair pool_size, IntPair strides, IntPair padding = 0, bool count_include_pad = true)
      : size_(pool_size), strides_(strides), padding_(padding), count_include_pad_(count_include_pad) {
    detail::check_pool_args("AvgPool2D", size_, strides_, padding_);
  }

  TensorT<T> forward(const TensorT<T>& x) override {
    return hybrid::avg_pool2d(x, size_.shape(), strides_.shape(), padding_.shape(), count_include_pad_);
  }
  std::string type_name() const override { return "AvgPool2D"; }
  std::string describe() const override {
    return "AvgPool2D(size=" + size_.text() + ", stride=" + strides_.text() + ", padding=" + padding_.text() +
           ", count_include_pad=" + (count_include_pad_ ? "True" : "False") + ")";
  }

  IntPair pool_size() const { return size_; }
  IntPair strides() const { return strides_; }
  IntPair padding() const { return padding_; }
  bool count_include_pad() const { return count_include_pad_; }

 private:
  IntPair size_, strides_, padding_;
  bool count_include_pad_;
};

/// The mean of each channel's plane: (N, C, H, W) → (N, C, 1, 1).
template <class T>
class GlobalAvgPool2DT : public HybridBlockT<T> {
 public:
  TensorT<T> forward(const TensorT<T>& x) override { return hybrid::global_avg_pool2d(x); }
  std::string type_name() const override { return "GlobalAvgPool2D"; }
  std::string describe() const override { return "GlobalAvgPool2D()"; }
};

using MaxPool2D = MaxPool2DT<float>;
using AvgPool2D = AvgPool2DT<float>;
using GlobalAvgPool2D = GlobalAvgPool2DT<float>;

}  // namespace hybrid::nn
