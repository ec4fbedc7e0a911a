#pragma once
// The op table: the single definition of every op. Eager dispatch, tracing,
// shape inference, the passes, the executor and the graph file all read it.
#include <array>
#include <cstring>
#include <string>

#include "../kernels/conv.hpp"
#include "../kernels/embedding.hpp"
#include "../kernels/indexing.hpp"
#include "../kernels/linalg.hpp"
#include "../kernels/normalization.hpp"
#include "../kernels/pool.hpp"
#include "../kernels/random.hpp"
#include "../kernels/reduce.hpp"
#include "../ops/fused_program.hpp"
#include "shape_rules.hpp"

namespace hybrid {

/// Elements of per-run scratch a kernel needs for inputs and an output of
/// these shapes (null in the table: none).
using ScratchRule = int64_t (*)(const Attrs& attrs, const Shape* in_shape, int n_in, const Shape& out_shape);

struct OpDef {
  OpCode code;
  const char* name;    // the name in graph files and graph_ops()
  int arity;           // number of inputs; -1: variadic
  uint32_t traits;     // OpTrait flags
  uint32_t attrs;      // AttrField flags: the Attrs fields this op reads
  shape_rules::Rule infer;
  KernelFn<float> kernel_f32;
  KernelFn<double> kernel_f64;
  kernels::TileFn<float> tile_f32;   // elementwise ops only
  kernels::TileFn<double> tile_f64;
  ScratchRule scratch;
  const char* math;    // one line: what it computes

