#pragma once
// What a gradient rule is: its arguments, its signature, and the entry of
// the gradient column (gradients.hpp) that holds it; plus the few helpers
// the rules share (broadcast reduction, the needs mask).
#include <cstdint>
#include <type_traits>
#include <vector>

#include "../api/tensor_ops.hpp"

namespace hybrid::autograd {

/// What a rule sees: the node's inputs and output (eager values, or symbols
/// while tracing), its attributes, the gradient flowing into its output, and
/// which input gradients are wanted (`needs[i]`; null: all of them).
template <class T>
struct GradArgs {
  const TensorT<T>* const* in;
  int n_in;
  const TensorT<T>& out;
  const TensorT<T>& grad_out;
  const Attrs& attrs;
  const bool* needs = nullptr;
};

/// A vector-Jacobian product. The rule resizes `grad_in` to n_in and sets
/// grad_in[i] to the gradient for input i, of input i's shape; it leaves
/// grad_in[i] undefined (a default tensor) when that gradient is not wanted
/// or is zero. Rules never modify their inputs, output or grad_out; a result
/// may be grad_out itself or a view sharing storage with it (a reshape), so
/// callers must never accumulate in place into a rule's result.
template <class T>
using GradRule = void (*)(const GradArgs<T>& g, std::vector<TensorT<T>>& grad_in);

enum class GradKind : uint8_t {
  rule,                // a vector-Jacobian product (rules_*.hpp)
  zero,                // piecewise constant (comparisons, argmax, one_hot): zero gradient
  not_differentiable,  // sources: variables are leaves, constants take no gradient
  internal,            // made by passes after differentiation (fused_elementwise)
};

/// One entry of the gradient column. Built only through its two
/// constructors, so `kind == rule` exactly when both rules are given.
struct GradDef {
  OpCode code;
  GradKind kind;
  GradRule<float> rule_f32 = nullptr;
  GradRule<double> rule_f64 = nullptr;
  /// The rule reads only `out`, `grad_out` and `attrs`, never its inputs (not
  /// even their shapes): a caller may pass undefined inputs, and need not
  /// keep the inputs alive for the backward pass.
  bool output_only = false;

  constexpr GradDef(OpCode c, GradRule<float> f32, GradRule<double> f64, bool reads_output_only = false)
      : code(c), kind(GradKind::rule), rule_f32(f32), rule_f64(f64), output_only(reads_output_only) {}
  /// An op without a rule, and why (`GradKind::rule` is refused at compile time).
  constexpr GradDef(OpCode c, GradKind reason)
      : code(c), kind(reason == GradKind::rule ? throw "a rule entry needs its rules" : reason) {}
};

/// The column entry of `op` (defined after the column: include gradients.hpp).
inline const GradDef& grad_def(OpCode op);

/// The entry's rule for element type T (null unless kind is rule).
template <class T>
GradRule<T> grad_rule(const GradDef& d) {
  if constexpr (std::is_same_v<T, float>) return d.rule_f32;
  else return d.rule_f64;
}

// ---------------------------------------------------------------------------
// Helpers for rules.

/// Whether the caller wants input i's gradient.
template <class T>
bool wants(const GradArgs<T>& g, int i) {
  return g.needs == nullptr || g.needs[i];
}

/// `grad` (of a broadcast result's shape) summed back to `shape`, an operand
/// that broadcast to it: the leading axes it lacks and the axes where it has
/// extent 1 are summed. Returns `grad` itself when the shapes already agree.
template <class T>
TensorT<T> sum_to(const TensorT<T>& grad, const Shape& shape) {
  const Shape& from = grad.shape();
  if (from == shape) return grad;
  const int lead = from.size() - shape.size();
  std::vector<int64_t> axes;
  for (int d = 0; d < from.size(); ++d)
    if (d < lead || (shape[d - lead] == 1 && from[d] != 1)) axes.push_back(d);
  if (axes.empty()) return reshape(grad, shape);  // only leading extents of 1 differ
  return reshape(sum(grad, axes, true), shape);
}

/// A 0-d tensor holding v (a constant of the graph while tracing).
template <class T>
TensorT<T> scalar(double v) {
  return full<T>(Shape{}, static_cast<T>(v));
}

/// `in`'s shape with the axes of a normalised `axes` list (empty: all) set to 1.
inline Shape keepdims_shape(const Shape& in, const Shape& axes) {
  Shape out = in;
  for (int d = 0; d < in.size(); ++d) {
    bool reduced = axes.empty();
    for (int64_t a : axes) reduced = reduced || a == d;
    if (reduced) out[d] = 1;
  }
  return out;
}

}  // namespace hybrid::autograd
