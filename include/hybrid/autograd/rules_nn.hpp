#pragma once
// Gradient rules of pooling, layer normalization and embedding. Pooling and
// embedding send their gradients through internal backward ops (a scatter
// over windows or rows, which no composition of table ops does cheaply);
// global_avg_pool2d and layer_norm are written with tensor functions. All
// run eagerly on the tape and record table ops inside a trace.
//
// Conventions:
//   max_pool2d sends each dy to the first maximum of its window (row-major),
//     as PyTorch; padding never receives gradient;
//   embedding sends nothing to its indices; a repeated index accumulates.
#include "rules_structure.hpp"

namespace hybrid::autograd::rules {

/// dx = dy routed to the first maximum of each window.
template <class T>
void max_pool2d(const GradArgs<T>& g, Grads<T>& gi) {
  if (begin_rule(g, gi)) gi[0] = ops::apply<T>(OpCode::max_pool2d_backward, {g.in[0], &g.grad_out}, g.attrs);
}

/// dx = dy / divisor added to every real element of its window.
template <class T>
void avg_pool2d(const GradArgs<T>& g, Grads<T>& gi) {
  if (!begin_rule(g, gi)) return;
  Attrs at = g.attrs;
  at.shape = g.in[0]->shape();
  gi[0] = ops::apply<T>(OpCode::avg_pool2d_backward, {&g.grad_out}, at);
}

/// dx = dy / (H · W) broadcast over each plane.
template <class T>
void global_avg_pool2d(const GradArgs<T>& g, Grads<T>& gi) {
  if (!begin_rule(g, gi)) return;
  const Shape& in = g.in[0]->shape();
  gi[0] = hybrid::broadcast_to(g.grad_out / static_cast<T>(in[2] * in[3]), in);
}

/// With x̂ = (x - mean) · r, r = 1 / √(var + epsilon), along the axis:
/// dx = r · (dx̂ - mean(dx̂) - x̂ · mean(dx̂ · x̂)) with dx̂ = dy · gamma;
/// dgamma = Σ dy · x̂ and dbeta = Σ dy over every other axis. Mean and r are
/// recomputed from x.
template <class T>
void layer_norm(const GradArgs<T>& g, Grads<T>& gi) {
  begin_rule(g, gi);
  if (!wants(g, 0) && !wants(g, 1) && !wants(g, 2)) return;
  const TensorT<T>&x = *g.in[0], &gamma = *g.in[1], &dy = g.grad_out;
  const int axis = normalize_axis(g.attrs.axis, x.ndim(), "layer_norm");
  std::vector<int64_t> others;  // the axes dgamma and dbeta sum over
  Shape along;                   // gamma's shape broadcast along the axis: (C, 1, ..., 1)
  for (int d = axis; d < x.ndim(); ++d) along.push_back(d == axis ? x.shape()[d] : 1);
  for (int d = 0; d < x.ndim(); ++d)
    if (d != axis) others.push_back(d);
  auto sum_others = [&](const TensorT<T>& t) { return others.empty() ? t : hybrid::sum(t, others); };

  const TensorT<T> centered = x - hybrid::mean(x, axis, true);
  const TensorT<T> inv_std =
      hybrid::rsqrt(hybrid::mean(hybrid::square(centered), axis, true) + attr_value<T>(g.attrs.epsilon));
  const TensorT<T> xhat = centered * inv_std;
  if (wants(g, 0)) {
    const TensorT<T> dxhat = dy * hybrid::reshape(gamma, along);
    gi[0] = inv_std * (dxhat - hybrid::mean(dxhat, axis, true) - xhat * hybrid::mean(dxhat * xhat, axis, true));
  }
  if (wants(g, 1)) gi[1] = sum_others(dy * xhat);
  if (wants(g, 2)) gi[2] = sum_others(dy);
}

/// dweight = the rows of dy scatter-added at their indices; indices take none.
template <class T>
void embedding(const GradArgs<T>& g, Grads<T>& gi) {
  begin_rule(g, gi);
  if (!wants(g, 1)) return;
  Attrs at;
  at.depth = g.in[1]->shape()[0];
  gi[1] = ops::apply<T>(OpCode::embedding_backward, {g.in[0], &g.grad_out}, at);
}

}  // namespace hybrid::autograd::rules
