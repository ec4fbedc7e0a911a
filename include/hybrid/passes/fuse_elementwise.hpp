#pragma once
// Elementwise fusion: a maximal group of elementwise ops with the group's
// output shape, whose intermediate values are used only inside the group,
// becomes one fused_elementwise node. Its kernel runs the group's op-table
// tile functions tile by tile: each input read once, the output written once.
#include <algorithm>
#include <memory>
#include <set>
#include <vector>

#include "../kernels/elementwise.hpp"
#include "dead_code.hpp"

namespace hybrid::passes {

template <class T>
graph::Graph<T> fuse_elementwise(graph::Graph<T> g) {
  const int n = static_cast<int>(g.nodes.size());
  std::vector<std::vector<int>> consumers(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i)
    for (int in : g.nodes[i].inputs) consumers[in].push_back(i);
  std::vector<char> is_output(static_cast<size_t>(n), 0), taken(static_cast<size_t>(n), 0);
  for (int o : g.outputs) is_output[o] = 1;
  auto fusible = [&](int i) {
    const OpCode op = g.nodes[i].op;
    return has_trait(op, kElementwise) && !has_trait(op, kInternal);
  };

  for (int root = n - 1; root >= 0; --root) {
    if (!fusible(root) || taken[root]) continue;
    std::set<int> group{root};
    std::set<int> external;  // inputs from outside the group
    // Absorb producers until nothing more qualifies (a producer may qualify
    // only once all its consumers have joined).
    for (bool grew = true; grew;) {
      grew = false;
      external.clear();
      for (int m : group)
        for (int in : g.nodes[m].inputs)
          if (!group.count(in)) external.insert(in);
      for (int p : external) {
        if (!fusible(p) || taken[p] || is_output[p] || g.nodes[p].shape != g.nodes[root].shape) continue;
        if (!std::all_of(consumers[p].begin(), consumers[p].end(), [&](int c) { return group.count(c) > 0; }))
          continue;
        // Slots: external inputs plus one per step must fit the kernel's tile buffers.
        if (static_cast<int>(external.size() + g.nodes[p].inputs.size() + group.size()) + 1 >
            kernels::kMaxProgramSlots)
          continue;
        group.insert(p);
        grew = true;
        break;
      }
    }
    if (group.size() < 2) continue;
    external.clear();
    for (int m : group)
      for (int in : g.nodes[m].inputs)
        if (!group.count(in)) external.insert(in);
    auto program = std::make_shared<FusedProgram>();
    std::vector<int> inputs(external.begin(), external.end());
    program->n_inputs = static_cast<int>(inputs.size());
    std::vector<int> slot_of(static_cast<size_t>(n), -1);
    for (size_t k = 0; k < inputs.size(); ++k) slot_of[inputs[k]] = static_cast<int>(k);
    int next = program->n_inputs;
    for (int m : group) {  // std::set iterates in index order: topological
      const graph::Node<T>& node = g.nodes[m];
      FusedStep step{node.op, static_cast<int>(node.inputs.size()), {0, 0, 0}, node.attrs};
      for (size_t a = 0; a < node.inputs.size(); ++a) step.arg[a] = slot_of[node.inputs[a]];
      program->steps.push_back(step);
      slot_of[m] = next++;
      taken[m] = 1;
    }
    graph::Node<T>& r = g.nodes[root];
    r.op = OpCode::fused_elementwise;
    r.inputs = std::move(inputs);
    r.attrs = Attrs{};
    r.attrs.program = std::move(program);
  }
  return eliminate_dead_code(g);
}

}  // namespace hybrid::passes
