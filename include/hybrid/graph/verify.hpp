#pragma once
// verify(): the graph's invariants, checked between passes in debug builds
// and after loading a graph file. A broken invariant is a bug in a pass (or
// a bad file), reported with the node that breaks it.
#include <string>

#include "graph.hpp"

namespace hybrid::graph {

template <class T>
void verify(const Graph<T>& g, const char* after) {
  auto fail = [&](int i, const std::string& what) {
    throw Error(std::string("graph verify (after ") + after + "): node " + std::to_string(i) + " (" +
                op_def(g.nodes[i].op).name + "): " + what);
  };
  for (int i = 0; i < static_cast<int>(g.nodes.size()); ++i) {
    const Node<T>& n = g.nodes[i];
    const OpDef& d = op_def(n.op);
    if (d.arity >= 0 && static_cast<int>(n.inputs.size()) != d.arity)
      fail(i, "has " + std::to_string(n.inputs.size()) + " inputs, expects " + std::to_string(d.arity));
    std::vector<Shape> shapes;
    for (int in : n.inputs) {
      if (in < 0 || in >= i) fail(i, "input " + std::to_string(in) + " is not an earlier node");
      shapes.push_back(g.nodes[in].shape);
    }
    if (n.op == OpCode::constant && n.value.shape() != n.shape) fail(i, "constant value shape differs");
    if (n.op == OpCode::fused_elementwise && !n.attrs.program) fail(i, "has no program");
    if (!has_trait(n.op, kSource)) {
      Attrs a = n.attrs;
      const Shape s = infer_shape(n.op, shapes.data(), static_cast<int>(shapes.size()), a);
      if (s != n.shape) fail(i, "recorded shape " + to_string(n.shape) + " but inputs give " + to_string(s));
    }
  }
  for (int o : g.outputs)
    if (o < 0 || o >= static_cast<int>(g.nodes.size()))
      throw Error(std::string("graph verify (after ") + after + "): output " + std::to_string(o) + " is not a node");
}

/// Runs verify() only in builds that ask for it (the test build defines HYBRID_DEBUG_VERIFY).
template <class T>
void debug_verify(const Graph<T>& g, const char* after) {
#if defined(HYBRID_DEBUG_VERIFY) || !defined(NDEBUG)
  verify(g, after);
#else
  (void)g;
  (void)after;
#endif
}

}  // namespace hybrid::graph
