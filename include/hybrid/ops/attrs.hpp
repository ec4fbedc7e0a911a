#pragma once
// Attrs: the attributes of one op application. One flat struct for every op
// (no per-op classes): the op table says which fields an op reads.
//
// Each field is described once, in kAttrDescs: its file key, its encoding
// type and its meaning. That list drives everything that handles attributes
// generically: comparing two nodes (CSE), the graph file's writer and reader
// (keys, required keys, encodings) and the docs check. Adding a field is its
// member here plus its descriptor line.
#include <cstdint>
#include <limits>
#include <memory>

#include "../core/shape.hpp"

namespace hybrid {

enum class OpCode : uint8_t;
struct FusedProgram;

struct Attrs {
  int64_t axis = 0;           // softmax, concat, slice, stack, take, pick, argmax
  Shape axes;                 // sum, mean, max: the reduced axes; empty: all of them
  bool keepdims = false;      // reductions, pick, argmax
  double scalar = 0;          // power_scalar: the exponent
  Shape shape;                // reshape (one -1 allowed), broadcast_to: the target; conv2d backward: the gradient's shape
  Shape perm;                 // transpose: the permutation (empty: reverse)
  int64_t begin = 0;          // slice
  int64_t end = 0;            // slice
  bool flatten = true;        // fully_connected: flatten trailing dims of x
  bool no_bias = false;       // fully_connected, conv2d: no third input
  int64_t activation = -1;    // fully_connected, conv2d epilogue: an OpCode with kActivation, or -1
  double alpha = 0.01;        // leaky_relu: the slope for x < 0
  double a_min = 0, a_max = 0;  // clip: the bounds
  int64_t depth = 0;          // one_hot: the number of classes
  double on_value = 1, off_value = 0;  // one_hot
  Shape pad_before, pad_after;  // pad: widths per axis
  double constant_value = 0;  // pad: the fill value
  Shape kernel;               // pooling: the window (kh, kw)
  Shape stride{1, 1};         // convolution, pooling: the step (sh, sw)
  Shape padding{0, 0};        // convolution, pooling: zeros (or -inf) added on each side (ph, pw)
  Shape dilation{1, 1};       // convolution: the spacing of kernel taps (dh, dw)
  int64_t groups = 1;         // convolution: channel groups (in_channels: depthwise)
  bool count_include_pad = true;  // avg_pool2d: padding counts in the divisor (Gluon's default)
  double epsilon = 1e-5;      // batch_norm, layer_norm: added to the variance
  double momentum = 0.9;      // batch_norm: running = momentum · running + (1 - momentum) · batch
  double rate = 0.5;          // dropout: the probability of zeroing an element
  std::shared_ptr<const FusedProgram> program;  // fused_elementwise: the composed ops (internal)
};

/// Bit flags naming the Attrs fields an op reads (a column of the op table).
enum AttrField : uint32_t {
  kAttrAxis = 1u << 0,
  kAttrAxes = 1u << 1,
  kAttrKeepdims = 1u << 2,
  kAttrScalar = 1u << 3,
  kAttrShape = 1u << 4,
  kAttrPerm = 1u << 5,
  kAttrBegin = 1u << 6,
  kAttrEnd = 1u << 7,
  kAttrFlatten = 1u << 8,
  kAttrNoBias = 1u << 9,
  kAttrActivation = 1u << 10,
  kAttrAlpha = 1u << 11,
  kAttrAMin = 1u << 12,
  kAttrAMax = 1u << 13,
  kAttrDepth = 1u << 14,
  kAttrOnValue = 1u << 15,
  kAttrOffValue = 1u << 16,
  kAttrPadBefore = 1u << 17,
  kAttrPadAfter = 1u << 18,
  kAttrConstantValue = 1u << 19,
  kAttrKernel = 1u << 20,
  kAttrStride = 1u << 21,
  kAttrPadding = 1u << 22,
  kAttrDilation = 1u << 23,
  kAttrGroups = 1u << 24,
  kAttrCountIncludePad = 1u << 25,
  kAttrEpsilon = 1u << 26,
  kAttrMomentum = 1u << 27,
  kAttrRate = 1u << 28,
};

/// How a field is encoded in a graph file (docs/FORMAT.md 1.7 has one entry per type).
enum class AttrType {
  integer,     // int64
  axes,        // integer, null (all axes) or array of integers
  boolean,     // true / false
  real,        // a number or "nan", "inf", "-inf"; in range for the graph's dtype
  extents,     // array of integers >= -1 (a reshape target)
  indices,     // array of integers >= 0
  activation,  // "" or the name of an op with the kActivation trait
};

/// One Attrs field: its flag, file key, encoding, member and meaning.
struct AttrDesc {
  AttrField field;
  const char* key;
  AttrType type;
  int64_t Attrs::*integer = nullptr;
  bool Attrs::*boolean = nullptr;
  double Attrs::*real = nullptr;
  Shape Attrs::*list = nullptr;
  const char* meaning = "";

