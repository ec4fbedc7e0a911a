#pragma once
// Attrs: the attributes of one op application. One flat struct for every op
// (no per-op classes): the op table says which fields an op reads, and that
// list is what the graph file writes.
#include <cstdint>
#include <limits>
#include <memory>

#include "../core/shape.hpp"

namespace hybrid {

enum class OpCode : uint8_t;
struct FusedProgram;

/// Axis value meaning "reduce over every axis".
inline constexpr int64_t kAllAxes = std::numeric_limits<int64_t>::min();

struct Attrs {
  int64_t axis = 0;          // reductions, softmax, concat, slice (kAllAxes: all)
  bool keepdims = false;     // reductions
  double scalar = 0;         // pow: the exponent
  Shape shape;               // reshape: the target (one -1 allowed)
  Shape perm;                // transpose: the permutation (empty: reverse)
  int64_t begin = 0;         // slice
  int64_t end = 0;           // slice
  bool flatten = true;       // fully_connected: flatten trailing dims of x
  bool no_bias = false;      // fully_connected: no third input
  int activation = -1;       // fully_connected epilogue: an elementwise unary OpCode, or -1
  std::shared_ptr<const FusedProgram> program;  // fused_elementwise: the composed ops
};

/// Bit flags naming the Attrs fields an op uses (for printing and the file format).
enum AttrField : uint32_t {
  kAttrAxis = 1u << 0,
  kAttrKeepdims = 1u << 1,
  kAttrScalar = 1u << 2,
  kAttrShape = 1u << 3,
  kAttrPerm = 1u << 4,
  kAttrBegin = 1u << 5,
  kAttrEnd = 1u << 6,
  kAttrFlatten = 1u << 7,
  kAttrNoBias = 1u << 8,
  kAttrActivation = 1u << 9,
};

}  // namespace hybrid
