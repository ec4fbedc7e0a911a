#pragma once
// Gradient rules of the mode-dependent ops, in their predict-mode meaning
// (the one their kernels compute). In train mode these ops never reach a
// rule: eager calls run their train-mode composition of ordinary ops
// (api/mode_ops.hpp) and plans lower them the same way before
// differentiating (passes/lower_mode.hpp), so batch statistics are
// differentiated through the mean and variance ops that compute them.
#include "rules_structure.hpp"

namespace hybrid::autograd::rules {

/// y = (x - mean) · s + beta with s = gamma / √(var + ε), per channel c:
/// dx = dy · s; dgamma = Σ dy · (x - mean) / √(var + ε); dbeta = Σ dy;
/// dmean = -Σ dy · s; dvar = -½ Σ dy · (x - mean) · gamma · (var + ε)^(-3/2);
/// Σ over every axis but the channel axis.
template <class T>
void batch_norm(const GradArgs<T>& g, Grads<T>& gi) {
  begin_rule(g, gi);
  const TensorT<T>&x = *g.in[0], &gamma = *g.in[1], &mean = *g.in[3], &var = *g.in[4], &dy = g.grad_out;
  const int axis = normalize_axis(g.attrs.axis, x.ndim(), "batch_norm");
  Shape channel_shape;  // (1, C, 1, 1) for NCHW
  std::vector<int64_t> others;
  for (int d = 0; d < x.ndim(); ++d) {
    channel_shape.push_back(d == axis ? x.shape()[d] : 1);
    if (d != axis) others.push_back(d);
  }
  auto per_channel = [&](const TensorT<T>& c) { return hybrid::reshape(c, channel_shape); };
  const TensorT<T> inv_std = hybrid::rsqrt(var + static_cast<T>(g.attrs.epsilon));
  if (wants(g, 0)) gi[0] = dy * per_channel(gamma * inv_std);
  const bool centred_needed = wants(g, 1) || wants(g, 4);
  const TensorT<T> dy_centred = centred_needed ? hybrid::sum(dy * (x - per_channel(mean)), others) : TensorT<T>();
  if (wants(g, 1)) gi[1] = dy_centred * inv_std;
  const TensorT<T> dy_sum = wants(g, 2) || wants(g, 3) ? hybrid::sum(dy, others) : TensorT<T>();
  if (wants(g, 2)) gi[2] = dy_sum;
  if (wants(g, 3)) gi[3] = -(dy_sum * gamma * inv_std);
  if (wants(g, 4)) gi[4] = dy_centred * gamma * hybrid::pow(inv_std, T(3)) * T(-0.5);
}

/// dropout in predict mode is the identity.
template <class T>
void dropout(const GradArgs<T>& g, Grads<T>& gi) {
  if (begin_rule(g, gi)) gi[0] = g.grad_out;
}

}  // namespace hybrid::autograd::rules