  constexpr AttrDesc(AttrField f, const char* k, AttrType t, int64_t Attrs::*m, const char* what)
      : field(f), key(k), type(t), integer(m), meaning(what) {}
  constexpr AttrDesc(AttrField f, const char* k, AttrType t, bool Attrs::*m, const char* what)
      : field(f), key(k), type(t), boolean(m), meaning(what) {}
  constexpr AttrDesc(AttrField f, const char* k, AttrType t, double Attrs::*m, const char* what)
      : field(f), key(k), type(t), real(m), meaning(what) {}
  constexpr AttrDesc(AttrField f, const char* k, AttrType t, Shape Attrs::*m, const char* what)
      : field(f), key(k), type(t), list(m), meaning(what) {}
};

inline constexpr AttrDesc kAttrDescs[] = {
    {kAttrAxis, "axis", AttrType::integer, &Attrs::axis, "the axis the op works along"},
    {kAttrAxes, "axis", AttrType::axes, &Attrs::axes, "the reduced axes (null: all)"},
    {kAttrKeepdims, "keepdims", AttrType::boolean, &Attrs::keepdims, "keep reduced axes as extent 1"},
    {kAttrScalar, "scalar", AttrType::real, &Attrs::scalar, "power_scalar's exponent"},
    {kAttrShape, "shape", AttrType::extents, &Attrs::shape, "the target shape"},
    {kAttrPerm, "perm", AttrType::indices, &Attrs::perm, "transpose's permutation"},
    {kAttrBegin, "begin", AttrType::integer, &Attrs::begin, "slice's first index"},
    {kAttrEnd, "end", AttrType::integer, &Attrs::end, "slice's end index"},
    {kAttrFlatten, "flatten", AttrType::boolean, &Attrs::flatten, "flatten the data to 2-D"},
    {kAttrNoBias, "no_bias", AttrType::boolean, &Attrs::no_bias, "no bias input"},
    {kAttrActivation, "activation", AttrType::activation, &Attrs::activation, "the epilogue activation"},
    {kAttrAlpha, "alpha", AttrType::real, &Attrs::alpha, "leaky_relu's slope below zero"},
    {kAttrAMin, "a_min", AttrType::real, &Attrs::a_min, "clip's lower bound"},
    {kAttrAMax, "a_max", AttrType::real, &Attrs::a_max, "clip's upper bound"},
    {kAttrDepth, "depth", AttrType::integer, &Attrs::depth, "one_hot's number of classes"},
    {kAttrOnValue, "on_value", AttrType::real, &Attrs::on_value, "one_hot's value at the index"},
    {kAttrOffValue, "off_value", AttrType::real, &Attrs::off_value, "one_hot's value elsewhere"},
    {kAttrPadBefore, "pad_before", AttrType::indices, &Attrs::pad_before, "pad's width before each axis"},
    {kAttrPadAfter, "pad_after", AttrType::indices, &Attrs::pad_after, "pad's width after each axis"},
    {kAttrConstantValue, "constant_value", AttrType::real, &Attrs::constant_value, "pad's fill value"},
    {kAttrKernel, "kernel", AttrType::indices, &Attrs::kernel, "the pooling window (kh, kw)"},
    {kAttrStride, "stride", AttrType::indices, &Attrs::stride, "the window's step (sh, sw)"},
    {kAttrPadding, "padding", AttrType::indices, &Attrs::padding, "padding on each side (ph, pw)"},
    {kAttrDilation, "dilation", AttrType::indices, &Attrs::dilation, "the spacing of kernel taps (dh, dw)"},
    {kAttrGroups, "groups", AttrType::integer, &Attrs::groups, "the number of channel groups"},
    {kAttrCountIncludePad, "count_include_pad", AttrType::boolean, &Attrs::count_include_pad,
     "padding counts in the average's divisor"},
    {kAttrEpsilon, "epsilon", AttrType::real, &Attrs::epsilon, "added to the variance"},
    {kAttrMomentum, "momentum", AttrType::real, &Attrs::momentum, "the running statistics' decay"},
    {kAttrRate, "rate", AttrType::real, &Attrs::rate, "the probability of dropping an element"},
};

/// A real attribute as the element type T computes with it: rounded to T,
/// and beyond T's range an infinity of the same sign (not undefined behaviour).
template <class T>
T attr_value(double v) {
  if (v > static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::infinity();
  if (v < -static_cast<double>(std::numeric_limits<T>::max())) return -std::numeric_limits<T>::infinity();
  return static_cast<T>(v);
}

/// Rounds the real fields that `fields` names to T, so a graph stores the
/// values its kernels use (and a float graph file re-exports byte for byte).
template <class T>
void round_reals(uint32_t fields, Attrs& a) {
  for (const AttrDesc& d : kAttrDescs)
    if (d.real && (fields & d.field)) a.*d.real = static_cast<double>(attr_value<T>(a.*d.real));
}

/// Whether `a` and `b` agree on one field.
inline bool same_field(const AttrDesc& d, const Attrs& a, const Attrs& b) {
  if (d.integer) return a.*d.integer == b.*d.integer;
  if (d.boolean) return a.*d.boolean == b.*d.boolean;
  if (d.real) return a.*d.real == b.*d.real;
  return a.*d.list == b.*d.list;
}

/// Whether `a` and `b` agree on every field named in `fields` (and share a fused program).
inline bool same_attrs(uint32_t fields, const Attrs& a, const Attrs& b) {
  for (const AttrDesc& d : kAttrDescs)
    if ((fields & d.field) && !same_field(d, a, b)) return false;
  return a.program == b.program;
}

}  // namespace hybrid
