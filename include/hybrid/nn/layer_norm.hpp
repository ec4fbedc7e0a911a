#pragma once
// LayerNormT<T>: Gluon's LayerNorm. Each line along `axis` is normalized
// with its mean and biased variance, then scaled by gamma (ones) and shifted
// by beta (zeros), both of shape (in_channels,). With in_channels = 0 the
// extent is learned from the first input.
#include <cstdio>
#include <string>

#include "../api/tensor_ops.hpp"
#include "hybrid_block.hpp"

namespace hybrid::nn {

template <class T>
class LayerNormT : public HybridBlockT<T> {
 public:
  explicit LayerNormT(int64_t axis = -1, double epsilon = 1e-5, int64_t in_channels = 0)
      : axis_(axis), epsilon_(epsilon) {
    if (!(epsilon >= 0)) throw Error("LayerNorm: epsilon must be >= 0, got " + std::to_string(epsilon));
    if (in_channels < 0)
      throw Error("LayerNorm: in_channels must be positive or 0 (inferred), got " + std::to_string(in_channels));
    // Gluon's gamma_initializer 'ones' and beta_initializer 'zeros', whatever initialize() is given.
    gamma_ = this->register_parameter("gamma", Shape{in_channels}, std::make_shared<init::One>());
    beta_ = this->register_parameter("beta", Shape{in_channels}, std::make_shared<init::Zero>());
  }

  TensorT<T> forward(const TensorT<T>& x) override {
    if (x.ndim() < 1 || axis_ < -x.ndim() || axis_ >= x.ndim())
      throw ShapeError(this->error_context() + "axis " + std::to_string(axis_) + " is out of range for input of shape " +
                       to_string(x.shape()));
    const int64_t channels = x.shape()[static_cast<int>(axis_ < 0 ? axis_ + x.ndim() : axis_)];
    const int64_t expected = gamma_->shape()[0];
    if (expected == 0) {
      // Deferred initialization, eager or traced; without initialize() data() reports it.
      if (gamma_->is_deferred()) gamma_->infer_shape(Shape{channels});
      if (beta_->is_deferred()) beta_->infer_shape(Shape{channels});
    } else if (channels != expected) {
      throw ShapeError(this->error_context() + "input of shape " + to_string(x.shape()) + " has " +
                       std::to_string(channels) + " channels along axis " + std::to_string(axis_) + " but gamma '" +
                       gamma_->name() + "' of shape " + to_string(gamma_->shape()) + " expects " +
                       std::to_string(expected));
    }
    return hybrid::layer_norm(x, gamma_->data(), beta_->data(), axis_, epsilon_);
  }

  std::string type_name() const override { return "LayerNorm"; }
  /// "LayerNorm(axis=-1, epsilon=1e-05, in_channels=16)"; "?" while not known.
  std::string describe() const override {
    const int64_t in = in_channels();
    return "LayerNorm(axis=" + std::to_string(axis_) + ", epsilon=" + number_text(epsilon_) +
           ", in_channels=" + (in ? std::to_string(in) : std::string("?")) + ")";
  }

  int64_t axis() const { return axis_; }
  double epsilon() const { return epsilon_; }
  /// 0 until known.
  int64_t in_channels() const { return gamma_->shape()[0]; }
  const std::shared_ptr<ParameterT<T>>& gamma() const { return gamma_; }
  const std::shared_ptr<ParameterT<T>>& beta() const { return beta_; }

 private:
  /// 1e-05 as Python prints it.
  static std::string number_text(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
  }

  int64_t axis_;
  double epsilon_;
  std::shared_ptr<ParameterT<T>> gamma_, beta_;
};

using LayerNorm = LayerNormT<float>;

}  // namespace hybrid::nn
