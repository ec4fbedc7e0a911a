#pragma once
// Gluon's autograd scopes: record(), pause(), train_mode(), predict_mode().
// Each saves the thread's mode and restores it when it ends, so scopes nest.
#include <string>
#include <vector>

#include "../api/tape.hpp"
#include "gradients.hpp"

namespace hybrid::autograd {

namespace detail {

/// Runs the gradient rule of `op` for one recorded node or graph node.
template <class T>
void op_vjp(OpCode op, const Attrs& attrs, const TensorT<T>* const* in, int n, const TensorT<T>& out,
            const TensorT<T>& grad_out, const bool* needs, std::vector<TensorT<T>>& grad_in) {
  const GradDef& def = grad_def(op);
  grad_in.assign(static_cast<size_t>(n), TensorT<T>());
  switch (def.kind) {
    case GradKind::rule: break;
    case GradKind::zero: return;  // piecewise constant: no gradient flows
    case GradKind::not_differentiable:
    case GradKind::internal:
    default:
      throw Error(std::string("backward: ") + op_def(op).name + " is not differentiable");
  }
  GradArgs<T> args{in, n, out, grad_out, attrs, needs};
  grad_rule<T>(def)(args, grad_in);
  grad_in.resize(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i)
    if (grad_in[i].defined() && in[i]->defined() && grad_in[i].shape() != in[i]->shape())
      throw Error(std::string("backward: the gradient rule of ") + op_def(op).name + " gave input " +
                  std::to_string(i) + " a gradient of shape " + to_string(grad_in[i].shape()) +
                  " for an input of shape " + to_string(in[i]->shape()));
}

inline bool op_output_only(OpCode op) { return grad_def(op).output_only; }

/// Sets the thread's mode for the scope's lifetime.
class ModeScope {
 public:
  ModeScope(bool recording, bool training) : saved_(mode()) {
    Rules<float>::vjp.store(&op_vjp<float>, std::memory_order_release);
    Rules<double>::vjp.store(&op_vjp<double>, std::memory_order_release);
    Rules<float>::output_only.store(&op_output_only, std::memory_order_release);
    Rules<double>::output_only.store(&op_output_only, std::memory_order_release);
    mode() = Mode{recording, training};
  }
  ~ModeScope() { mode() = saved_; }
  ModeScope(const ModeScope&) = delete;
  ModeScope& operator=(const ModeScope&) = delete;

 private:
  Mode saved_;
};

}  // namespace detail

/// Records ops on tensors that need gradients while the scope lives; blocks
/// run in training mode unless `train_mode` is false.
[[nodiscard]] inline detail::ModeScope record(bool train_mode = true) { return {true, train_mode}; }
/// Stops recording inside a record() scope (Gluon: predict mode unless asked).
[[nodiscard]] inline detail::ModeScope pause(bool train_mode = false) { return {false, train_mode}; }
/// Training mode, recording unchanged.
[[nodiscard]] inline detail::ModeScope train_mode() { return {detail::mode().recording, true}; }
/// Predict mode, recording unchanged.
[[nodiscard]] inline detail::ModeScope predict_mode() { return {detail::mode().recording, false}; }

}  // namespace hybrid::autograd
