#pragma once
// Dead-code elimination: keeps the nodes the outputs depend on, plus every
// graph input (callers bind inputs by position), and renumbers them in order.
#include <vector>

#include "../graph/graph.hpp"

namespace hybrid::passes {

template <class T>
graph::Graph<T> eliminate_dead_code(const graph::Graph<T>& g) {
  const int n = static_cast<int>(g.nodes.size());
  std::vector<char> live(static_cast<size_t>(n), 0);
  for (int o : g.outputs) live[o] = 1;
  for (int i = n - 1; i >= 0; --i) {
    const auto& node = g.nodes[i];
    if (node.op == OpCode::variable && node.var_kind == graph::VarKind::input) live[i] = 1;
    if (live[i])
      for (int in : node.inputs) live[in] = 1;
  }
  graph::Graph<T> out;
  std::vector<int> index(static_cast<size_t>(n), -1);
  for (int i = 0; i < n; ++i) {
    if (!live[i]) continue;
    graph::Node<T> node = g.nodes[i];
    for (int& in : node.inputs) in = index[in];
    index[i] = out.add(std::move(node));
  }
  for (int o : g.outputs) out.outputs.push_back(index[o]);
  return out;
}

/// Points every use of node `i` at redirect[i] (nodes visited in order, so
/// chains of redirects resolve), then drops what became dead.
template <class T>
graph::Graph<T> apply_redirects(graph::Graph<T> g, std::vector<int> redirect) {
  for (int i = 0; i < static_cast<int>(g.nodes.size()); ++i) {
    for (int& in : g.nodes[i].inputs) in = redirect[in];
    if (redirect[i] != i) redirect[i] = redirect[redirect[i]];
  }
  for (int& o : g.outputs) o = redirect[o];
  return eliminate_dead_code(g);
}

template <class T>
std::vector<int> identity_redirects(const graph::Graph<T>& g) {
  std::vector<int> r(g.nodes.size());
  for (int i = 0; i < static_cast<int>(r.size()); ++i) r[i] = i;
  return r;
}

}  // namespace hybrid::passes
