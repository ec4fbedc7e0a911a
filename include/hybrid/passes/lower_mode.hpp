#pragma once
// Lowering for one mode: the mode-dependent ops of a traced graph become
// what they mean in the plan's mode. A graph (and a graph file) keeps one
// batch_norm or dropout node whatever mode it was traced in; each compiled
// plan lowers it:
//   predict: batch_norm stays (its kernel uses the running statistics);
//            dropout disappears (its uses read its input);
//   train:   batch_norm becomes the batch-statistics composition of
//            api/mode_ops.hpp, and the running statistics' new values become
//            extra outputs ("state updates") that the caller publishes to
//            the parameters after the run; dropout becomes x · dropout_mask(x).
// The train compositions are the tensor functions eager calls run, applied
// to symbols, so a hybridized training step computes what an eager one does.
#include <string>
#include <vector>

#include "../api/mode_ops.hpp"
#include "rewrite.hpp"

namespace hybrid::passes {

template <class T>
struct LoweredGraph {
  /// Outputs: the traced graph's outputs, then one per state update.
  graph::Graph<T> graph;
  /// The parameter variable each state update is the new value of, in order.
  std::vector<std::string> updated_params;
};

template <class T>
LoweredGraph<T> lower_mode(const graph::Graph<T>& g, bool training) {
  bool any = false;
  for (const auto& n : g.nodes) any = any || has_trait(n.op, kModeDependent);
  if (!any) return {g, {}};
  LoweredGraph<T> result;
  std::vector<int> updates;
  Rewriter<T> r(g, training);
  for (int i = 0; i < static_cast<int>(g.nodes.size()); ++i) {
    const graph::Node<T>& node = g.nodes[static_cast<size_t>(i)];
    if (node.op == OpCode::dropout && (!training || node.attrs.rate == 0)) {
      r.alias(i, r.mapped(node.inputs[0]));
    } else if (node.op == OpCode::dropout) {
      r.replace(i, hybrid::detail::dropout_train(r.symbol(node.inputs[0]), node.attrs));
    } else if (node.op == OpCode::batch_norm && training) {
      BatchStatistics<T> batch;
      r.replace(i, hybrid::detail::batch_norm_train(r.symbol(node.inputs[0]), r.symbol(node.inputs[1]),
                                                    r.symbol(node.inputs[2]), static_cast<int>(node.attrs.axis),
                                                    node.attrs.epsilon, &batch));
      // Running statistics held by parameters are updated; others (constants, inputs) are only read.
      const TensorT<T>* stats[2] = {&batch.mean, &batch.var};
      for (int s = 0; s < 2; ++s) {
        const graph::Node<T>& running = g.nodes[static_cast<size_t>(node.inputs[3 + s])];
        if (running.op != OpCode::variable || running.var_kind != graph::VarKind::param) continue;
        updates.push_back(r.node_of(
            hybrid::detail::running_average(r.symbol(node.inputs[3 + s]), *stats[s], node.attrs.momentum)));
        result.updated_params.push_back(running.name);
      }
    } else {
      r.copy(i);
    }
  }
  result.graph = r.finish(updates);
  return result;
}

}  // namespace hybrid::passes
