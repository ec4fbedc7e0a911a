#pragma once
// Dense epilogue fusion: matmul(x, transpose(W)) becomes fully_connected;
// a bias add and an activation that only consume a fully_connected become
// its epilogue, run on each block of GEMM output rows while it is in cache.
#include <vector>

#include "dead_code.hpp"

namespace hybrid::passes {

namespace detail {
template <class T>
std::vector<int> use_counts(const graph::Graph<T>& g) {
  std::vector<int> uses(g.nodes.size(), 0);
  for (const auto& n : g.nodes)
    for (int in : n.inputs) ++uses[in];
  for (int o : g.outputs) ++uses[o];
  return uses;
}
}  // namespace detail

template <class T>
graph::Graph<T> fuse_dense(graph::Graph<T> g) {
  const std::vector<int> uses = detail::use_counts(g);
  for (int i = 0; i < static_cast<int>(g.nodes.size()); ++i) {
    graph::Node<T>& n = g.nodes[i];
    // matmul(x, transpose(W)) with a 2-D W is x·Wᵀ: a fully_connected over x's last axis.
    if (n.op == OpCode::matmul) {
      const graph::Node<T>& b = g.nodes[n.inputs[1]];
      if (b.op == OpCode::transpose && b.shape.size() == 2 && (b.attrs.perm.empty() || b.attrs.perm == Shape{1, 0})) {
        n.op = OpCode::fully_connected;
        n.inputs = {n.inputs[0], b.inputs[0]};
        n.attrs = Attrs{};
        n.attrs.flatten = false;
        n.attrs.no_bias = true;
      }
      continue;
    }
    // The epilogue node takes the fully_connected's place (its index is later
    // than every input involved, so the order stays topological).
    if (n.op != OpCode::add && !has_trait(n.op, kActivation)) continue;
    const int k = n.op == OpCode::add && g.nodes[n.inputs[1]].op == OpCode::fully_connected ? 1 : 0;
    const int src = n.inputs[k];
    const graph::Node<T>& fc = g.nodes[src];
    if (fc.op != OpCode::fully_connected || uses[src] != 1 || fc.attrs.activation >= 0) continue;
    std::vector<int> inputs = fc.inputs;
    Attrs attrs = fc.attrs;
    if (n.op == OpCode::add) {
      const int bias = n.inputs[1 - k];
      if (!attrs.no_bias || g.nodes[bias].shape != Shape{fc.shape.back()} || n.shape != fc.shape) continue;
      attrs.no_bias = false;
      inputs.push_back(bias);
    } else {
      attrs.activation = static_cast<int>(n.op);
    }
    n.op = OpCode::fully_connected;
    n.inputs = std::move(inputs);
    n.attrs = std::move(attrs);
  }
  return eliminate_dead_code(g);
}

}  // namespace hybrid::passes
