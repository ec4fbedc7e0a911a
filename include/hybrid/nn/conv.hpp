#pragma once
// Conv2DT<T>: Gluon's Conv2D over NCHW data, y = act(W ⊛ x + b) with W of
// shape (channels, in_channels / groups, kh, kw). With in_channels = 0 the
// weight's second dim is learned from the first input (deferred
// initialization, as Dense's in_units).
#include <string>

#include "../api/tensor_ops.hpp"
#include "activation.hpp"
#include "hybrid_block.hpp"
#include "int_pair.hpp"

namespace hybrid::nn {

template <class T>
class Conv2DT : public HybridBlockT<T> {
 public:
  Conv2DT(int64_t channels, IntPair kernel_size, IntPair strides = 1, IntPair padding = 0, IntPair dilation = 1,
          int64_t groups = 1, std::string activation = "", bool use_bias = true, int64_t in_channels = 0)
      : channels_(channels),
        kernel_(kernel_size),
        strides_(strides),
        padding_(padding),
        dilation_(dilation),
        groups_(groups),
        activation_(std::move(activation)),
        act_op_(detail::activation_op(activation_, "Conv2D")) {
    auto positive = [](const IntPair& p) { return p.h > 0 && p.w > 0; };
    if (channels <= 0) throw Error("Conv2D: channels must be positive, got " + std::to_string(channels));
    if (!positive(kernel_size)) throw Error("Conv2D: kernel_size must be positive, got " + kernel_size.compact(", "));
    if (!positive(strides)) throw Error("Conv2D: strides must be positive, got " + strides.compact(", "));
    if (!positive(dilation)) throw Error("Conv2D: dilation must be positive, got " + dilation.compact(", "));
    if (padding.h < 0 || padding.w < 0) throw Error("Conv2D: padding must be >= 0, got " + padding.compact(", "));
    if (groups <= 0 || channels % groups != 0)
      throw Error("Conv2D: groups must be positive and divide channels " + std::to_string(channels) + ", got " +
                  std::to_string(groups));
    if (in_channels < 0 || in_channels % groups != 0)
      throw Error("Conv2D: in_channels must be 0 (inferred) or a positive multiple of groups " +
                  std::to_string(groups) + ", got " + std::to_string(in_channels));
    weight_ = this->register_parameter("weight", Shape{channels, in_channels / groups, kernel_.h, kernel_.w});
    // Gluon's bias_initializer is 'zeros', whatever initialize() is given.
    if (use_bias) bias_ = this->register_parameter("bias", Shape{channels}, std::make_shared<init::Zero>());
  }

  TensorT<T> forward(const TensorT<T>& x) override {
    if (x.ndim() != 4)
      throw ShapeError(this->error_context() + "needs an input (N, C, H, W), got shape " + to_string(x.shape()));
    const int64_t c = x.shape()[1];
    if (c % groups_ != 0)
      throw ShapeError(this->error_context() + "input of shape " + to_string(x.shape()) + " has " + std::to_string(c) +
                       " channels, which do not divide into " + std::to_string(groups_) + " groups");
    const int64_t expected = weight_->shape()[1];
    if (expected == 0) {
      // Deferred initialization, eager or traced: the value exists before data() is read.
      if (weight_->is_deferred()) weight_->infer_shape(Shape{channels_, c / groups_, kernel_.h, kernel_.w});
    } else if (c != expected * groups_) {
      throw ShapeError(this->error_context() + "input of shape " + to_string(x.shape()) + " has " + std::to_string(c) +
                       " channels but weight '" + weight_->name() + "' of shape " + to_string(weight_->shape()) +
                       " expects " + std::to_string(expected * groups_));
    }
    // The activation stays a separate op; the fusion pass folds it into conv2d.
    const TensorT<T> w = weight_->data();
    const TensorT<T> b = bias_ ? bias_->data() : TensorT<T>();
    const TensorT<T> y =
        conv2d(x, w, b, strides_.shape(), padding_.shape(), dilation_.shape(), groups_);
    return detail::apply_activation(act_op_, y);
  }

  std::string type_name() const override { return "Conv2D"; }
  /// "Conv2D(1 -> 6, kernel 5x5, stride 2, padding 2, relu)"; "?" while
  /// in_channels is not known yet; settings at their defaults are left out.
  std::string describe() const override {
    const int64_t in = in_channels();
    std::string s = "Conv2D(" + (in ? std::to_string(in) : std::string("?")) + " -> " + std::to_string(channels_) +
                    ", kernel " + std::to_string(kernel_.h) + "x" + std::to_string(kernel_.w);
    if (strides_.h != 1 || strides_.w != 1) s += ", stride " + strides_.compact();
    if (padding_.h != 0 || padding_.w != 0) s += ", padding " + padding_.compact();
    if (dilation_.h != 1 || dilation_.w != 1) s += ", dilation " + dilation_.compact();
    if (groups_ != 1) s += ", groups " + std::to_string(groups_);
    if (!activation_.empty()) s += ", " + activation_;
    return s + ")";
  }

  int64_t channels() const { return channels_; }
  /// 0 until known.
  int64_t in_channels() const { return weight_->shape()[1] * groups_; }
  IntPair kernel_size() const { return kernel_; }
  IntPair strides() const { return strides_; }
  IntPair padding() const { return padding_; }
  IntPair dilation() const { return dilation_; }
  int64_t groups() const { return groups_; }
  const std::string& activation() const { return activation_; }
  bool use_bias() const { return bias_ != nullptr; }
  const std::shared_ptr<ParameterT<T>>& weight() const { return weight_; }
  /// Null without a bias.
  const std::shared_ptr<ParameterT<T>>& bias() const { return bias_; }

 private:
  int64_t channels_;
  IntPair kernel_, strides_, padding_, dilation_;
  int64_t groups_;
  std::string activation_;
  OpCode act_op_;
  std::shared_ptr<ParameterT<T>> weight_, bias_;
};

using Conv2D = Conv2DT<float>;

}  // namespace hybrid::nn
