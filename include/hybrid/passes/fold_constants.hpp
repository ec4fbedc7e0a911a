#pragma once
// Constant folding: every node whose inputs are all constants is computed
// once, now, with the op's own kernel, and becomes a constant. Random ops
// draw anew on every run, so they never fold.
#include <vector>

#include "../api/dispatch.hpp"
#include "dead_code.hpp"

namespace hybrid::passes {

template <class T>
graph::Graph<T> fold_constants(graph::Graph<T> g) {
  for (auto& n : g.nodes) {
    if (has_trait(n.op, kSource) || has_trait(n.op, kRandom)) continue;
    bool all_constant = true;
    for (int in : n.inputs) all_constant = all_constant && g.nodes[in].op == OpCode::constant;
    if (!all_constant) continue;
    std::vector<const TensorT<T>*> args;
    for (int in : n.inputs) args.push_back(&g.nodes[in].value);
    n.value = ops::apply<T>(n.op, args.data(), static_cast<int>(args.size()), n.attrs);
    n.op = OpCode::constant;
    n.inputs.clear();
    n.attrs = Attrs{};
  }
  return eliminate_dead_code(g);
}

}  // namespace hybrid::passes
