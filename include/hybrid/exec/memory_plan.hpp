#pragma once
// Static memory planning: every intermediate value gets an offset in one
// arena. A value lives from the step that writes it to the last step that
// reads it; dead buffers are reused (best fit), and an elementwise or copy
// step may write over an input that dies at that step and has its shape.
#include <algorithm>
#include <cstddef>
#include <vector>

#include "../graph/graph.hpp"

namespace hybrid::exec {

inline constexpr int64_t kArenaAlign = 64;  // bytes: keeps every buffer cache-line aligned

struct MemoryPlan {
  std::vector<int64_t> offset;  // per node: byte offset in the arena, or -1 (not in the arena)
  int64_t arena_bytes = 0;
  int in_place_steps = 0;       // how many steps write over an input
};

/// `in_arena[i]`: node i is an intermediate computed by the plan (not an
/// input, parameter, constant or output). `reuse` off gives every value its own range.
template <class T>
MemoryPlan plan_memory(const graph::Graph<T>& g, const std::vector<char>& in_arena, bool reuse) {
  const int n = static_cast<int>(g.nodes.size());
  MemoryPlan plan;
  plan.offset.assign(static_cast<size_t>(n), -1);
  std::vector<int> last_use(static_cast<size_t>(n), -1);
  for (int i = 0; i < n; ++i)
    for (int in : g.nodes[i].inputs) last_use[in] = i;
  auto bytes_of = [&](int i) {
    const int64_t b = numel(g.nodes[i].shape) * static_cast<int64_t>(sizeof(T));
    return std::max<int64_t>(kArenaAlign, (b + kArenaAlign - 1) / kArenaAlign * kArenaAlign);
  };
  struct Block {
    int64_t offset, size;
  };
  std::vector<Block> free_blocks;
  std::vector<std::vector<int>> dies_at(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i)
    if (in_arena[i] && last_use[i] >= 0) dies_at[last_use[i]].push_back(i);

  auto release = [&](int v) {
    free_blocks.push_back({plan.offset[v], bytes_of(v)});
    // Merge neighbours so large requests can reuse several small dead buffers.
    std::sort(free_blocks.begin(), free_blocks.end(), [](const Block& a, const Block& b) { return a.offset < b.offset; });
    std::vector<Block> merged;
    for (const Block& b : free_blocks) {
      if (!merged.empty() && merged.back().offset + merged.back().size == b.offset) merged.back().size += b.size;
      else merged.push_back(b);
    }
    free_blocks.swap(merged);
  };
  auto allocate = [&](int64_t size) {
    auto best = free_blocks.end();
    for (auto it = free_blocks.begin(); it != free_blocks.end(); ++it)
      if (it->size >= size && (best == free_blocks.end() || it->size < best->size)) best = it;
    if (best == free_blocks.end()) {
      const int64_t off = plan.arena_bytes;
      plan.arena_bytes += size;
      return off;
    }
    const int64_t off = best->offset;
    best->offset += size;
    best->size -= size;
    if (best->size == 0) free_blocks.erase(best);
    return off;
  };

  for (int i = 0; i < n; ++i) {
    const graph::Node<T>& node = g.nodes[i];
    if (!in_arena[i]) continue;
    bool placed = false;
    if (reuse && (has_trait(node.op, kElementwise) || node.op == OpCode::reshape)) {
      for (int in : node.inputs) {
        if (in_arena[in] && last_use[in] == i && numel(g.nodes[in].shape) == numel(node.shape) &&
            (node.op == OpCode::reshape || g.nodes[in].shape == node.shape) && plan.offset[in] >= 0) {
          plan.offset[i] = plan.offset[in];
          // The input's range now belongs to this value; it is not freed below.
          auto& d = dies_at[i];
          d.erase(std::remove(d.begin(), d.end(), in), d.end());
          ++plan.in_place_steps;
          placed = true;
          break;
        }
      }
    }
    if (!placed) {
      if (reuse) {
        plan.offset[i] = allocate(bytes_of(i));
      } else {
        plan.offset[i] = plan.arena_bytes;
        plan.arena_bytes += bytes_of(i);
      }
    }
    if (last_use[i] < 0) dies_at[i].push_back(i);  // never read: free right away
    if (reuse)
      for (int v : dies_at[i]) release(v);
  }
  return plan;
}

}  // namespace hybrid::exec