  template <class T>
  KernelFn<T> kernel() const {
    if constexpr (std::is_same_v<T, float>) return kernel_f32;
    else return kernel_f64;
  }
  template <class T>
  kernels::TileFn<T> tile() const {
    if constexpr (std::is_same_v<T, float>) return tile_f32;
    else return tile_f64;
  }
};

/// The row of `op` (defined after the table).
inline const OpDef& op_def(OpCode op);

// Kernels that need the table itself: they look up tile functions by OpCode.
namespace table_kernels {

template <class T>
kernels::TileFn<T> tile_fn_of(OpCode op) {
  return op_def(op).tile<T>();
}

/// One elementwise op: its tile function over the broadcast inputs.
template <class T>
void elementwise(const KernelArgs<T>& k) {
  kernels::TileStep<T> step{tile_fn_of<T>(k.op), k.n_in, {0, 1, 2}, &k.attrs};
  kernels::run_tiles(&step, 1, k.in, k.in_shape, k.n_in, k.out, k.out_shape, k.scratch);
}

/// broadcast_to: the identity tile over the input broadcast to the target.
template <class T>
void broadcast_to(const KernelArgs<T>& k) {
  kernels::TileStep<T> step{&kernels::identity_tile<T>, 1, {0, 0, 0}, &k.attrs};
  kernels::run_tiles(&step, 1, k.in, k.in_shape, 1, k.out, k.out_shape, k.scratch);
}

/// A fused group: the tile functions of its ops, tile by tile.
template <class T>
void fused(const KernelArgs<T>& k) {
  const FusedProgram& p = *k.attrs.program;
  kernels::TileStep<T> steps[kernels::kMaxProgramSlots];
  const int n = static_cast<int>(p.steps.size());
  for (int s = 0; s < n; ++s) {
    const FusedStep& f = p.steps[s];
    steps[s] = kernels::TileStep<T>{tile_fn_of<T>(f.op), f.arity, {f.arg[0], f.arg[1], f.arg[2]}, &f.attrs};
  }
  kernels::run_tiles(steps, n, k.in, k.in_shape, k.n_in, k.out, k.out_shape, k.scratch);
}

/// fully_connected with its epilogue activation resolved to a tile function.
template <class T>
void fully_connected(const KernelArgs<T>& k) {
  const auto act = k.attrs.activation >= 0 ? tile_fn_of<T>(static_cast<OpCode>(k.attrs.activation)) : nullptr;
  kernels::fully_connected_kernel(k, act);
}

/// conv2d with its epilogue activation resolved to a tile function.
template <class T>
void conv2d(const KernelArgs<T>& k) {
  const auto act = k.attrs.activation >= 0 ? tile_fn_of<T>(static_cast<OpCode>(k.attrs.activation)) : nullptr;
  kernels::conv2d_kernel(k, act);
}

inline int64_t elementwise_scratch(const Attrs&, const Shape*, int n_in, const Shape&) {
  return kernels::tile_scratch(n_in, 1);
}
inline int64_t fused_scratch(const Attrs& a, const Shape*, int n_in, const Shape&) {
  return kernels::tile_scratch(n_in, static_cast<int>(a.program ? a.program->steps.size() : 0));
}

}  // namespace table_kernels

namespace op_table_detail {
using namespace kernels;
namespace sr = shape_rules;
namespace tk = table_kernels;
constexpr uint32_t EW = kElementwise;

#define HYBRID_K(fn) &fn<float>, &fn<double>
#define HYBRID_EW_RULE(code, name, arity, traits, attrs, rule, tile, math)                                     \
  OpDef{OpCode::code, name, arity, EW | (traits), attrs, &sr::rule, HYBRID_K(tk::elementwise), HYBRID_K(tile), \
        &tk::elementwise_scratch, math}
#define HYBRID_EW(code, name, arity, traits, attrs, tile, math) \
  HYBRID_EW_RULE(code, name, arity, traits, attrs, broadcast, tile, math)
#define HYBRID_OP(code, name, arity, traits, attrs, rule, kernel, math) \
  OpDef{OpCode::code, name, arity, traits, attrs, &sr::rule, HYBRID_K(kernel), nullptr, nullptr, nullptr, math}

template <class T> void no_kernel(const KernelArgs<T>&) {}
template <class T> void sum_kernel(const KernelArgs<T>& k) { reduce_kernel<T, Reduction::sum>(k); }
template <class T> void mean_kernel(const KernelArgs<T>& k) { reduce_kernel<T, Reduction::mean>(k); }
template <class T> void max_kernel(const KernelArgs<T>& k) { reduce_kernel<T, Reduction::max>(k); }
template <class T> void softmax_k(const KernelArgs<T>& k) { softmax_kernel<T, false>(k); }
template <class T> void log_softmax_k(const KernelArgs<T>& k) { softmax_kernel<T, true>(k); }

constexpr uint32_t kReduceAttrs = kAttrAxes | kAttrKeepdims;
constexpr uint32_t kConvAttrs = kAttrStride | kAttrPadding | kAttrDilation | kAttrGroups;
constexpr uint32_t kPoolAttrs = kAttrKernel | kAttrStride | kAttrPadding;

inline constexpr std::array<OpDef, kOpCount> kTable = {{
    HYBRID_OP(variable, "null", 0, kSource, 0, none, no_kernel, "a graph input or a parameter, bound at run time"),
    HYBRID_OP(constant, "constant", 0, kSource, 0, none, no_kernel, "a value fixed at trace time"),
    HYBRID_EW(neg, "negative", 1, 0, 0, neg_tile, "y = -x"),
    HYBRID_EW(exp, "exp", 1, 0, 0, exp_tile, "y = e^x"),
    HYBRID_EW(log, "log", 1, 0, 0, log_tile, "y = ln x"),
    HYBRID_EW(sqrt, "sqrt", 1, 0, 0, sqrt_tile, "y = √x"),
    HYBRID_EW(abs, "abs", 1, 0, 0, abs_tile, "y = |x|"),
    HYBRID_EW(tanh, "tanh", 1, kActivation, 0, tanh_tile, "y = tanh x"),
    HYBRID_EW(sigmoid, "sigmoid", 1, kActivation, 0, sigmoid_tile, "y = 1 / (1 + e^-x)"),
    HYBRID_EW(relu, "relu", 1, kActivation, 0, relu_tile, "y = max(x, 0)"),
    HYBRID_EW(softrelu, "softrelu", 1, kActivation, 0, softrelu_tile, "y = ln(1 + e^x)"),
    HYBRID_EW(pow_scalar, "power_scalar", 1, 0, kAttrScalar, pow_tile, "y = x^scalar"),
    HYBRID_EW(square, "square", 1, 0, 0, square_tile, "y = x · x"),
    HYBRID_EW(rsqrt, "rsqrt", 1, 0, 0, rsqrt_tile, "y = 1 / √x"),
    HYBRID_EW(log1p, "log1p", 1, 0, 0, log1p_tile, "y = ln(1 + x)"),
    HYBRID_EW(gelu, "gelu", 1, kActivation, 0, gelu_tile, "y = x/2 · (1 + erf(x/√2))"),
    HYBRID_EW(silu, "silu", 1, kActivation, 0, silu_tile, "y = x / (1 + e^-x)"),
    HYBRID_EW(leaky_relu, "leaky_relu", 1, 0, kAttrAlpha, leaky_relu_tile, "y = x > 0 ? x : alpha · x"),
    HYBRID_EW_RULE(clip, "clip", 1, 0, kAttrAMin | kAttrAMax, clip, clip_tile, "y = min(max(x, a_min), a_max)"),
    HYBRID_EW(erf, "erf", 1, 0, 0, erf_tile, "y = erf x = 2/√π ∫₀ˣ e^(-t²) dt"),
    HYBRID_EW(add, "add", 2, kCommutative, 0, add_tile, "y = a + b"),
    HYBRID_EW(sub, "subtract", 2, 0, 0, sub_tile, "y = a - b"),
    HYBRID_EW(mul, "multiply", 2, kCommutative, 0, mul_tile, "y = a * b"),
    HYBRID_EW(div, "divide", 2, 0, 0, div_tile, "y = a / b"),
    HYBRID_EW(maximum, "maximum", 2, kCommutative, 0, maximum_tile, "y = max(a, b)"),
    HYBRID_EW(minimum, "minimum", 2, kCommutative, 0, minimum_tile, "y = min(a, b)"),
    HYBRID_EW(greater, "greater", 2, 0, 0, greater_tile, "y = a > b ? 1 : 0"),
    HYBRID_EW(less, "less", 2, 0, 0, less_tile, "y = a < b ? 1 : 0"),
    HYBRID_EW(equal, "equal", 2, kCommutative, 0, equal_tile, "y = a == b ? 1 : 0"),
    HYBRID_EW(where, "where", 3, 0, 0, where_tile, "y = cond != 0 ? a : b"),
    OpDef{OpCode::fused_elementwise, "fused_elementwise", -1, kElementwise | kInternal, 0, &sr::broadcast,
          HYBRID_K(tk::fused), nullptr, nullptr, &tk::fused_scratch, "a chain of elementwise ops run tile by tile"},
    HYBRID_OP(matmul, "matmul", 2, 0, 0, matmul, matmul_kernel,
              "y[..., i, j] = Σ_k a[..., i, k] b[..., k, j], leading dims broadcast"),
    HYBRID_OP(fully_connected, "fully_connected", -1, 0, kAttrFlatten | kAttrNoBias | kAttrActivation,
              fully_connected, tk::fully_connected, "y = act(x · Wᵀ + b)"),
    HYBRID_OP(reshape, "reshape", 1, kLayout, kAttrShape, reshape, copy_kernel, "same elements, new shape"),
    HYBRID_OP(transpose, "transpose", 1, kLayout, kAttrPerm, transpose, transpose_kernel,
              "y[i_perm[0], ...] = x[i_0, ...]"),
    HYBRID_OP(concat, "concat", -1, kLayout, kAttrAxis, concat, concat_kernel, "inputs joined along axis"),
    HYBRID_OP(slice, "slice", 1, kLayout, kAttrAxis | kAttrBegin | kAttrEnd, slice, slice_kernel,
              "x[..., begin:end, ...] along axis"),
    HYBRID_OP(stack, "stack", -1, kLayout, kAttrAxis, stack, stack_kernel, "inputs joined along a new axis"),
    OpDef{OpCode::broadcast_to, "broadcast_to", 1, kLayout, kAttrShape, &sr::broadcast_to, HYBRID_K(tk::broadcast_to),
          nullptr, nullptr, &tk::elementwise_scratch, "x repeated along its extent-1 axes up to shape"},
    HYBRID_OP(pad, "pad", 1, kLayout, kAttrPadBefore | kAttrPadAfter | kAttrConstantValue, pad, pad_kernel,
              "x surrounded by constant_value: pad_before[d] entries before axis d, pad_after[d] after"),
    HYBRID_OP(take, "take", 2, 0, kAttrAxis, take, take_kernel, "y[o, m, i] = x[o, indices[m], i] along axis"),
    HYBRID_OP(pick, "pick", 2, 0, kAttrAxis | kAttrKeepdims, pick, pick_kernel,
              "y[o, i] = x[o, index[o, i], i] along axis"),
    HYBRID_OP(one_hot, "one_hot", 1, 0, kAttrDepth | kAttrOnValue | kAttrOffValue, one_hot, one_hot_kernel,
              "y[..., c] = c == indices[...] ? on_value : off_value"),
    HYBRID_OP(argmax, "argmax", 1, 0, kAttrAxis | kAttrKeepdims, argmax, argmax_kernel,
              "y = the first index of the largest x along axis"),
    HYBRID_OP(sum, "sum", 1, kReduce, kReduceAttrs, reduce, sum_kernel, "y = Σ x over axes"),
    HYBRID_OP(mean, "mean", 1, kReduce, kReduceAttrs, reduce, mean_kernel, "y = Σ x / n over axes"),
    HYBRID_OP(max, "max", 1, kReduce, kReduceAttrs, reduce, max_kernel, "y = max x over axes"),
    HYBRID_OP(softmax, "softmax", 1, 0, kAttrAxis, axis_preserving, softmax_k, "y = e^x / Σ e^x along axis"),
    HYBRID_OP(log_softmax, "log_softmax", 1, 0, kAttrAxis, axis_preserving, log_softmax_k,
              "y = x - ln Σ e^x along axis"),
    OpDef{OpCode::conv2d, "conv2d", -1, 0, kConvAttrs | kAttrNoBias | kAttrActivation, &sr::conv2d,
          HYBRID_K(tk::conv2d), nullptr, nullptr, &conv2d_scratch,
          "y[n, o, p, q] = act(b[o] + Σ_{c, i, j} W[o, c, i, j] · x[n, g·C/G + c, p·sh + i·dh − ph, q·sw + j·dw − pw])"},
    OpDef{OpCode::conv2d_backward_data, "conv2d_backward_data", 2, kInternal, kConvAttrs | kAttrShape,
          &sr::conv2d_backward_data, HYBRID_K(conv2d_backward_data_kernel), nullptr, nullptr,
          &conv2d_backward_data_scratch, "dx of conv2d from dy and W (shape: x's)"},
    OpDef{OpCode::conv2d_backward_weight, "conv2d_backward_weight", 2, kInternal, kConvAttrs | kAttrShape,
          &sr::conv2d_backward_weight, HYBRID_K(conv2d_backward_weight_kernel), nullptr, nullptr,
          &conv2d_backward_weight_scratch, "dW of conv2d from x and dy (shape: W's)"},
    HYBRID_OP(max_pool2d, "max_pool2d", 1, 0, kPoolAttrs, pool2d, max_pool2d_kernel,
              "y[n, c, i, j] = max of x[n, c] over window (i, j); padding never wins"),
    HYBRID_OP(avg_pool2d, "avg_pool2d", 1, 0, kPoolAttrs | kAttrCountIncludePad, pool2d, avg_pool2d_kernel,
              "y[n, c, i, j] = Σ x[n, c] over window (i, j) / (kh · kw, or the real elements)"),
    HYBRID_OP(global_avg_pool2d, "global_avg_pool2d", 1, 0, 0, global_avg_pool2d, global_avg_pool2d_kernel,
              "y[n, c, 0, 0] = mean of x[n, c]"),
    HYBRID_OP(layer_norm, "layer_norm", 3, 0, kAttrAxis | kAttrEpsilon, layer_norm, layer_norm_kernel,
              "y = (x - mean) / √(var + epsilon) · gamma + beta along axis"),
    HYBRID_OP(embedding, "embedding", 2, 0, 0, embedding, embedding_kernel,
              "y[..., :] = weight[indices[...], :]"),
    HYBRID_OP(max_pool2d_backward, "max_pool2d_backward", 2, kInternal, kPoolAttrs, max_pool2d_backward,
              max_pool2d_backward_kernel, "dx = dy sent to the first maximum of each window of x"),
    HYBRID_OP(avg_pool2d_backward, "avg_pool2d_backward", 1, kInternal, kPoolAttrs | kAttrCountIncludePad | kAttrShape,
              avg_pool2d_backward, avg_pool2d_backward_kernel, "dx = dy / divisor spread over each window"),
    HYBRID_OP(embedding_backward, "embedding_backward", 2, kInternal, kAttrDepth, embedding_backward,
              embedding_backward_kernel, "dw[indices[p], :] += dy[p, :], dw of shape (depth, output_dim)"),
    OpDef{OpCode::batch_norm, "batch_norm", 5, kModeDependent, kAttrAxis | kAttrEpsilon | kAttrMomentum,
          &sr::batch_norm, HYBRID_K(batch_norm_kernel), nullptr, nullptr, &batch_norm_scratch,
          "y = (x - mean) · gamma / √(var + epsilon) + beta along axis; train mode: batch statistics"},
    HYBRID_OP(dropout, "dropout", 1, kModeDependent, kAttrRate, dropout, copy_kernel,
              "y = x; train mode: y = x · dropout_mask(x)"),
    HYBRID_OP(dropout_mask, "dropout_mask", 1, kRandom | kInternal, kAttrRate, dropout, dropout_mask_kernel,
              "y = 0 with probability rate, else 1 / (1 - rate); x gives the shape"),
}};
#undef HYBRID_K
#undef HYBRID_EW
#undef HYBRID_EW_RULE
#undef HYBRID_OP

constexpr bool table_in_enum_order() {
  for (int i = 0; i < kOpCount; ++i)
    if (static_cast<int>(kTable[i].code) != i) return false;
  return true;
}
static_assert(table_in_enum_order(), "op table entries must follow the OpCode order");
}  // namespace op_table_detail

inline const OpDef& op_def(OpCode op) { return op_table_detail::kTable[static_cast<int>(op)]; }
inline bool has_trait(OpCode op, uint32_t trait) { return (op_def(op).traits & trait) != 0; }

/// The op whose graph-file name is `name`, or false.
inline bool op_from_name(const std::string& name, OpCode& out) {
  for (const OpDef& d : op_table_detail::kTable)
    if (name == d.name) {
      out = d.code;
      return true;
    }
  return false;
}

/// Infers the output shape, validating inputs, and normalises the axes in
/// `attrs` so kernels see axes in [0, ndim).
inline Shape infer_shape(OpCode op, const Shape* in, int n, Attrs& attrs) {
  const OpDef& d = op_def(op);
  if (d.arity >= 0 && n != d.arity)
    throw ShapeError(std::string(d.name) + ": expects " + std::to_string(d.arity) + " inputs, got " +
                     std::to_string(n));
  // An epilogue runs the named op's tile function: it must be an activation.
  if ((d.attrs & kAttrActivation) && attrs.activation != -1 &&
      (attrs.activation < 0 || attrs.activation >= kOpCount ||
       !has_trait(static_cast<OpCode>(attrs.activation), kActivation)))
    throw ShapeError(std::string(d.name) + ": activation " + std::to_string(attrs.activation) +
                     " is not an activation op (-1: none)");
  Shape out = d.infer(op, d.name, in, n, attrs);
  checked_numel(out, d.name);
  return out;
}

/// Elements of scratch the kernel of `op` needs for this call (0: none).
inline int64_t scratch_elements(OpCode op, const Attrs& attrs, const Shape* in_shape, int n_in,
                                const Shape& out_shape) {
  const OpDef& d = op_def(op);
  return d.scratch ? d.scratch(attrs, in_shape, n_in, out_shape) : 0;
}

}  // namespace hybrid
