#pragma once
// Algebraic simplification: x+0, 0+x, x-0, x*1, 1*x, x/1, x^1 become x when
// the result has x's shape; transpose∘transpose composes (and vanishes when
// it is the identity); reshape∘reshape keeps the last; reshape to the same
// shape vanishes.
#include <vector>

#include "../kernels/layout.hpp"
#include "dead_code.hpp"

namespace hybrid::passes {

namespace detail {
template <class T>
bool is_constant_equal_to(const graph::Node<T>& n, T v) {
  if (n.op != OpCode::constant) return false;
  const T* d = n.value.data();
  for (int64_t i = 0; i < n.value.size(); ++i)
    if (d[i] != v) return false;
  return true;
}
}  // namespace detail

template <class T>
graph::Graph<T> simplify(graph::Graph<T> g) {
  std::vector<int> redirect = identity_redirects(g);
  for (int i = 0; i < static_cast<int>(g.nodes.size()); ++i) {
    graph::Node<T>& n = g.nodes[i];
    for (int& in : n.inputs) in = redirect[in];
    auto input = [&](int k) -> const graph::Node<T>& { return g.nodes[n.inputs[k]]; };
    // The operand x such that n == x, or -1.
    auto identity_with = [&](int x, int c, T neutral) {
      return input(x).shape == n.shape && detail::is_constant_equal_to(input(c), neutral) ? n.inputs[x] : -1;
    };
    int same = -1;
    switch (n.op) {
      case OpCode::add:
        same = identity_with(0, 1, T(0));
        if (same < 0) same = identity_with(1, 0, T(0));
        break;
      case OpCode::sub: same = identity_with(0, 1, T(0)); break;
      case OpCode::mul:
        same = identity_with(0, 1, T(1));
        if (same < 0) same = identity_with(1, 0, T(1));
        break;
      case OpCode::div: same = identity_with(0, 1, T(1)); break;
      case OpCode::pow_scalar:
        if (n.attrs.scalar == 1.0) same = n.inputs[0];
        break;
      case OpCode::reshape:
        if (input(0).op == OpCode::reshape) n.inputs[0] = input(0).inputs[0];
        if (input(0).shape == n.shape) same = n.inputs[0];
        break;
      case OpCode::transpose:
        if (input(0).op == OpCode::transpose) {
          // Output axis d reads inner axis p_outer[d], which reads source axis p_inner[p_outer[d]].
          const int nd = n.shape.size();
          const Shape outer = kernels::resolved_perm(n.attrs, nd);
          const Shape inner = kernels::resolved_perm(input(0).attrs, nd);
          Shape composed;
          bool identity = true;
          for (int d = 0; d < nd; ++d) {
            composed.push_back(inner[static_cast<int>(outer[d])]);
            identity = identity && composed[d] == d;
          }
          n.inputs[0] = input(0).inputs[0];
          n.attrs.perm = composed;
          if (identity) same = n.inputs[0];
        }
        break;
      default: break;
    }
    if (same >= 0) redirect[i] = same;
  }
  return apply_redirects(g, std::move(redirect));
}

}  // namespace hybrid::passes
