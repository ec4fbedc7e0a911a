#pragma once
// The tape: while autograd::record() is active on a thread, every eager op
// whose inputs need gradients appends a node that remembers the op, its
// attributes and the tensors its gradient rule reads, and marks its result
// as produced by that node. The tape is not a list: nodes are reachable
// from the results only (core/autograd_meta.hpp), so what no result needs
// any more is freed at once.
//
// Gradient rules live above this layer (autograd/gradients.hpp); the
// record() scope installs the function that runs them before any node can
// exist, so this header needs none of them.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "../core/tensor.hpp"
#include "../table/op_table.hpp"

namespace hybrid::autograd {

namespace detail {

/// The thread's autograd mode (Gluon's defaults: not recording, predict mode).
struct Mode {
  bool recording = false;
  bool training = false;
};
inline Mode& mode() {
  thread_local Mode m;
  return m;
}

/// True when `t` takes part in differentiation: a leaf with a gradient
/// buffer, or a result recorded on the tape.
template <class T>
bool needs_grad(const TensorT<T>& t) {
  const auto& meta = hybrid::detail::TensorAccess::meta(t);
  return meta && meta->needs_grad();
}

/// Whether an op on these inputs is recorded now.
template <class T>
bool should_record(const TensorT<T>* const* in, int n) {
  if (!mode().recording) return false;
  for (int i = 0; i < n; ++i)
    if (needs_grad(*in[i])) return true;
  return false;
}

/// Runs op's gradient rule: fills grad_in (n entries) from grad_out.
template <class T>
using VjpFn = void (*)(OpCode op, const Attrs& attrs, const TensorT<T>* const* in, int n, const TensorT<T>& out,
                       const TensorT<T>& grad_out, const bool* needs, std::vector<TensorT<T>>& grad_in);

/// Whether op's rule reads only its output (then the tape need not keep the inputs).
using OutputOnlyFn = bool (*)(OpCode op);

template <class T>
struct Rules {
  static inline std::atomic<VjpFn<T>> vjp{nullptr};  // set by autograd::record()
  static inline std::atomic<OutputOnlyFn> output_only{nullptr};
};

/// A recorded op: what its gradient rule reads, held until backward.
template <class T>
struct OpNode final : NodeT<T> {
  OpCode op = OpCode::count;
  Attrs attrs;
  std::vector<TensorT<T>> saved_inputs;  // detached: the tape holds values, not history;
                                         // undefined when the rule reads only the output
  TensorT<T> saved_output;

  void backward(const std::vector<TensorT<T>>& grad_outputs, std::vector<TensorT<T>>& grad_inputs) override {
    std::vector<const TensorT<T>*> in;
    in.reserve(saved_inputs.size());
    for (const auto& t : saved_inputs) in.push_back(&t);
    std::unique_ptr<bool[]> needs(new bool[saved_inputs.size() + 1]);
    for (size_t i = 0; i < this->inputs.size(); ++i) needs[i] = this->inputs[i] != nullptr;
    Rules<T>::vjp.load(std::memory_order_acquire)(op, attrs, in.data(), static_cast<int>(in.size()), saved_output, grad_outputs[0], needs.get(),
                  grad_inputs);
  }
  void release() override {
    saved_inputs.clear();
    saved_output = TensorT<T>();
    this->released = true;
  }
  std::string describe() const override { return op_def(op).name; }
};

/// Appends `out = op(in...)` to the tape; `out` becomes its result.
template <class T>
void record_op(OpCode op, const TensorT<T>* const* in, int n, const Attrs& attrs, TensorT<T>& out) {
  auto node = std::make_shared<OpNode<T>>();
  node->op = op;
  node->attrs = attrs;
  node->inputs.reserve(static_cast<size_t>(n));
  node->saved_inputs.reserve(static_cast<size_t>(n));
  const OutputOnlyFn output_only = Rules<T>::output_only.load(std::memory_order_acquire);
  const bool keep_inputs = !output_only || !output_only(op);
  for (int i = 0; i < n; ++i) {
    const auto& meta = hybrid::detail::TensorAccess::meta(*in[i]);
    node->inputs.push_back(meta && meta->needs_grad() ? meta : nullptr);
    node->saved_inputs.push_back(keep_inputs ? in[i]->detach() : TensorT<T>());
  }
  node->saved_output = out.detach();
  auto meta = std::make_shared<MetaT<T>>();
  meta->producer = std::move(node);
  hybrid::detail::TensorAccess::set_meta(out, std::move(meta));
}

}  // namespace detail

/// Whether ops on this thread are being recorded (inside record(), not paused).
inline bool is_recording() { return detail::mode().recording; }
/// Whether blocks run in training mode (Dropout active, BatchNorm on batch statistics).
inline bool is_training() { return detail::mode().training; }

}  // namespace hybrid::autograd
