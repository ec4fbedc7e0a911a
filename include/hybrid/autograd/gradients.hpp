#pragma once
// The gradient column of the op table: for every OpCode, in OpCode order,
// how gradients flow through it. A rule is a vector-Jacobian product written
// with the tensor API (rules_elementwise.hpp, rules_structure.hpp,
// rules_conv.hpp, rules_nn.hpp, rules_mode.hpp), so it
// runs eagerly on the tape and, inside a trace, records table ops: the
// backward of a traced graph is a graph that the passes fold, fuse and
// memory-plan like any other.
//
// The column sits above api/ (rules call tensor functions) and so cannot be
// a field of the table's rows; it is a parallel array checked at compile
// time, like the table itself: one entry per op, in order, and an entry
// without a rule must say why (zero, not_differentiable, internal).
#include <array>

#include "rules_conv.hpp"
#include "rules_nn.hpp"
#include "rules_mode.hpp"

namespace hybrid::autograd {

namespace gradient_detail {

#define HYBRID_GRAD_RULE(code) GradDef(OpCode::code, &rules::code<float>, &rules::code<double>)
// The rule reads only the output and its gradient (GradDef::output_only).
#define HYBRID_GRAD_RULE_OUT(code) GradDef(OpCode::code, &rules::code<float>, &rules::code<double>, true)
#define HYBRID_GRAD_NONE(code, reason) GradDef(OpCode::code, GradKind::reason)

inline constexpr std::array<GradDef, kOpCount> kGradients = {{
    HYBRID_GRAD_NONE(variable, not_differentiable),
    HYBRID_GRAD_NONE(constant, not_differentiable),
    HYBRID_GRAD_RULE(neg),
    HYBRID_GRAD_RULE_OUT(exp),
    HYBRID_GRAD_RULE(log),
    HYBRID_GRAD_RULE_OUT(sqrt),
    HYBRID_GRAD_RULE(abs),
    HYBRID_GRAD_RULE_OUT(tanh),
    HYBRID_GRAD_RULE_OUT(sigmoid),
    HYBRID_GRAD_RULE_OUT(relu),
    HYBRID_GRAD_RULE(softrelu),
    HYBRID_GRAD_RULE(pow_scalar),
    HYBRID_GRAD_RULE(square),
    HYBRID_GRAD_RULE_OUT(rsqrt),
    HYBRID_GRAD_RULE(log1p),
    HYBRID_GRAD_RULE(gelu),
    HYBRID_GRAD_RULE(silu),
    HYBRID_GRAD_RULE(leaky_relu),
    HYBRID_GRAD_RULE(clip),
    HYBRID_GRAD_RULE(erf),
    HYBRID_GRAD_RULE(add),
    HYBRID_GRAD_RULE(sub),
    HYBRID_GRAD_RULE(mul),
    HYBRID_GRAD_RULE(div),
    HYBRID_GRAD_RULE(maximum),
    HYBRID_GRAD_RULE(minimum),
    HYBRID_GRAD_NONE(greater, zero),
    HYBRID_GRAD_NONE(less, zero),
    HYBRID_GRAD_NONE(equal, zero),
    HYBRID_GRAD_RULE(where),
    HYBRID_GRAD_NONE(fused_elementwise, internal),
    HYBRID_GRAD_RULE(matmul),
    HYBRID_GRAD_RULE(fully_connected),
    HYBRID_GRAD_RULE(reshape),
    HYBRID_GRAD_RULE(transpose),
    HYBRID_GRAD_RULE(concat),
    HYBRID_GRAD_RULE(slice),
    HYBRID_GRAD_RULE(stack),
    HYBRID_GRAD_RULE(broadcast_to),
    HYBRID_GRAD_RULE(pad),
    HYBRID_GRAD_RULE(take),
    HYBRID_GRAD_RULE(pick),
    HYBRID_GRAD_NONE(one_hot, zero),
    HYBRID_GRAD_NONE(argmax, zero),
    HYBRID_GRAD_RULE(sum),
    HYBRID_GRAD_RULE(mean),
    HYBRID_GRAD_RULE(max),
    HYBRID_GRAD_RULE_OUT(softmax),
    HYBRID_GRAD_RULE_OUT(log_softmax),
    HYBRID_GRAD_RULE(conv2d),
    HYBRID_GRAD_NONE(conv2d_backward_data, internal),
    HYBRID_GRAD_NONE(conv2d_backward_weight, internal),
    HYBRID_GRAD_RULE(max_pool2d),
    HYBRID_GRAD_RULE(avg_pool2d),
    HYBRID_GRAD_RULE(global_avg_pool2d),
    HYBRID_GRAD_RULE(layer_norm),
    HYBRID_GRAD_RULE(embedding),
    HYBRID_GRAD_NONE(max_pool2d_backward, internal),
    HYBRID_GRAD_NONE(avg_pool2d_backward, internal),
    HYBRID_GRAD_NONE(embedding_backward, internal),
    HYBRID_GRAD_RULE(batch_norm),
    HYBRID_GRAD_RULE_OUT(dropout),
    HYBRID_GRAD_NONE(dropout_mask, zero),
}};
#undef HYBRID_GRAD_RULE
#undef HYBRID_GRAD_RULE_OUT
#undef HYBRID_GRAD_NONE

/// One entry per op, in OpCode order. (Whether an entry has rules follows
/// from its kind: GradDef's constructors tie the two together, so the check
/// never compares function pointers, which GCC's UBSan refuses in constant
/// expressions.)
constexpr bool column_is_complete() {
  for (int i = 0; i < kOpCount; ++i)
    if (static_cast<int>(kGradients[i].code) != i) return false;
  return true;
}
static_assert(column_is_complete(), "gradient column: every op needs its entry, in OpCode order");

}  // namespace gradient_detail

inline const GradDef& grad_def(OpCode op) { return gradient_detail::kGradients[static_cast<int>(op)]; }

}  // namespace hybrid::autograd
