#pragma once
// The mode-dependent ops as tensor functions: batch_norm and dropout mean
// one thing in predict mode (their table kernels) and another in train mode.
//
// A traced call records the op itself, whatever the mode, so a graph (and a
// graph file) keeps one batch_norm or dropout node that stays trainable;
// each compiled plan then lowers it for its own mode (passes/lower_mode.hpp).
// An eager call in train mode runs the train-mode composition of ordinary
// ops below — the same function the lowering runs on symbols, so eager and
// hybridized training compute the same ops in the same order.
#include "tensor_ops.hpp"

namespace hybrid {

/// A batch's statistics along the channel axis, shape (C,): its mean and
/// its biased variance (Σ(x - mean)² / n, as Gluon's running update uses).
template <class T>
struct BatchStatistics {
  TensorT<T> mean, var;
};

namespace detail {

inline Attrs batch_norm_attrs(int64_t axis, double epsilon, double momentum) {
  Attrs at;
  at.axis = axis;
  at.epsilon = epsilon;
  at.momentum = momentum;
  return at;
}

/// batch_norm in train mode: x normalized with its own statistics over every
/// axis but `axis` (already in [0, rank)); `stats`, when given, receives them.
template <class T>
TensorT<T> batch_norm_train(const TensorT<T>& x, const TensorT<T>& gamma, const TensorT<T>& beta, int axis,
                            double epsilon, BatchStatistics<T>* stats) {
  std::vector<int64_t> others;
  Shape channel_shape;
  for (int d = 0; d < x.ndim(); ++d) {
    channel_shape.push_back(d == axis ? x.shape()[d] : 1);
    if (d != axis) others.push_back(d);
  }
  const TensorT<T> mean = hybrid::mean(x, others, true);
  const TensorT<T> centred = x - mean;
  const TensorT<T> var = hybrid::mean(hybrid::square(centred), others, true);
  const TensorT<T> scale = hybrid::reshape(gamma, channel_shape) * hybrid::rsqrt(var + static_cast<T>(epsilon));
  if (stats) {
    const Shape channels{x.shape()[axis]};
    stats->mean = hybrid::reshape(mean, channels);
    stats->var = hybrid::reshape(var, channels);
  }
  return centred * scale + hybrid::reshape(beta, channel_shape);
}

/// running · momentum + batch · (1 - momentum): the running statistics' update.
template <class T>
TensorT<T> running_average(const TensorT<T>& running, const TensorT<T>& batch, double momentum) {
  return running * static_cast<T>(momentum) + batch * static_cast<T>(1 - momentum);
}

/// dropout in train mode: x times a fresh mask (rate > 0).
template <class T>
TensorT<T> dropout_train(const TensorT<T>& x, const Attrs& at) {
  // The mask reads only x's shape: eagerly it takes a detached x, so it is not on the tape.
  const TensorT<T> shape_source = x.is_traced() ? x : x.detach();
  return x * ops::apply<T>(OpCode::dropout_mask, {&shape_source}, at);
}

}  // namespace detail

/// Batch normalization along `axis` (Gluon's BatchNorm op). Predict mode:
/// with the running statistics. Train mode (eager): with the batch's own
/// statistics, which `batch` receives so the caller can update the running
/// ones (detail::running_average); the running tensors are not written.
template <class T>
TensorT<T> batch_norm(const TensorT<T>& x, const TensorT<T>& gamma, const TensorT<T>& beta,
                      const TensorT<T>& running_mean, const TensorT<T>& running_var, int64_t axis = 1,
                      double epsilon = 1e-5, double momentum = 0.9, BatchStatistics<T>* batch = nullptr) {
  Attrs at = detail::batch_norm_attrs(axis, epsilon, momentum);
  const TensorT<T>* in[5] = {&x, &gamma, &beta, &running_mean, &running_var};
  bool traced = false;
  for (const TensorT<T>* t : in) {
    if (!t->defined()) throw Error("batch_norm: an input is an undefined tensor");
    traced = traced || t->is_traced();
  }
  if (traced || !autograd::detail::mode().training) return ops::apply<T>(OpCode::batch_norm, in, 5, std::move(at));
  Shape shapes[5];
  for (int i = 0; i < 5; ++i) shapes[i] = in[i]->shape();
  infer_shape(OpCode::batch_norm, shapes, 5, at);  // the op's own checks and errors
  return detail::batch_norm_train(x, gamma, beta, static_cast<int>(at.axis), static_cast<T>(at.epsilon), batch);
}

/// Dropout: in train mode each element is zeroed with probability `rate`
/// and the others scaled by 1 / (1 - rate), drawing from the library's
/// generator (deterministic after random::seed); in predict mode, x.
template <class T>
TensorT<T> dropout(const TensorT<T>& x, double rate = 0.5) {
  Attrs at;
  at.rate = rate;
  if (!x.defined()) throw Error("dropout: the input is an undefined tensor");
  if (x.is_traced()) return ops::apply<T>(OpCode::dropout, {&x}, std::move(at));
  Shape shape = x.shape();
  infer_shape(OpCode::dropout, &shape, 1, at);
  if (!autograd::detail::mode().training || rate == 0) return x;
  return detail::dropout_train(x, at);
}

}  // namespace hybrid
