#pragma once
// DenseT<T>: Gluon's Dense, y = act(x · Wᵀ + b) with W of shape (units, in_units).
// Inputs of more than two dims are flattened to (batch, features). With
// in_units = 0 the weight's second dim is learned from the first input.
#include <string>

#include "../api/tensor_ops.hpp"
#include "activation.hpp"
#include "hybrid_block.hpp"

namespace hybrid::nn {

template <class T>
class DenseT : public HybridBlockT<T> {
 public:
  explicit DenseT(int64_t units, std::string activation = "", bool use_bias = true, int64_t in_units = 0)
      : units_(units), activation_(std::move(activation)), act_op_(detail::activation_op(activation_, "Dense")) {
    if (units <= 0) throw Error("Dense: units must be positive, got " + std::to_string(units));
    if (in_units < 0) throw Error("Dense: in_units must be positive or 0 (inferred), got " + std::to_string(in_units));
    weight_ = this->register_parameter("weight", Shape{units, in_units});
    // Gluon's bias_initializer is 'zeros', whatever initialize() is given.
    if (use_bias) bias_ = this->register_parameter("bias", Shape{units}, std::make_shared<init::Zero>());
  }

  TensorT<T> forward(const TensorT<T>& x) override {
    if (x.ndim() < 1)
      throw ShapeError(this->error_context() + "needs an input with a batch axis, got shape " + to_string(x.shape()));
    int64_t features = 1;  // everything after the batch axis is one feature vector
    for (int i = 1; i < x.ndim(); ++i) features *= x.shape()[i];
    const int64_t expected = weight_->shape()[1];
    if (expected == 0) {
      // Deferred initialization, eager or traced: the value exists before
      // data() is read. Without initialize() nothing is inferred, and data()
      // below reports the uninitialized weight.
      if (weight_->is_deferred()) weight_->infer_shape(Shape{units_, features});
    } else if (features != expected) {
      throw ShapeError(this->error_context() + "input of shape " + to_string(x.shape()) + " has " + std::to_string(features) +
                       " features but weight '" + weight_->name() + "' of shape " + to_string(weight_->shape()) +
                       " expects " + std::to_string(expected));
    }
    // The activation stays a separate op; the fusion pass folds it into fully_connected.
    const TensorT<T> w = weight_->data();  // weight first: its error is the one to report
    const TensorT<T> b = bias_ ? bias_->data() : TensorT<T>();
    const TensorT<T> y = fully_connected(x, w, b, /*flatten=*/true);
    return detail::apply_activation(act_op_, y);
  }

  std::string type_name() const override { return "Dense"; }
  /// "Dense(512 -> 256, relu)"; "?" while in_units is not known yet.
  std::string describe() const override {
    const int64_t in = in_units();
    return "Dense(" + (in ? std::to_string(in) : std::string("?")) + " -> " + std::to_string(units_) +
           (activation_.empty() ? "" : ", " + activation_) + ")";
  }

  int64_t units() const { return units_; }
  /// 0 until known.
  int64_t in_units() const { return weight_->shape()[1]; }
  const std::string& activation() const { return activation_; }
  bool use_bias() const { return bias_ != nullptr; }
  const std::shared_ptr<ParameterT<T>>& weight() const { return weight_; }
  /// Null without a bias.
  const std::shared_ptr<ParameterT<T>>& bias() const { return bias_; }

 private:
  int64_t units_;
  std::string activation_;
  OpCode act_op_;
  std::shared_ptr<ParameterT<T>> weight_, bias_;
};

using Dense = DenseT<float>;

}  // namespace hybrid::nn
