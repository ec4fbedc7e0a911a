#pragma once
// HybridizeOptions: which optimizations hybridize() applies (all on by
// default), so each pass can be switched off.

namespace hybrid {

struct HybridizeOptions {
  bool fold_constants = true;    // compute constant-only subgraphs once; algebraic simplification
  bool eliminate_common = true;  // merge identical nodes (CSE)
  bool fuse = true;              // Dense epilogues and elementwise groups become single kernels
  bool fold_batch_norm = true;   // predict plans: BatchNorm after a Dense or Conv2D goes into its weights (with fuse)
  bool plan_memory = true;       // reuse dead buffers and run in place
};

}  // namespace hybrid
