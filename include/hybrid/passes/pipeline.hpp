#pragma once
// The pass pipeline, in order, in one place. Each pass maps a graph to a
// graph; options switch them off one by one; the verifier runs between passes
// in debug builds.
#include "../graph/verify.hpp"
#include "common_subexpressions.hpp"
#include "dead_code.hpp"
#include "fold_batch_norm.hpp"
#include "fold_constants.hpp"
#include "fuse_conv.hpp"
#include "fuse_dense.hpp"
#include "fuse_elementwise.hpp"
#include "options.hpp"
#include "simplify.hpp"

namespace hybrid {

namespace passes {

template <class T>
graph::Graph<T> optimize(graph::Graph<T> g, const HybridizeOptions& o) {
  graph::debug_verify(g, "trace");
  g = eliminate_dead_code(g);
  graph::debug_verify(g, "dead-code elimination");
  if (o.fold_constants) {
    g = fold_constants(std::move(g));
    graph::debug_verify(g, "constant folding");
    g = simplify(std::move(g));
    graph::debug_verify(g, "simplification");
  }
  if (o.eliminate_common) {
    g = eliminate_common_subexpressions(g);
    graph::debug_verify(g, "common-subexpression elimination");
    if (o.fold_constants) {  // merged inputs can expose more constant work
      g = fold_constants(std::move(g));
      graph::debug_verify(g, "constant folding");
    }
  }
  if (o.fuse) {
    if (o.fold_batch_norm) {
      g = fold_batch_norm(g);  // before the producer takes an activation epilogue
      graph::debug_verify(g, "batch-norm folding");
      if (o.fold_constants) g = fold_constants(std::move(g));  // weights that are constants fold
    }
    g = fuse_dense(std::move(g));
    g = fuse_conv(std::move(g));
    graph::debug_verify(g, "dense fusion");
    g = fuse_elementwise(std::move(g));
    graph::debug_verify(g, "elementwise fusion");
  }
  return g;
}

}  // namespace passes
}  // namespace hybrid
