#pragma once
// Gradient rules of linear algebra, layout, indexing, reductions and
// softmax: each the adjoint of its op, written with tensor functions (a
// slice's gradient is a pad, a pad's is a slice, a sum's is a broadcast).
// Attributes are read as the shape rules normalise them, and normalised
// again here, so a rule also accepts the attributes a caller wrote.
//
// Conventions:
//   max sends dy to the positions equal to the maximum, split evenly among
//     ties (as PyTorch's amax; a subgradient, unlike MXNet's full dy to
//     each tie); NaN lines get no gradient;
//   take and pick send nothing to their indices; a repeated index
//     accumulates (take sums every use of an entry: a scatter-add along
//     axis 0, a one-hot matmul along other axes);
//   fully_connected with an activation epilogue differentiates the
//     activation through its own rule; the pre-activation x·Wᵀ + b is
//     recomputed only when that rule reads its input (not for relu, tanh,
//     sigmoid, whose rules are output_only).
#include <algorithm>

#include "rules_elementwise.hpp"

namespace hybrid::autograd::rules {

/// `t` with its last two axes swapped.
template <class T>
TensorT<T> swap_last(const TensorT<T>& t) {
  Shape perm;
  for (int d = 0; d < t.ndim(); ++d) perm.push_back(d);
  std::swap(perm[t.ndim() - 1], perm[t.ndim() - 2]);
  return hybrid::transpose(t, perm);
}

/// da = dy · bᵀ, db = aᵀ · dy, each summed over the batch axes it broadcast along.
template <class T>
void matmul(const GradArgs<T>& g, Grads<T>& gi) {
  begin_rule(g, gi);
  const TensorT<T>&a = *g.in[0], &b = *g.in[1], &dy = g.grad_out;
  if (wants(g, 0)) gi[0] = sum_to(hybrid::matmul(dy, swap_last(b)), a.shape());
  if (wants(g, 1)) gi[1] = sum_to(hybrid::matmul(swap_last(a), dy), b.shape());
}

/// y = act(z), z = x2 · Wᵀ + b with x2 the data as (rows, in_units):
/// dz = act'(z) dy; dx = dz · W; dW = dzᵀ · x2; db = Σ_rows dz.
template <class T>
void fully_connected(const GradArgs<T>& g, Grads<T>& gi) {
  begin_rule(g, gi);
  const bool has_bias = g.n_in == 3;
  if (!wants(g, 0) && !wants(g, 1) && !(has_bias && wants(g, 2))) return;
  const TensorT<T>&x = *g.in[0], &w = *g.in[1];
  const int64_t units = w.shape()[0], in_units = w.shape()[1];
  TensorT<T> dz = g.grad_out;
  if (g.attrs.activation >= 0) {
    const auto act = static_cast<OpCode>(g.attrs.activation);
    const GradDef& def = grad_def(act);
    TensorT<T> z;  // the pre-activation, recomputed only if the activation's rule reads it
    if (!def.output_only)
      z = hybrid::fully_connected(x, w, has_bias ? *g.in[2] : TensorT<T>(), g.attrs.flatten);
    const TensorT<T>* act_in[1] = {&z};
    const Attrs none;
    Grads<T> dact;
    grad_rule<T>(def)(GradArgs<T>{act_in, 1, g.out, g.grad_out, none}, dact);
    dz = dact[0];
  }
  // Rows of the output: every axis but the last.
  int64_t rows = 1;
  for (int d = 0; d + 1 < g.out.ndim(); ++d) rows *= g.out.shape()[d];
  const TensorT<T> dz2 = hybrid::reshape(dz, Shape{rows, units});
  if (wants(g, 0)) gi[0] = hybrid::reshape(hybrid::matmul(dz2, w), x.shape());
  if (wants(g, 1)) gi[1] = hybrid::matmul(hybrid::transpose(dz2), hybrid::reshape(x, Shape{rows, in_units}));
  if (has_bias && wants(g, 2)) gi[2] = hybrid::sum(dz2, 0);
}

// Layout.

template <class T>
void reshape(const GradArgs<T>& g, Grads<T>& gi) {
  if (begin_rule(g, gi)) gi[0] = hybrid::reshape(g.grad_out, g.in[0]->shape());
}

/// The inverse permutation.
template <class T>
void transpose(const GradArgs<T>& g, Grads<T>& gi) {
  if (!begin_rule(g, gi)) return;
  const int nd = g.in[0]->ndim();
  const Shape perm = kernels::resolved_perm(g.attrs, nd);
  Shape inverse = perm;
  for (int d = 0; d < nd; ++d) inverse[normalize_axis(perm[d], nd, "transpose")] = d;
  gi[0] = hybrid::transpose(g.grad_out, inverse);
}

/// Each input's part of dy.
template <class T>
void concat(const GradArgs<T>& g, Grads<T>& gi) {
  begin_rule(g, gi);
  const int axis = normalize_axis(g.attrs.axis, g.out.ndim(), "concat");
  int64_t offset = 0;
  for (int i = 0; i < g.n_in; ++i) {
    const int64_t extent = g.in[i]->shape()[axis];
    if (wants(g, i)) gi[i] = hybrid::slice(g.grad_out, axis, offset, offset + extent);
    offset += extent;
  }
}

/// dy padded with zeros back to the input's extent.
template <class T>
void slice(const GradArgs<T>& g, Grads<T>& gi) {
  if (!begin_rule(g, gi)) return;
  const Shape& in = g.in[0]->shape();
  const int axis = normalize_axis(g.attrs.axis, in.size(), "slice");
  int64_t b, e;
  kernels::slice_bounds(g.attrs.begin, g.attrs.end, in[axis], b, e);
  std::vector<int64_t> widths(2 * static_cast<size_t>(in.size()), 0);
  widths[2 * axis] = b;
  widths[2 * axis + 1] = in[axis] - e;
  gi[0] = hybrid::pad(g.grad_out, widths, 0);
}

/// Input i's gradient is entry i of dy along the new axis.
template <class T>
void stack(const GradArgs<T>& g, Grads<T>& gi) {
  begin_rule(g, gi);
  const int64_t axis = g.attrs.axis < 0 ? g.attrs.axis + g.out.ndim() : g.attrs.axis;
  for (int i = 0; i < g.n_in; ++i)
    if (wants(g, i)) gi[i] = hybrid::reshape(hybrid::slice(g.grad_out, axis, i, i + 1), g.in[i]->shape());
}

template <class T>
void broadcast_to(const GradArgs<T>& g, Grads<T>& gi) {
  if (begin_rule(g, gi)) gi[0] = sum_to(g.grad_out, g.in[0]->shape());
}

/// dy without the padding: one slice per padded axis.
template <class T>
void pad(const GradArgs<T>& g, Grads<T>& gi) {
  if (!begin_rule(g, gi)) return;
  const Shape& in = g.in[0]->shape();
  TensorT<T> d = g.grad_out;
  for (int a = 0; a < in.size(); ++a)
    if (g.attrs.pad_before[a] != 0 || g.attrs.pad_after[a] != 0)
      d = hybrid::slice(d, a, g.attrs.pad_before[a], g.attrs.pad_before[a] + in[a]);
  gi[0] = d;
}

// Indexing.

/// take along axis: each entry sums the gradients of every place it was
/// taken to. Along axis 0 (rows, as an embedding) a scatter-add of dy's M
/// rows; along another axis, with x as (outer, D, inner), dy as (outer, M,
/// inner) and the M indices one-hot as H (M, D), dx = Hᵀ · dy per outer row.
template <class T>
void take(const GradArgs<T>& g, Grads<T>& gi) {
  if (!begin_rule(g, gi)) return;
  const Shape& in = g.in[0]->shape();
  const int axis = normalize_axis(g.attrs.axis, in.size(), "take");
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= in[d];
  for (int d = axis + 1; d < in.size(); ++d) inner *= in[d];
  const int64_t depth = in[axis], m = g.in[1]->size();
  if (axis == 0) {
    Attrs rows;
    rows.depth = depth;
    const TensorT<T> indices = hybrid::reshape(*g.in[1], Shape{m});
    const TensorT<T> dy = hybrid::reshape(g.grad_out, Shape{m, inner});
    gi[0] = hybrid::reshape(ops::apply<T>(OpCode::embedding_backward, {&indices, &dy}, rows), in);
    return;
  }
  const TensorT<T> hot = one_hot(hybrid::reshape(*g.in[1], Shape{m}), depth);  // (M, D)
  const TensorT<T> dy = hybrid::reshape(g.grad_out, Shape{outer, m, inner});
  gi[0] = hybrid::reshape(hybrid::matmul(hybrid::transpose(hot), dy), in);  // (outer, D, inner)
}

/// pick along axis: dy goes to the picked entry of each line.
template <class T>
void pick(const GradArgs<T>& g, Grads<T>& gi) {
  if (!begin_rule(g, gi)) return;
  const Shape& in = g.in[0]->shape();
  const int axis = normalize_axis(g.attrs.axis, in.size(), "pick");
  Shape kept = in, positions(std::vector<int64_t>(static_cast<size_t>(in.size()), 1));
  kept[axis] = 1;
  positions[axis] = in[axis];
  // index == position along the axis, broadcast to x's shape.
  const TensorT<T> hit = equal(hybrid::reshape(*g.in[1], kept), hybrid::reshape(arange<T>(in[axis]), positions));
  gi[0] = hybrid::where(hit, hybrid::reshape(g.grad_out, kept), scalar<T>(0));
}

// Reductions and normalisations.

/// The normalised reduced axes of a reduction over `in` (every axis when empty).
inline std::vector<int64_t> reduced_axes(const Attrs& a, const Shape& in, const char* op) {
  std::vector<int64_t> axes;
  for (int64_t d : a.axes) axes.push_back(normalize_axis(d, in.size(), op));
  if (a.axes.empty())
    for (int d = 0; d < in.size(); ++d) axes.push_back(d);
  return axes;
}

/// dy as the reduction's keepdims shape, broadcast back to the input.
template <class T>
TensorT<T> spread(const TensorT<T>& dy, const Shape& in, const std::vector<int64_t>& axes) {
  const Shape kept = keepdims_shape(in, Shape(axes));
  const TensorT<T> d = hybrid::reshape(dy, kept);
  return kept == in ? d : hybrid::broadcast_to(d, in);
}

template <class T>
void sum(const GradArgs<T>& g, Grads<T>& gi) {
  if (!begin_rule(g, gi)) return;
  const Shape& in = g.in[0]->shape();
  gi[0] = spread(g.grad_out, in, reduced_axes(g.attrs, in, "sum"));
}

template <class T>
void mean(const GradArgs<T>& g, Grads<T>& gi) {
  if (!begin_rule(g, gi)) return;
  const Shape& in = g.in[0]->shape();
  const std::vector<int64_t> axes = reduced_axes(g.attrs, in, "mean");
  int64_t n = 1;
  for (int64_t a : axes) n *= in[static_cast<int>(a)];
  // n = 0 reduces an empty axis: the input, and so its gradient, is empty.
  gi[0] = spread(n == 0 ? g.grad_out : g.grad_out / static_cast<T>(n), in, axes);
}

/// dy split evenly among the positions equal to the maximum of their line.
template <class T>
void max(const GradArgs<T>& g, Grads<T>& gi) {
  if (!begin_rule(g, gi)) return;
  const TensorT<T>& x = *g.in[0];
  const std::vector<int64_t> axes = reduced_axes(g.attrs, x.shape(), "max");
  const Shape kept = keepdims_shape(x.shape(), Shape(axes));
  const TensorT<T> hit = equal(x, hybrid::reshape(g.out, kept));
  const TensorT<T> ties = axes.empty() ? hit : hybrid::sum(hit, axes, true);
  gi[0] = hybrid::where(hit, hybrid::reshape(g.grad_out, kept) / ties, scalar<T>(0));
}

/// dx = y · (dy - Σ_axis dy · y).
template <class T>
void softmax(const GradArgs<T>& g, Grads<T>& gi) {
  if (!begin_rule(g, gi)) return;
  const TensorT<T>&y = g.out, &dy = g.grad_out;
  const int axis = normalize_axis(g.attrs.axis, y.ndim(), "softmax");
  gi[0] = y * (dy - hybrid::sum(dy * y, axis, true));
}

/// dx = dy - e^y · Σ_axis dy (e^y is the softmax).
template <class T>
void log_softmax(const GradArgs<T>& g, Grads<T>& gi) {
  if (!begin_rule(g, gi)) return;
  const TensorT<T>&y = g.out, &dy = g.grad_out;
  const int axis = normalize_axis(g.attrs.axis, y.ndim(), "log_softmax");
  gi[0] = dy - hybrid::exp(y) * hybrid::sum(dy, axis, true);
}

}  // namespace hybrid::autograd::rules
