#pragma once
// Gluon's activation names and the ops they run: the one table shared by
// Activation and Dense's `activation` argument. The names are the op table's
// kActivation ops, plus "leaky_relu": an op with a slope attribute, which no
// fully_connected epilogue carries, so it always runs as its own op.
#include <string>

#include "../api/tensor_ops.hpp"
#include "hybrid_block.hpp"

namespace hybrid::nn {

namespace detail {

/// The op of a Gluon activation name: the op table's ops with the
/// kActivation trait, by name; "" (none, if `allow_none`) gives
/// OpCode::count. `who` names the layer in the error for an unknown name.
/// leaky_relu's slope below zero when named as an activation: MXNet's
/// LeakyReLU default (slope = 0.25).
inline constexpr double kLeakyReluSlope = 0.25;

inline OpCode activation_op(const std::string& name, const std::string& who, bool allow_none = true) {
  if (name.empty() && allow_none) return OpCode::count;
  if (name == op_def(OpCode::leaky_relu).name) return OpCode::leaky_relu;
  std::string valid;
  for (int i = 0; i < kOpCount; ++i) {
    const OpCode op = static_cast<OpCode>(i);
    if (!has_trait(op, kActivation)) continue;
    if (name == op_def(op).name) return op;
    valid += std::string(valid.empty() ? "" : ", ") + '"' + op_def(op).name + '"';
  }
  valid += std::string(", \"") + op_def(OpCode::leaky_relu).name + '"';
  throw Error(who + ": unknown activation '" + name + "'; valid names are " + valid +
              (allow_none ? " and \"\" for none" : ""));
}

/// Applies the activation `op` (OpCode::count: identity) as its own op, so a
/// graph pass can later fuse it into the producer.
template <class T>
TensorT<T> apply_activation(OpCode op, const TensorT<T>& x) {
  if (op == OpCode::count) return x;
  if (op == OpCode::leaky_relu) return hybrid::leaky_relu(x, kLeakyReluSlope);
  return ops::apply<T>(op, {&x});
}

}  // namespace detail

/// An elementwise activation layer: Activation("relu").
template <class T>
class ActivationT : public HybridBlockT<T> {
 public:
  explicit ActivationT(std::string name) : name_(std::move(name)), op_(detail::activation_op(name_, "Activation", false)) {}

  TensorT<T> forward(const TensorT<T>& x) override { return detail::apply_activation(op_, x); }
  std::string type_name() const override { return "Activation"; }
  std::string describe() const override { return "Activation(" + name_ + ")"; }
  const std::string& activation() const { return name_; }

 private:
  std::string name_;
  OpCode op_;
};

using Activation = ActivationT<float>;

}  // namespace hybrid::nn
