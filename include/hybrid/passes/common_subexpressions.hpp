#pragma once
// Common-subexpression elimination: two nodes with the same op, inputs and
// attributes compute the same value, so later uses point at the first.
// Equal constants (same shape and bytes) merge too; variables and random
// ops (two draws are two values) never do.
#include <algorithm>
#include <cstring>
#include <map>
#include <tuple>
#include <vector>

#include "dead_code.hpp"

namespace hybrid::passes {

template <class T>
bool same_constant(const graph::Node<T>& a, const graph::Node<T>& b) {
  return a.shape == b.shape &&
         std::memcmp(a.value.data(), b.value.data(), sizeof(T) * static_cast<size_t>(a.value.size())) == 0;
}

template <class T>
graph::Graph<T> eliminate_common_subexpressions(const graph::Graph<T>& g) {
  std::vector<int> redirect = identity_redirects(g);
  // Candidates bucketed by (op, inputs after redirection); attributes compared within a bucket.
  std::map<std::pair<OpCode, std::vector<int>>, std::vector<int>> seen;
  std::vector<int> constants;
  for (int i = 0; i < static_cast<int>(g.nodes.size()); ++i) {
    const graph::Node<T>& n = g.nodes[i];
    if (n.op == OpCode::variable || has_trait(n.op, kRandom)) continue;
    if (n.op == OpCode::constant) {
      auto hit = std::find_if(constants.begin(), constants.end(),
                              [&](int c) { return same_constant(g.nodes[c], n); });
      if (hit != constants.end()) redirect[i] = *hit;
      else constants.push_back(i);
      continue;
    }
    std::vector<int> key;
    for (int in : n.inputs) key.push_back(redirect[in]);
    if (has_trait(n.op, kCommutative)) std::sort(key.begin(), key.end());
    auto& bucket = seen[{n.op, key}];
    auto hit = std::find_if(bucket.begin(), bucket.end(),
                            [&](int c) { return same_attrs(op_def(n.op).attrs, g.nodes[c].attrs, n.attrs); });
    if (hit != bucket.end()) redirect[i] = *hit;
    else bucket.push_back(i);
  }
  return apply_redirects(g, std::move(redirect));
}

}  // namespace hybrid::passes
