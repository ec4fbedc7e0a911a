#pragma once
// BatchNormT<T>: Gluon's BatchNorm. Parameters gamma (ones), beta (zeros)
// and the running statistics running_mean (zeros) and running_var (ones),
// which take no gradient (grad_req "null"). In train mode the batch's own
// statistics normalize and update the running ones:
//   running = momentum · running + (1 - momentum) · batch
// (the batch variance biased, Σ(x - mean)² / n, as Gluon); in predict mode
// the running statistics normalize. Eager calls publish the update here; a
// hybridized block's train-mode plan computes it as a state update that the
// call publishes (passes/lower_mode.hpp).
#include <string>

#include "../api/mode_ops.hpp"
#include "../autograd/mode.hpp"
#include "hybrid_block.hpp"

namespace hybrid::nn {

namespace detail {

/// Publishes the running averages of `batch` into the two parameters.
template <class T>
void update_running_statistics(ParameterT<T>& running_mean, ParameterT<T>& running_var,
                               const BatchStatistics<T>& batch, double momentum) {
  auto not_recorded = autograd::pause();
  std::vector<std::pair<ParameterT<T>*, TensorT<T>>> updates{
      {&running_mean, hybrid::detail::running_average(running_mean.data(), batch.mean.detach(), momentum)},
      {&running_var, hybrid::detail::running_average(running_var.data(), batch.var.detach(), momentum)}};
  ParameterAccess::publish(updates, "a running-statistics update");
}

}  // namespace detail

template <class T>
class BatchNormT : public HybridBlockT<T> {
 public:
  explicit BatchNormT(int64_t axis = 1, double momentum = 0.9, double epsilon = 1e-5, int64_t in_channels = 0)
      : axis_(axis), momentum_(momentum), epsilon_(epsilon) {
    if (!(momentum >= 0 && momentum <= 1))
      throw Error("BatchNorm: momentum must be in [0, 1], got " + std::to_string(momentum));
    if (!(epsilon > 0)) throw Error("BatchNorm: epsilon must be positive, got " + std::to_string(epsilon));
    if (in_channels < 0)
      throw Error("BatchNorm: in_channels must be positive or 0 (inferred), got " + std::to_string(in_channels));
    const Shape shape{in_channels};
    gamma_ = this->register_parameter("gamma", shape, std::make_shared<init::One>());
    beta_ = this->register_parameter("beta", shape, std::make_shared<init::Zero>());
    running_mean_ = this->register_parameter("running_mean", shape, std::make_shared<init::Zero>());
    running_var_ = this->register_parameter("running_var", shape, std::make_shared<init::One>());
    running_mean_->set_grad_req("null");
    running_var_->set_grad_req("null");
  }

  TensorT<T> forward(const TensorT<T>& x) override {
    if (x.ndim() < 2)
      throw ShapeError(this->error_context() + "needs an input of at least 2 dimensions, got shape " +
                       to_string(x.shape()));
    if (axis_ < -x.ndim() || axis_ >= x.ndim())
      throw ShapeError(this->error_context() + "axis " + std::to_string(axis_) + " is out of range for shape " +
                       to_string(x.shape()));
    const int64_t channels = x.shape()[axis_ < 0 ? axis_ + x.ndim() : axis_];
    for (const auto* p : {&gamma_, &beta_, &running_mean_, &running_var_})
      if ((*p)->is_deferred()) (*p)->infer_shape(Shape{channels});
    const TensorT<T> gamma = gamma_->data(), beta = beta_->data();
    const TensorT<T> mean = running_mean_->data(), var = running_var_->data();
    if (x.is_traced() || !autograd::is_training())
      return batch_norm(x, gamma, beta, mean, var, axis_, epsilon_, momentum_);
    BatchStatistics<T> batch;
    TensorT<T> y = batch_norm(x, gamma, beta, mean, var, axis_, epsilon_, momentum_, &batch);
    detail::update_running_statistics(*running_mean_, *running_var_, batch, momentum_);
    return y;
  }

  std::string type_name() const override { return "BatchNorm"; }
  std::string describe() const override {
    const int64_t c = gamma_->shape()[0];
    return "BatchNorm(axis=" + std::to_string(axis_) + ", momentum=" + format(momentum_) + ", eps=" + format(epsilon_) +
           ", in_channels=" + (c ? std::to_string(c) : std::string("?")) + ")";
  }

  const std::shared_ptr<ParameterT<T>>& gamma() const { return gamma_; }
  const std::shared_ptr<ParameterT<T>>& beta() const { return beta_; }
  const std::shared_ptr<ParameterT<T>>& running_mean() const { return running_mean_; }
  const std::shared_ptr<ParameterT<T>>& running_var() const { return running_var_; }

 private:
  static std::string format(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
  }

  int64_t axis_;
  double momentum_, epsilon_;
  std::shared_ptr<ParameterT<T>> gamma_, beta_, running_mean_, running_var_;
};

using BatchNorm = BatchNormT<float>;

}  // namespace hybrid::nn
