#pragma once
// OpCode: every operation the library knows, and its traits. The op table
// (table/op_table.hpp) holds one row per code, in this order, and the
// gradient column (autograd/gradients.hpp) one rule per code.
#include <cstdint>

namespace hybrid {

enum class OpCode : uint8_t {
  // Sources: no inputs, no kernel.
  variable,   // a graph input or parameter, bound at run time
  constant,   // a value captured at trace time
  // Elementwise, unary.
  neg, exp, log, sqrt, abs, tanh, sigmoid, relu, softrelu, pow_scalar,
  square, rsqrt, log1p, gelu, silu, leaky_relu, clip, erf,
  // Elementwise, binary (NumPy broadcasting).
  add, sub, mul, div, maximum, minimum, greater, less, equal,
  // Elementwise, ternary.
  where,
  // A group of elementwise ops run as one kernel (made by the fusion pass).
  fused_elementwise,
  // Linear algebra.
  matmul, fully_connected,
  // Layout.
  reshape, transpose, concat, slice, stack, broadcast_to, pad,
  // Indexing.
  take, pick, one_hot, argmax,
  // Reductions and normalisations.
  sum, mean, max, softmax, log_softmax,
  // Convolution.
  conv2d, conv2d_backward_data, conv2d_backward_weight,
  // Pooling, normalization, embedding.
  max_pool2d, avg_pool2d, global_avg_pool2d, layer_norm, embedding,
  // Their backward ops (internal: only in backward graphs, never in files).
  max_pool2d_backward, avg_pool2d_backward, embedding_backward,
  // Mode-dependent: their train-mode meaning is lowered per plan
  // (passes/lower_mode.hpp); the kernels compute the predict-mode meaning.
  batch_norm, dropout,
  // Random: draws from the generator at run time.
  dropout_mask,
  count
};

inline constexpr int kOpCount = static_cast<int>(OpCode::count);

/// Traits are data that passes query instead of keeping their own lists of ops.
enum OpTrait : uint32_t {
  kSource = 1u << 0,       // variable / constant
  kElementwise = 1u << 1,  // output[i] depends on input[i] only (after broadcasting)
  kCommutative = 1u << 2,  // f(a, b) == f(b, a)
  kReduce = 1u << 3,       // reduces along axes
  kLayout = 1u << 4,       // moves data without arithmetic
  kInternal = 1u << 5,     // produced by passes; never in a graph file
  kActivation = 1u << 6,   // a Gluon activation name; may run as a fully_connected or conv2d epilogue
  kRandom = 1u << 7,       // draws random numbers when it runs: never folded, never merged
  kModeDependent = 1u << 8,  // means something else in train mode (lowered per plan)
};

}  // namespace hybrid
