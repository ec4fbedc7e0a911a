#pragma once
// The gradient column of the op table: for every OpCode, in OpCode order,
// how gradients flow through it. A rule is a vector-Jacobian product written
// with the tensor API, so it runs eagerly on the tape and, inside a trace,
// records table ops: the backward of a traced graph is a graph that the
// passes fold, fuse and memory-plan like any other.
//
// The column sits above api/ (rules call tensor functions) and so cannot be
// a field of the table's rows; it is a parallel array checked at compile
// time, like the table itself: one entry per op, in order, and an entry
// without a rule must say why (zero, not_differentiable, internal).
#include <array>
#include <vector>

#include "../api/tensor_ops.hpp"

namespace hybrid::autograd {

/// What a rule sees: the node's inputs and output (eager values, or symbols
/// while tracing), its attributes, and the gradient flowing into its output.
template <class T>
struct GradArgs {
  const TensorT<T>* const* in;
  int n_in;
  const TensorT<T>& out;
  const TensorT<T>& grad_out;
  const Attrs& attrs;
};

/// Fills grad_in[i] with the gradient for input i (n_in entries; an
/// undefined tensor means zero). Broadcast inputs get gradients summed back
/// to their own shape.
template <class T>
using GradRule = void (*)(const GradArgs<T>& g, std::vector<TensorT<T>>& grad_in);

enum class GradKind : uint8_t {
  rule,               // a vector-Jacobian product below
  zero,               // piecewise constant (comparisons, argmax, one_hot): zero gradient
  not_differentiable, // sources: variables are leaves, constants take no gradient
  internal,           // made by passes after differentiation (fused_elementwise)
  pending,            // differentiable; its rule is not written yet (backward refuses it)
};

struct GradDef {
  OpCode code;
  GradKind kind;
  GradRule<float> rule_f32;
  GradRule<double> rule_f64;
};

namespace gradient_detail {

#define HYBRID_GRAD(code, kind) GradDef{OpCode::code, GradKind::kind, nullptr, nullptr}

inline constexpr std::array<GradDef, kOpCount> kGradients = {{
    HYBRID_GRAD(variable, not_differentiable),
    HYBRID_GRAD(constant, not_differentiable),
    HYBRID_GRAD(neg, pending),
    HYBRID_GRAD(exp, pending),
    HYBRID_GRAD(log, pending),
    HYBRID_GRAD(sqrt, pending),
    HYBRID_GRAD(abs, pending),
    HYBRID_GRAD(tanh, pending),
    HYBRID_GRAD(sigmoid, pending),
    HYBRID_GRAD(relu, pending),
    HYBRID_GRAD(softrelu, pending),
    HYBRID_GRAD(pow_scalar, pending),
    HYBRID_GRAD(square, pending),
    HYBRID_GRAD(rsqrt, pending),
    HYBRID_GRAD(log1p, pending),
    HYBRID_GRAD(gelu, pending),
    HYBRID_GRAD(silu, pending),
    HYBRID_GRAD(leaky_relu, pending),
    HYBRID_GRAD(clip, pending),
    HYBRID_GRAD(erf, pending),
    HYBRID_GRAD(add, pending),
    HYBRID_GRAD(sub, pending),
    HYBRID_GRAD(mul, pending),
    HYBRID_GRAD(div, pending),
    HYBRID_GRAD(maximum, pending),
    HYBRID_GRAD(minimum, pending),
    HYBRID_GRAD(greater, zero),
    HYBRID_GRAD(less, zero),
    HYBRID_GRAD(equal, zero),
    HYBRID_GRAD(where, pending),
    HYBRID_GRAD(fused_elementwise, internal),
    HYBRID_GRAD(matmul, pending),
    HYBRID_GRAD(fully_connected, pending),
    HYBRID_GRAD(reshape, pending),
    HYBRID_GRAD(transpose, pending),
    HYBRID_GRAD(concat, pending),
    HYBRID_GRAD(slice, pending),
    HYBRID_GRAD(stack, pending),
    HYBRID_GRAD(broadcast_to, pending),
    HYBRID_GRAD(pad, pending),
    HYBRID_GRAD(take, pending),
    HYBRID_GRAD(pick, pending),
    HYBRID_GRAD(one_hot, zero),
    HYBRID_GRAD(argmax, zero),
    HYBRID_GRAD(sum, pending),
    HYBRID_GRAD(mean, pending),
    HYBRID_GRAD(max, pending),
    HYBRID_GRAD(softmax, pending),
    HYBRID_GRAD(log_softmax, pending),
}};
#undef HYBRID_GRAD

constexpr bool column_is_complete() {
  for (int i = 0; i < kOpCount; ++i) {
    const GradDef& d = kGradients[i];
    if (static_cast<int>(d.code) != i) return false;  // one entry per op, in OpCode order
    const bool has_rule = d.rule_f32 != nullptr && d.rule_f64 != nullptr;
    if (has_rule != (d.kind == GradKind::rule)) return false;  // a rule, or a reason for none
  }
  return true;
}
static_assert(column_is_complete(),
              "gradient column: every op needs its entry, in OpCode order, with a rule or a reason for none");

}  // namespace gradient_detail

inline const GradDef& grad_def(OpCode op) { return gradient_detail::kGradients[static_cast<int>(op)]; }

}  // namespace hybrid::autograd
