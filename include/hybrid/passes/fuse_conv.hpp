#pragma once
// Convolution epilogue fusion, as fuse_dense does for fully_connected: an
// activation that only consumes a conv2d becomes its epilogue, and so does
// the add of a per-channel bias, shaped (O,), (O, 1, 1) or (1, O, 1, 1), to a
// conv2d without one. The kernel then applies both to each image's output
// while it is still in cache.
#include <vector>

#include "../api/tensor_ops.hpp"
#include "fuse_dense.hpp"

namespace hybrid::passes {

namespace detail {
/// Whether `bias` holds one value per channel of a conv2d output of shape `y`.
inline bool per_channel_bias(const Shape& bias, const Shape& y) {
  const int64_t o = y[1];
  return bias == Shape{o} || bias == Shape{o, 1, 1} || bias == Shape{1, o, 1, 1};
}
}  // namespace detail

template <class T>
graph::Graph<T> fuse_conv(const graph::Graph<T>& g) {
  const std::vector<int> uses = detail::use_counts(g);
  graph::Graph<T> out;
  out.outputs.reserve(g.outputs.size());
  std::vector<int> index(g.nodes.size(), -1);  // g's node → out's
  // A conv2d of `out` that node `src` of g became and that nothing else reads.
  auto sole_conv = [&](int src) -> graph::Node<T>* {
    graph::Node<T>& c = out.nodes[index[src]];
    return c.op == OpCode::conv2d && uses[src] == 1 && c.attrs.activation < 0 ? &c : nullptr;
  };
  for (int i = 0; i < static_cast<int>(g.nodes.size()); ++i) {
    const graph::Node<T>& n = g.nodes[i];
    if (has_trait(n.op, kActivation)) {
      if (graph::Node<T>* conv = sole_conv(n.inputs[0])) {
        // The conv2d stays where it is (before every reader of the activation).
        conv->attrs.activation = static_cast<int>(n.op);
        index[i] = index[n.inputs[0]];
        continue;
      }
    } else if (n.op == OpCode::add) {
      bool fused = false;
      for (int k = 0; k < 2 && !fused; ++k) {
        const graph::Node<T>* conv = sole_conv(n.inputs[k]);
        const graph::Node<T>& bias = g.nodes[n.inputs[1 - k]];
        if (!conv || !conv->attrs.no_bias || n.shape != conv->shape ||
            !detail::per_channel_bias(bias.shape, conv->shape))
          continue;
        // The bias may be computed after the conv2d: the fused node takes the add's place.
        graph::Node<T> fc = *conv;
        int b = index[n.inputs[1 - k]];
        if (bias.op == OpCode::constant && bias.shape.size() != 1) {
          b = out.add_constant(hybrid::reshape(bias.value, Shape{conv->shape[1]}));  // folded now: folding ran before
        } else if (bias.shape.size() != 1) {
          Attrs flat;
          flat.shape = Shape{conv->shape[1]};
          b = out.add_op(OpCode::reshape, {b}, flat);
        }
        fc.inputs.push_back(b);
        fc.attrs.no_bias = false;
        index[i] = out.add(std::move(fc));
        fused = true;
      }
      if (fused) continue;
    }
    graph::Node<T> copy = n;
    for (int& in : copy.inputs) in = index[in];
    index[i] = out.add(std::move(copy));
  }
  for (int o : g.outputs) out.outputs.push_back(index[o]);
  return eliminate_dead_code(out);
}

}  // namespace hybrid::passes
