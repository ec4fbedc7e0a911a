#pragma once
// Gradient rules of the elementwise ops: one vector-Jacobian product each,
// written with tensor functions. In the comments x is the input, y the
// output, dy the incoming gradient; binary operands a and b broadcast, so
// their gradients are summed back to their shapes (sum_to).
//
// Conventions where an op is not differentiable:
//   relu'(0) = 0 (and relu rules on y > 0, which is the same as x > 0);
//   abs'(0) = 0 (sign(x), as PyTorch);
//   leaky_relu'(0) = alpha (the forward's x > 0 test, as PyTorch);
//   clip passes the gradient on the closed interval lo <= x <= hi, bounds
//     included, as PyTorch's clamp ("the subgradient 1" at min and max),
//     and blocks it outside and for NaN;
//   maximum / minimum on ties give each operand half the gradient, as
//     PyTorch: symmetric, so it does not depend on operand order;
//   pow(x, 0) has a zero gradient (no 0 · x^-1 = NaN at x = 0), as PyTorch.
#include <cmath>

#include "grad_def.hpp"

namespace hybrid::autograd::rules {

template <class T>
using Grads = std::vector<TensorT<T>>;

/// Sizes grad_in for a rule and says whether input 0's gradient is wanted.
template <class T>
bool begin_rule(const GradArgs<T>& g, Grads<T>& gi) {
  gi.assign(static_cast<size_t>(g.n_in), TensorT<T>());
  return wants(g, 0);
}

// Unary ops: EXPR may name x (the input), y (the output) and dy. A rule
// marked output_only in the column must not name x.
#define HYBRID_UNARY_GRAD(NAME, EXPR)                                 \
  template <class T>                                                  \
  void NAME(const GradArgs<T>& g, Grads<T>& gi) {                     \
    if (!begin_rule(g, gi)) return;                                   \
    const TensorT<T>& x = *g.in[0];                                   \
    const TensorT<T>& y = g.out;                                      \
    const TensorT<T>& dy = g.grad_out;                                \
    const Attrs& at = g.attrs;                                        \
    (void)x, (void)y, (void)at;                                       \
    gi[0] = EXPR;                                                     \
  }

HYBRID_UNARY_GRAD(neg, -dy)
HYBRID_UNARY_GRAD(exp, dy * y)  // output_only
HYBRID_UNARY_GRAD(log, dy / x)
HYBRID_UNARY_GRAD(sqrt, dy / (y * T(2)))  // output_only
HYBRID_UNARY_GRAD(abs, dy * (hybrid::greater(x, T(0)) - hybrid::less(x, T(0))))
HYBRID_UNARY_GRAD(tanh, dy * (T(1) - hybrid::square(y)))  // output_only
HYBRID_UNARY_GRAD(sigmoid, dy * (y * (T(1) - y)))  // output_only
HYBRID_UNARY_GRAD(relu, hybrid::where(hybrid::greater(y, T(0)), dy, scalar<T>(0)))  // output_only
HYBRID_UNARY_GRAD(softrelu, dy * hybrid::sigmoid(x))
HYBRID_UNARY_GRAD(square, dy * (x * T(2)))
HYBRID_UNARY_GRAD(rsqrt, dy * (y * hybrid::square(y) * T(-0.5)))  // d/dx x^-1/2 = -y³/2; output_only
HYBRID_UNARY_GRAD(log1p, dy / (x + T(1)))
// Φ(x) + x·φ(x), the exact form; c is the forward's 1/√2, rounded to T.
HYBRID_UNARY_GRAD(gelu, dy * ((hybrid::erf(x * static_cast<T>(0.70710678118654752440)) + T(1)) * T(0.5) +
                              x * hybrid::exp(hybrid::square(x) * T(-0.5)) * static_cast<T>(0.39894228040143267794)))
HYBRID_UNARY_GRAD(leaky_relu, hybrid::where(hybrid::greater(x, T(0)), dy, dy * attr_value<T>(at.alpha)))
// x == clip(x) exactly where lo <= x <= hi (false for NaN).
HYBRID_UNARY_GRAD(clip, hybrid::where(hybrid::equal(x, y), dy, scalar<T>(0)))
HYBRID_UNARY_GRAD(erf, dy * (hybrid::exp(-hybrid::square(x)) * static_cast<T>(1.12837916709551257390)))  // 2/√π
#undef HYBRID_UNARY_GRAD

/// dy · p · x^(p-1), with p the exponent as the forward rounds it.
template <class T>
void pow_scalar(const GradArgs<T>& g, Grads<T>& gi) {
  if (!begin_rule(g, gi)) return;
  const T p = attr_value<T>(g.attrs.scalar);
  if (p == T(0)) return;  // y = 1: zero gradient
  gi[0] = g.grad_out * (hybrid::pow(*g.in[0], static_cast<double>(p) - 1) * p);
}

/// dy · s · (1 + x · (1 - s)) with s = sigmoid(x).
template <class T>
void silu(const GradArgs<T>& g, Grads<T>& gi) {
  if (!begin_rule(g, gi)) return;
  const TensorT<T>& x = *g.in[0];
  const TensorT<T> s = hybrid::sigmoid(x);
  gi[0] = g.grad_out * (s * (T(1) + x * (T(1) - s)));
}

// Binary ops, with broadcasting.

template <class T>
void add(const GradArgs<T>& g, Grads<T>& gi) {
  begin_rule(g, gi);
  for (int i = 0; i < 2; ++i)
    if (wants(g, i)) gi[i] = sum_to(g.grad_out, g.in[i]->shape());
}

template <class T>
void sub(const GradArgs<T>& g, Grads<T>& gi) {
  begin_rule(g, gi);
  if (wants(g, 0)) gi[0] = sum_to(g.grad_out, g.in[0]->shape());
  if (wants(g, 1)) gi[1] = -sum_to(g.grad_out, g.in[1]->shape());
}

template <class T>
void mul(const GradArgs<T>& g, Grads<T>& gi) {
  begin_rule(g, gi);
  const TensorT<T>&a = *g.in[0], &b = *g.in[1];
  if (wants(g, 0)) gi[0] = sum_to(g.grad_out * b, a.shape());
  if (wants(g, 1)) gi[1] = sum_to(g.grad_out * a, b.shape());
}

/// da = dy / b; db = -dy · a / b² = -dy · y / b.
template <class T>
void div(const GradArgs<T>& g, Grads<T>& gi) {
  begin_rule(g, gi);
  const TensorT<T>&a = *g.in[0], &b = *g.in[1];
  if (wants(g, 0)) gi[0] = sum_to(g.grad_out / b, a.shape());
  if (wants(g, 1)) gi[1] = -sum_to(g.grad_out * g.out / b, b.shape());
}

/// maximum (wins = greater) or minimum (wins = less): dy to the operand that
/// is chosen, half of dy to each on a tie, nothing to the other.
template <class T, bool kMax>
void extremum(const GradArgs<T>& g, Grads<T>& gi) {
  begin_rule(g, gi);
  if (!wants(g, 0) && !wants(g, 1)) return;
  const TensorT<T>&a = *g.in[0], &b = *g.in[1], &dy = g.grad_out;
  const TensorT<T> half = hybrid::where(equal(a, b), dy * T(0.5), scalar<T>(0));
  if (wants(g, 0)) gi[0] = sum_to(hybrid::where(kMax ? greater(a, b) : less(a, b), dy, half), a.shape());
  if (wants(g, 1)) gi[1] = sum_to(hybrid::where(kMax ? less(a, b) : greater(a, b), dy, half), b.shape());
}
template <class T>
void maximum(const GradArgs<T>& g, Grads<T>& gi) { extremum<T, true>(g, gi); }
template <class T>
void minimum(const GradArgs<T>& g, Grads<T>& gi) { extremum<T, false>(g, gi); }

/// where(cond, a, b): dy to a where cond is nonzero, to b elsewhere; cond gets none.
template <class T>
void where(const GradArgs<T>& g, Grads<T>& gi) {
  begin_rule(g, gi);
  const TensorT<T>&c = *g.in[0], &dy = g.grad_out;
  if (wants(g, 1)) gi[1] = sum_to(hybrid::where(c, dy, scalar<T>(0)), g.in[1]->shape());
  if (wants(g, 2)) gi[2] = sum_to(hybrid::where(c, scalar<T>(0), dy), g.in[2]->shape());
}

}  // namespace hybrid::autograd::rules
