#pragma once
// Batch-norm folding (predict-mode plans, after lowering): a batch_norm
// whose input is a fully_connected or conv2d used by nothing else becomes
// that op with a scaled weight and a shifted bias,
//   s = gamma / √(var + ε),  W' = W · s (per output channel),
//   b' = (b - mean) · s + beta,
// as TorchScript's freeze and ONNX Runtime do. The weights are parameters
// bound at run time (a set_data() takes effect without recompiling), so W'
// and b' are computed in the plan on every call: a pass over the weights
// instead of one over the activations, done only where the output is at
// least as large as the weight; with constant weights they fold.
// Only plans are folded: exported graphs keep batch_norm, so they stay
// trainable.
#include <vector>

#include "../api/tensor_ops.hpp"
#include "dead_code.hpp"
#include "rewrite.hpp"

namespace hybrid::passes {

namespace fold_batch_norm_detail {

/// Whether `bn` normalizes the output channels of `producer` (a
/// fully_connected or conv2d without an epilogue), whose weight has them
/// on its axis 0, and folding pays: it trades a pass over the output for a
/// pass over the weight, so a weight larger than the output (a wide layer at
/// batch 1) stays unfolded.
template <class T>
bool foldable(const graph::Node<T>& producer, const graph::Node<T>& weight, const graph::Node<T>& bn) {
  if (producer.attrs.activation >= 0) return false;  // the epilogue would come before the normalization
  if (numel(weight.shape) > numel(producer.shape)) return false;
  if (producer.op == OpCode::fully_connected) return bn.attrs.axis == producer.shape.size() - 1;
  if (producer.op == OpCode::conv2d) return bn.attrs.axis == 1;  // NCHW: the output channels
  return false;
}

}  // namespace fold_batch_norm_detail

template <class T>
graph::Graph<T> fold_batch_norm(const graph::Graph<T>& g) {
  const int n = static_cast<int>(g.nodes.size());
  std::vector<int> uses(static_cast<size_t>(n), 0);
  for (const auto& node : g.nodes)
    for (int in : node.inputs) ++uses[static_cast<size_t>(in)];
  for (int o : g.outputs) ++uses[static_cast<size_t>(o)];
  std::vector<char> fold(static_cast<size_t>(n), 0);
  bool any = false;
  for (int i = 0; i < n; ++i) {
    const graph::Node<T>& bn = g.nodes[static_cast<size_t>(i)];
    if (bn.op != OpCode::batch_norm) continue;
    const int p = bn.inputs[0];
    const graph::Node<T>& producer = g.nodes[static_cast<size_t>(p)];
    if (uses[static_cast<size_t>(p)] != 1 || producer.inputs.size() < 2 ||
        !fold_batch_norm_detail::foldable(producer, g.nodes[static_cast<size_t>(producer.inputs[1])], bn))
      continue;
    fold[static_cast<size_t>(i)] = 1;
    any = true;
  }
  if (!any) return g;
  Rewriter<T> r(g);
  for (int i = 0; i < n; ++i) {
    if (!fold[static_cast<size_t>(i)]) {
      r.copy(i);
      continue;
    }
    // Rebuilt here, where every input of both nodes exists: the statistics'
    // variables are traced after the producer, so its own place is too early.
    const graph::Node<T>& bn = g.nodes[static_cast<size_t>(i)];
    const graph::Node<T>& producer = g.nodes[static_cast<size_t>(bn.inputs[0])];
    const TensorT<T> scale = r.symbol(bn.inputs[1]) * hybrid::rsqrt(r.symbol(bn.inputs[4]) +
                                                                      static_cast<T>(bn.attrs.epsilon));
    const TensorT<T> weight = r.symbol(producer.inputs[1]);
    Shape per_row{weight.shape()[0]};  // the scale along the weight's output-channel axis 0
    while (per_row.size() < weight.ndim()) per_row.push_back(1);
    const TensorT<T> mean = r.symbol(bn.inputs[3]);
    const TensorT<T> shifted = producer.attrs.no_bias ? -mean : r.symbol(producer.inputs[2]) - mean;
    Attrs attrs = producer.attrs;
    attrs.no_bias = false;
    const int folded = r.graph().add_op(
        producer.op,
        {r.mapped(producer.inputs[0]), r.node_of(weight * hybrid::reshape(scale, per_row)),
         r.node_of(shifted * scale + r.symbol(bn.inputs[2]))},
        attrs);
    r.alias(i, folded);
  }
  return eliminate_dead_code(r.finish());
}

}  // namespace hybrid::passes
