#pragma once
// The gradient rule of conv2d: dx and dW are the internal backward ops
// (conv2d_backward_data, conv2d_backward_weight: the transposed products of
// the forward's GEMM), db is dy summed over the batch and pixels. An
// activation epilogue is differentiated through the activation's own rule,
// recomputing the pre-activation only when that rule reads its input (as
// fully_connected's rule does). Written with ops::apply and tensor
// functions, so inside a trace it records the backward as graph nodes.
#include "rules_structure.hpp"

namespace hybrid::autograd::rules {

template <class T>
void conv2d(const GradArgs<T>& g, Grads<T>& gi) {
  begin_rule(g, gi);
  const bool has_bias = g.n_in == 3;
  if (!wants(g, 0) && !wants(g, 1) && !(has_bias && wants(g, 2))) return;
  const TensorT<T>&x = *g.in[0], &w = *g.in[1];
  TensorT<T> dz = g.grad_out;
  if (g.attrs.activation >= 0) {
    const auto act = static_cast<OpCode>(g.attrs.activation);
    const GradDef& def = grad_def(act);
    TensorT<T> z;  // the pre-activation, recomputed only if the activation's rule reads it
    if (!def.output_only)
      z = hybrid::conv2d(x, w, has_bias ? *g.in[2] : TensorT<T>(), g.attrs.stride, g.attrs.padding, g.attrs.dilation,
                         g.attrs.groups);
    const TensorT<T>* act_in[1] = {&z};
    const Attrs none;
    Grads<T> dact;
    grad_rule<T>(def)(GradArgs<T>{act_in, 1, g.out, g.grad_out, none}, dact);
    dz = dact[0];
  }
  Attrs at;  // the convolution's geometry; shape is the gradient's
  at.stride = g.attrs.stride;
  at.padding = g.attrs.padding;
  at.dilation = g.attrs.dilation;
  at.groups = g.attrs.groups;
  if (wants(g, 0)) {
    at.shape = x.shape();
    gi[0] = ops::apply<T>(OpCode::conv2d_backward_data, {&dz, &w}, at);
  }
  if (wants(g, 1)) {
    at.shape = w.shape();
    gi[1] = ops::apply<T>(OpCode::conv2d_backward_weight, {&x, &dz}, at);
  }
  if (has_bias && wants(g, 2)) gi[2] = hybrid::sum(dz, {0, 2, 3});
}

}  // namespace hybrid::autograd::rules
