#pragma once
// Gluon's losses: HybridBlocks called as loss(pred, label) that return one
// value per sample (shape (batch,)), the per-element loss averaged over the
// non-batch axes. Each is a few tensor ops, so it is differentiated by the
// gradient column and, hybridized, fuses into the model's plan.
#include <string>
#include <vector>

#include "hybrid_block.hpp"

namespace hybrid::nn::loss {

template <class T>
class LossT : public HybridBlockT<T> {
 public:
  std::vector<TensorT<T>> forward_many(const std::vector<TensorT<T>>& inputs) override {
    if (inputs.size() != 2)
      throw Error(this->error_context() + "takes (pred, label); called with " + std::to_string(inputs.size()) +
                  " inputs");
    if (inputs[0].ndim() == 0)
      throw ShapeError(this->error_context() + "pred must have a batch axis; got a 0-d tensor");
    return {per_sample(loss(inputs[0], inputs[1]))};
  }

 protected:
  /// The loss of each element (or of each line along the class axis).
  virtual TensorT<T> loss(const TensorT<T>& pred, const TensorT<T>& label) = 0;

  /// `label` in pred's shape; the element counts must match (Gluon reshapes too).
  TensorT<T> like_pred(const TensorT<T>& label, const TensorT<T>& pred) const {
    if (label.size() != pred.size())
      throw ShapeError(this->error_context() + "label of shape " + to_string(label.shape()) +
                       " does not match pred of shape " + to_string(pred.shape()));
    return label.shape() == pred.shape() ? label : reshape(label, pred.shape());
  }

 private:
  static TensorT<T> per_sample(const TensorT<T>& l) {
    if (l.ndim() <= 1) return l;
    std::vector<int64_t> axes;
    for (int64_t a = 1; a < l.ndim(); ++a) axes.push_back(a);
    return mean(l, axes);
  }
};

/// −log softmax(pred)[label] along `axis`: labels are class indices stored
/// in T (sparse_label) or distributions over the classes; with from_logits,
/// pred already holds log-probabilities. Log-softmax keeps it stable for
/// large logits.
template <class T>
class SoftmaxCrossEntropyLossT : public LossT<T> {
 public:
  explicit SoftmaxCrossEntropyLossT(int64_t axis = -1, bool sparse_label = true, bool from_logits = false)
      : axis_(axis), sparse_label_(sparse_label), from_logits_(from_logits) {}
  std::string type_name() const override { return "SoftmaxCrossEntropyLoss"; }

 protected:
  TensorT<T> loss(const TensorT<T>& pred, const TensorT<T>& label) override {
    const TensorT<T> logp = from_logits_ ? pred : log_softmax(pred, axis_);
    if (sparse_label_) return -pick(logp, label, axis_);
    return -sum(logp * this->like_pred(label, pred), axis_);
  }

 private:
  int64_t axis_;
  bool sparse_label_, from_logits_;
};

/// ½ (pred − label)².
template <class T>
class L2LossT : public LossT<T> {
 public:
  std::string type_name() const override { return "L2Loss"; }

 protected:
  TensorT<T> loss(const TensorT<T>& pred, const TensorT<T>& label) override {
    return square(pred - this->like_pred(label, pred)) * T(0.5);
  }
};

/// |pred − label|.
template <class T>
class L1LossT : public LossT<T> {
 public:
  std::string type_name() const override { return "L1Loss"; }

 protected:
  TensorT<T> loss(const TensorT<T>& pred, const TensorT<T>& label) override {
    return abs(pred - this->like_pred(label, pred));
  }
};

/// Binary cross-entropy of labels in [0, 1]. On logits (the default) in the
/// stable form max(x, 0) − x·z + log(1 + e^−|x|); with from_sigmoid, pred
/// holds probabilities: −(z·log(p + ε) + (1 − z)·log(1 − p + ε)), ε = 1e-12.
template <class T>
class SigmoidBinaryCrossEntropyLossT : public LossT<T> {
 public:
  explicit SigmoidBinaryCrossEntropyLossT(bool from_sigmoid = false) : from_sigmoid_(from_sigmoid) {}
  std::string type_name() const override { return "SigmoidBinaryCrossEntropyLoss"; }

 protected:
  TensorT<T> loss(const TensorT<T>& pred, const TensorT<T>& label) override {
    const TensorT<T> z = this->like_pred(label, pred);
    if (!from_sigmoid_) return relu(pred) - pred * z + softrelu(-abs(pred));
    const T eps = T(1e-12);
    return -(z * log(pred + eps) + (T(1) - z) * log(T(1) - pred + eps));
  }

 private:
  bool from_sigmoid_;
};

using Loss = LossT<float>;
using SoftmaxCrossEntropyLoss = SoftmaxCrossEntropyLossT<float>;
using L2Loss = L2LossT<float>;
using L1Loss = L1LossT<float>;
using SigmoidBinaryCrossEntropyLoss = SigmoidBinaryCrossEntropyLossT<float>;

}  // namespace hybrid::nn::loss
