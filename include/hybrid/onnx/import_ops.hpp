#pragma once
// The ONNX → hybrid op mapping: one entry per ONNX op type (default domain),
// with the opsets it supports and the function that appends its hybrid
// nodes. docs/onnx.md lists the same table for users; keep them together.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

#include "import_graph.hpp"
#include "tensor_proto.hpp"

namespace hybrid::onnx::detail {

/// One ONNX node being mapped: its inputs as values, its attributes.
template <class T>
struct NodeContext {
  const ::onnx::NodeProto& node;
  int64_t opset;
  GraphBuilder<T>& b;
  std::vector<Value> in;   // undefined where the input is omitted ("")
  std::vector<Value> out;  // filled by the mapper, one per ONNX output

  size_t inputs() const { return in.size(); }
  bool has(size_t i) const { return i < in.size() && in[i].defined(); }
  const Value& input(size_t i) const {
    if (!has(i)) throw NodeError("input " + std::to_string(i) + " is missing");
    return in[i];
  }
  const ::onnx::AttributeProto* attr(const char* name) const {
    for (const auto& a : node.attribute())
      if (a.name() == name) return &a;
    return nullptr;
  }
  int64_t attr_int(const char* name, int64_t fallback) const {
    const auto* a = attr(name);
    return a ? a->i() : fallback;
  }
  double attr_float(const char* name, double fallback) const {
    const auto* a = attr(name);
    return a ? static_cast<double>(a->f()) : fallback;
  }
  std::vector<int64_t> attr_ints(const char* name, std::vector<int64_t> fallback = {}) const {
    const auto* a = attr(name);
    return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : fallback;
  }
  std::string attr_string(const char* name, std::string fallback) const {
    const auto* a = attr(name);
    return a ? a->s() : fallback;
  }
  /// Input `i` as numbers known at import that do not depend on the batch.
  std::vector<double> known(size_t i, const char* what) const {
    const Value& v = input(i);
    if (!v.known())
      throw NodeError(std::string(what) + " (input " + std::to_string(i) +
                      ") must be a constant, an initializer or computed from shapes; it is computed at run time");
    if (!same_values(v.c, v.c_alt))
      throw NodeError(std::string(what) + " (input " + std::to_string(i) + ") depends on the batch size");
    return v.c.to_vector();
  }
  void set(Value v) { out.push_back(std::move(v)); }
};

inline int64_t to_int(double v) {  // INT64_MAX/MIN as doubles land outside int64: clamp
  if (std::isnan(v)) throw NodeError("NaN where an integer is needed");
  if (v >= 9.2e18) return std::numeric_limits<int64_t>::max();
  if (v <= -9.2e18) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

inline int64_t norm_axis(int64_t axis, int rank, const char* what) {
  if (axis < -rank || axis >= rank)
    throw NodeError(std::string(what) + " " + std::to_string(axis) + " is out of range for rank " +
                    std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

/// Bound on window attributes (kernel, strides, dilations, pads), so the
/// importer's own arithmetic on them cannot overflow.
inline constexpr int64_t kMaxWindow = int64_t{1} << 30;

// ---- helpers shared by mappers ---------------------------------------------------------------

template <class T>
Value scalar_const(double v) {
  return Value::constant(from_vector<double>({v}, Shape{}), false);
}

/// Whether graph node `i` is a one-element constant equal to `v` (within float rounding).
template <class T>
bool is_const_near(const graph::Graph<T>& g, int i, double v) {
  const auto& n = g.nodes[static_cast<size_t>(i)];
  if (n.op != OpCode::constant || n.value.size() != 1) return false;
  const double x = static_cast<double>(n.value.data()[0]);
  return std::fabs(x - v) <= 1e-6 * std::fabs(v);
}

/// The operands of binary node `i` if it is `op`: (x, other) with `other` a
/// constant near `v` (either order).
template <class T>
int binary_with_const(const graph::Graph<T>& g, int i, OpCode op, double v, bool commutative = true) {
  const auto& n = g.nodes[static_cast<size_t>(i)];
  if (n.op != op || n.inputs.size() != 2) return -1;
  if (is_const_near(g, n.inputs[1], v)) return n.inputs[0];
  if (commutative && is_const_near(g, n.inputs[0], v)) return n.inputs[1];
  return -1;
}

/// x if `i` computes 1 + erf(x / √2) (or x · (1/√2)).
template <class T>
int erf_term(const graph::Graph<T>& g, int i) {
  const int e = binary_with_const(g, i, OpCode::add, 1.0);
  if (e < 0 || g.nodes[static_cast<size_t>(e)].op != OpCode::erf) return -1;
  const int d = g.nodes[static_cast<size_t>(e)].inputs[0];
  int x = binary_with_const(g, d, OpCode::div, std::sqrt(2.0), false);
  if (x < 0) x = binary_with_const(g, d, OpCode::mul, 1 / std::sqrt(2.0));
  return x;
}

/// Recognizes the exact-erf GELU x · 0.5 · (1 + erf(x / √2)), in the
/// groupings PyTorch writes, at the multiplication `top`: returns x or -1.
template <class T>
int match_gelu(const graph::Graph<T>& g, int top) {
  const auto& n = g.nodes[static_cast<size_t>(top)];
  if (n.op != OpCode::mul) return -1;
  // (x · (1 + erf)) · 0.5
  int p = binary_with_const(g, top, OpCode::mul, 0.5);
  if (p >= 0 && g.nodes[static_cast<size_t>(p)].op == OpCode::mul) {
    const auto& m = g.nodes[static_cast<size_t>(p)];
    for (int k = 0; k < 2; ++k)
      if (erf_term(g, m.inputs[static_cast<size_t>(1 - k)]) == m.inputs[static_cast<size_t>(k)])
        return m.inputs[static_cast<size_t>(k)];
  }
  // (x · 0.5) · (1 + erf)
  for (int k = 0; k < 2; ++k) {
    const int half = binary_with_const(g, n.inputs[static_cast<size_t>(k)], OpCode::mul, 0.5);
    if (half >= 0 && erf_term(g, n.inputs[static_cast<size_t>(1 - k)]) == half) return half;
  }
  return -1;
}

/// Recognizes the decomposed layer norm at the final addition `top`:
///   d = x - mean(x, -1); v = mean(d^2, -1); y = d / sqrt(v + eps) * gamma + beta
/// with gamma and beta parameters of shape (C,). Fills the operands.
template <class T>
bool match_layer_norm(const graph::Graph<T>& g, int top, int& x, int& gamma, int& beta, double& eps) {
  auto node = [&](int i) -> const graph::Node<T>& { return g.nodes[static_cast<size_t>(i)]; };
  auto last_mean = [&](int i) {
    const auto& n = node(i);
    if (n.op != OpCode::mean || !n.attrs.keepdims || n.attrs.axes.size() != 1) return false;
    const int r = node(n.inputs[0]).shape.size();
    return n.attrs.axes[0] == -1 || n.attrs.axes[0] == r - 1;
  };
  auto vector_param = [&](int i, int64_t c) {
    const auto& n = node(i);
    return n.op == OpCode::variable && n.var_kind == graph::VarKind::param && n.shape == Shape{c};
  };
  const auto& add = node(top);
  if (add.op != OpCode::add) return false;
  for (int k = 0; k < 2; ++k) {
    const int mul = add.inputs[static_cast<size_t>(k)];
    beta = add.inputs[static_cast<size_t>(1 - k)];
    if (node(mul).op != OpCode::mul) continue;
    for (int j = 0; j < 2; ++j) {
      const int div = node(mul).inputs[static_cast<size_t>(j)];
      gamma = node(mul).inputs[static_cast<size_t>(1 - j)];
      if (node(div).op != OpCode::div) continue;
      const int d = node(div).inputs[0], s = node(div).inputs[1];
      if (node(d).op != OpCode::sub || node(s).op != OpCode::sqrt) continue;
      x = node(d).inputs[0];
      const int m = node(d).inputs[1];
      if (!last_mean(m) || node(m).inputs[0] != x) continue;
      const int ve = node(s).inputs[0];
      if (node(ve).op != OpCode::add) continue;
      for (int q = 0; q < 2; ++q) {
        const int v = node(ve).inputs[static_cast<size_t>(q)], e = node(ve).inputs[static_cast<size_t>(1 - q)];
        if (node(e).op != OpCode::constant || node(e).value.size() != 1 || !last_mean(v)) continue;
        const int sq = node(v).inputs[0];
        const bool squared = (node(sq).op == OpCode::pow_scalar && node(sq).attrs.scalar == 2.0) ||
                             node(sq).op == OpCode::square;
        if (!squared || node(sq).inputs[0] != d) continue;
        const int64_t c = node(x).shape.back();
        if (!vector_param(gamma, c) || !vector_param(beta, c)) continue;
        eps = static_cast<double>(node(e).value.data()[0]);
        return true;
      }
    }
  }
  return false;
}

// ---- the mappers ----------------------------------------------------------------------------

template <class T>
void map_unary(NodeContext<T>& c, OpCode op) {
  c.set(c.b.op(op, {c.input(0)}));
}

template <class T>
void map_binary(NodeContext<T>& c, OpCode op) {
  Value r = c.b.op(op, {c.input(0), c.input(1)});
  if (op == OpCode::mul && r.node >= 0) {
    const int x = match_gelu(c.b.g, r.node);
    if (x >= 0) {
      Value xv;
      xv.node = x;
      xv.alt = c.b.alt[static_cast<size_t>(x)];
      r = c.b.op(OpCode::gelu, {xv});
    }
  }
  if (op == OpCode::add && r.node >= 0) {
    int x, gamma, beta;
    double eps;
    if (match_layer_norm(c.b.g, r.node, x, gamma, beta, eps)) {
      auto value_of = [&](int i) {
        Value v;
        v.node = i;
        v.alt = c.b.alt[static_cast<size_t>(i)];
        return v;
      };
      Attrs a;
      a.axis = -1;
      a.epsilon = eps;
      r = c.b.op(OpCode::layer_norm, {value_of(x), value_of(gamma), value_of(beta)}, a);
    }
  }
  c.set(std::move(r));
}

template <class T>
void map_pow(NodeContext<T>& c) {
  const Value& e = c.input(1);
  if (!e.known() || e.c.size() != 1 || !same_values(e.c, e.c_alt))
    throw NodeError("a Pow whose exponent is not a constant scalar is not supported (hybrid has power_scalar only)");
  Attrs a;
  a.scalar = e.c.data()[0];
  c.set(c.b.op(OpCode::pow_scalar, {c.input(0)}, a));
}

template <class T>
void map_leaky_relu(NodeContext<T>& c) {
  Attrs a;
  a.alpha = c.attr_float("alpha", 0.01);
  c.set(c.b.op(OpCode::leaky_relu, {c.input(0)}, a));
}

template <class T>
void map_softmax(NodeContext<T>& c, OpCode op) {
  Attrs a;
  a.axis = norm_axis(c.attr_int("axis", -1), c.b.rank(c.input(0)), "axis");
  c.set(c.b.op(op, {c.input(0)}, a));
}

template <class T>
void map_identity(NodeContext<T>& c) {
  c.set(c.input(0));
}

template <class T>
void map_dropout(NodeContext<T>& c) {
  if (c.has(2)) {
    const auto t = c.known(2, "training_mode");
    if (!t.empty() && t[0] != 0) throw NodeError("Dropout in training mode is not supported (import is inference)");
  }
  c.set(c.input(0));  // inference: the identity; the mask output is left unproduced
}

template <class T>
void map_cast(NodeContext<T>& c) {
  const int to = static_cast<int>(c.attr_int("to", 0));
  Value v = c.input(0);
  if (is_float_type(to)) {
    if (v.known() && v.integer) v.integer = false;
    v.integer = false;
    c.set(std::move(v));
    return;
  }
  if (is_integer_type(to)) {
    if (v.integer) return c.set(std::move(v));
    if (v.known() && v.param.empty()) {
      TensorT<double> a = v.c.clone(), b = v.c_alt.clone();
      const bool boolean = to == ::onnx::TensorProto::BOOL;
      for (auto* t : {&a, &b})
        for (int64_t i = 0; i < t->size(); ++i) {
          double& x = t->data()[i];
          x = boolean ? (x != 0 ? 1 : 0) : std::trunc(x);
        }
      return c.set(Value::constant(std::move(a), std::move(b), true));
    }
    throw NodeError("Cast of a float tensor computed at run time to " + elem_type_name(to) +
                    " is not supported (hybrid computes in one float type)");
  }
  throw NodeError("Cast to " + elem_type_name(to) + " is not supported");
}

template <class T>
void map_gemm(NodeContext<T>& c) {
  Value a = c.input(0), w = c.input(1);
  const double alpha = c.attr_float("alpha", 1.0), beta = c.attr_float("beta", 1.0);
  const bool ta = c.attr_int("transA", 0) != 0, tb = c.attr_int("transB", 0) != 0;
  if (c.b.rank(a) != 2 || c.b.rank(w) != 2) throw NodeError("Gemm needs 2-D A and B");
  if (ta) {
    Attrs p;
    p.perm = Shape{1, 0};
    a = c.b.op(OpCode::transpose, {a}, p);
  }
  const int64_t n = tb ? c.b.shape(w)[0] : c.b.shape(w)[1];
  const bool vector_bias = c.has(2) && c.b.shape(c.input(2)) == Shape{n};
  Value y;
  if (tb && alpha == 1.0 && (!c.has(2) || (beta == 1.0 && vector_bias))) {
    // fully_connected's weight is (units, in_units): B as written under transB = 1.
    Attrs f;
    f.flatten = true;
    f.no_bias = !c.has(2);
    std::vector<Value> ins{a, w};
    if (c.has(2)) ins.push_back(c.input(2));
    c.set(c.b.op(OpCode::fully_connected, ins, f));
    return;
  }
  if (tb) {
    Attrs p;
    p.perm = Shape{1, 0};
    w = c.b.op(OpCode::transpose, {w}, p);
  }
  y = c.b.op(OpCode::matmul, {a, w});
  if (alpha != 1.0) y = c.b.op(OpCode::mul, {y, scalar_const<T>(alpha)});
  if (c.has(2) && beta != 0.0) {
    Value bias = c.input(2);
    if (beta != 1.0) bias = c.b.op(OpCode::mul, {bias, scalar_const<T>(beta)});
    y = c.b.op(OpCode::add, {y, bias});
  }
  c.set(std::move(y));
}

template <class T>
void map_matmul(NodeContext<T>& c) {
  Value a = c.input(0), w = c.input(1);
  const Shape sa = c.b.shape(a), sw = c.b.shape(w);
  const bool a1 = sa.size() == 1, w1 = sw.size() == 1;
  // NumPy's 1-D operands: a vector is a row (for a) or a column (for b), removed afterwards.
  if (a1) a = c.b.reshape(a, Shape{1, sa[0]}, Shape{1, c.b.alt_shape(a)[0]});
  if (w1) w = c.b.reshape(w, Shape{sw[0], 1}, Shape{c.b.alt_shape(w)[0], 1});
  Value y = c.b.op(OpCode::matmul, {a, w});
  if (a1 || w1) {
    Shape s = c.b.shape(y), s2 = c.b.alt_shape(y), t, t2;
    for (int i = 0; i < s.size(); ++i) {
      if ((a1 && i == s.size() - 2) || (w1 && i == s.size() - 1)) continue;
      t.push_back(s[i]);
      t2.push_back(s2[i]);
    }
    y = c.b.reshape(y, t, t2);
  }
  c.set(std::move(y));
}

/// Pads [begin..., end...] for 2 spatial axes, checked symmetric.
template <class T>
Shape symmetric_pads(NodeContext<T>& c, const Shape& in, const Shape& kernel, const Shape& stride,
                     const Shape& dilation) {
  const std::string auto_pad = c.attr_string("auto_pad", "NOTSET");
  Shape pad{0, 0};
  if (auto_pad == "NOTSET") {
    const auto pads = c.attr_ints("pads", {0, 0, 0, 0});
    if (pads.size() != 4) throw NodeError("pads must hold 4 values for a 2-D window");
    if (pads[0] != pads[2] || pads[1] != pads[3])
      throw NodeError("asymmetric pads [" + std::to_string(pads[0]) + ", " + std::to_string(pads[1]) + ", " +
                      std::to_string(pads[2]) + ", " + std::to_string(pads[3]) +
                      "] are not supported (hybrid pads both sides alike)");
    for (int64_t p : pads)
      if (p < 0 || p > kMaxWindow) throw NodeError("pads value " + std::to_string(p) + " is out of range");
    pad = Shape{pads[0], pads[1]};
  } else if (auto_pad == "VALID") {
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (int d = 0; d < 2; ++d) {
      const int64_t extent = in[2 + d];
      const int64_t out = (extent + stride[d] - 1) / stride[d];
      const int64_t total = std::max<int64_t>(0, (out - 1) * stride[d] + dilation[d] * (kernel[d] - 1) + 1 - extent);
      if (total % 2 != 0)
        throw NodeError("auto_pad " + auto_pad + " needs " + std::to_string(total) +
                        " padding along a spatial axis, which cannot be split evenly; hybrid pads both sides alike");
      pad[d] = total / 2;
    }
  } else {
    throw NodeError("auto_pad '" + auto_pad + "' is not supported");
  }
  return pad;
}

template <class T>
Shape pair_attr(NodeContext<T>& c, const char* name, Shape fallback) {
  const auto v = c.attr_ints(name);
  if (v.empty()) return fallback;
  if (v.size() != 2)
    throw NodeError(std::string(name) + " has " + std::to_string(v.size()) +
                    " values; only 2-D (N, C, H, W) windows are supported");
  for (int64_t x : v)
    if (x < 1 || x > kMaxWindow) throw NodeError(std::string(name) + " value " + std::to_string(x) + " is out of range");
  return Shape{v[0], v[1]};
}

template <class T>
void require_4d(NodeContext<T>& c) {
  const Shape s = c.b.shape(c.input(0));
  if (s.size() != 4)
    throw NodeError("input of shape " + to_string(s) + " is not 4-D; only 2-D (N, C, H, W) " +
                    c.node.op_type() + " is supported");
}

template <class T>
void map_conv(NodeContext<T>& c) {
  require_4d(c);
  const Value& w = c.input(1);
  const Shape ws = c.b.shape(w);
  if (ws.size() != 4) throw NodeError("weight of shape " + to_string(ws) + " is not 4-D");
  Attrs a;
  const Shape kernel = pair_attr(c, "kernel_shape", Shape{ws[2], ws[3]});
  a.stride = pair_attr(c, "strides", Shape{1, 1});
  a.dilation = pair_attr(c, "dilations", Shape{1, 1});
  a.groups = c.attr_int("group", 1);
  a.padding = symmetric_pads(c, c.b.shape(c.input(0)), kernel, a.stride, a.dilation);
  a.no_bias = !c.has(2);
  std::vector<Value> ins{c.input(0), w};
  if (c.has(2)) ins.push_back(c.input(2));
  c.set(c.b.op(OpCode::conv2d, ins, a));
}

template <class T>
void map_pool(NodeContext<T>& c, OpCode op) {
  require_4d(c);
  if (c.node.output_size() > 1 && !c.node.output(1).empty())
    throw NodeError("MaxPool's Indices output is not supported");
  Attrs a;
  a.kernel = pair_attr(c, "kernel_shape", Shape{});
  if (a.kernel.empty()) throw NodeError("kernel_shape is required");
  a.stride = pair_attr(c, "strides", Shape{1, 1});
  const Shape dil = pair_attr(c, "dilations", Shape{1, 1});
  if (dil != Shape{1, 1}) throw NodeError("pooling dilations " + to_string(dil) + " are not supported");
  if (c.attr_int("storage_order", 0) != 0) throw NodeError("storage_order 1 is not supported");
  const Shape in = c.b.shape(c.input(0));
  a.padding = symmetric_pads(c, in, a.kernel, a.stride, dil);
  if (op == OpCode::avg_pool2d) a.count_include_pad = c.attr_int("count_include_pad", 0) != 0;  // ONNX's default: 0
  if (c.attr_int("ceil_mode", 0) != 0) {
    for (int d = 0; d < 2; ++d) {
      const int64_t span = in[2 + d] + 2 * a.padding[d] - a.kernel[d];
      int64_t ceil_out = (span + a.stride[d] - 1) / a.stride[d] + 1;
      // ONNX (as PyTorch) drops a last window that would start in the padding.
      if ((ceil_out - 1) * a.stride[d] >= in[2 + d] + a.padding[d]) --ceil_out;
      if (span < 0 || ceil_out != span / a.stride[d] + 1)
        throw NodeError("ceil_mode = 1 changes the output extent here, and hybrid pools round down");
    }
  }
  c.set(c.b.op(op, {c.input(0)}, a));
}

template <class T>
void map_batch_norm(NodeContext<T>& c) {
  if (c.attr_int("training_mode", 0) != 0) throw NodeError("BatchNormalization in training mode is not supported");
  if (c.node.output_size() > 1)
    for (int i = 1; i < c.node.output_size(); ++i)
      if (!c.node.output(i).empty()) throw NodeError("BatchNormalization's running-statistics outputs are not supported");
  Attrs a;
  a.axis = 1;
  a.epsilon = c.attr_float("epsilon", 1e-5);
  a.momentum = c.attr_float("momentum", 0.9);
  c.set(c.b.op(OpCode::batch_norm, {c.input(0), c.input(1), c.input(2), c.input(3), c.input(4)}, a));
}

template <class T>
void map_layer_norm(NodeContext<T>& c) {
  const int r = c.b.rank(c.input(0));
  const int64_t axis = norm_axis(c.attr_int("axis", -1), r, "axis");
  if (axis != r - 1)
    throw NodeError("LayerNormalization over axes " + std::to_string(axis) + ".." + std::to_string(r - 1) +
                    " is not supported; hybrid's layer_norm normalizes the last axis");
  for (int i = 1; i < c.node.output_size(); ++i)
    if (!c.node.output(i).empty()) throw NodeError("LayerNormalization's Mean/InvStdDev outputs are not supported");
  const int64_t n = c.b.shape(c.input(0)).back();
  Value gamma = c.input(1);
  Value beta = c.has(2) ? c.input(2) : Value::constant(zeros<double>(Shape{n}), false);
  for (Value* v : {&gamma, &beta})
    if (c.b.shape(*v) != Shape{n}) *v = c.b.reshape(*v, Shape{n}, Shape{n});
  Attrs a;
  a.axis = axis;
  a.epsilon = c.attr_float("epsilon", 1e-5);
  c.set(c.b.op(OpCode::layer_norm, {c.input(0), gamma, beta}, a));
}

template <class T>
void map_global_avg_pool(NodeContext<T>& c) {
  require_4d(c);
  c.set(c.b.op(OpCode::global_avg_pool2d, {c.input(0)}));
}

template <class T>
void map_flatten(NodeContext<T>& c) {
  const Value& x = c.input(0);
  const Shape s = c.b.shape(x), s2 = c.b.alt_shape(x);
  const int r = s.size();
  int64_t axis = c.attr_int("axis", 1);
  if (axis < -r || axis > r) throw NodeError("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(r));
  if (axis < 0) axis += r;
  int64_t a = 1, b = 1, a2 = 1, b2 = 1;
  for (int i = 0; i < r; ++i) (i < axis ? a : b) *= s[i], (i < axis ? a2 : b2) *= s2[i];
  c.set(c.b.reshape(x, Shape{a, b}, Shape{a2, b2}));
}

/// ONNX reshape target (0 copies, -1 infers) resolved against `in`.
inline Shape resolve_target(const std::vector<double>& t, const Shape& in, bool allowzero) {
  Shape out;
  int infer = -1;
  int64_t known = 1;
  if (t.size() > static_cast<size_t>(Shape::kMaxDims)) throw NodeError("reshape target has too many dimensions");
  for (size_t i = 0; i < t.size(); ++i) {
    int64_t d = to_int(t[i]);
    if (d == 0 && !allowzero) {
      if (static_cast<int>(i) >= in.size()) throw NodeError("reshape target copies a dimension the input lacks");
      d = in[static_cast<int>(i)];
    }
    if (d == -1) {
      if (infer >= 0) throw NodeError("reshape target has two -1 extents");
      infer = static_cast<int>(i);
      out.push_back(1);
      continue;
    }
    if (d < 0 || d > (int64_t{1} << 40)) throw NodeError("reshape target has the extent " + std::to_string(d));
    out.push_back(d);
    known *= d;
  }
  int64_t n = 1;
  for (int64_t d : in) n *= d;
  if (infer >= 0) {
    if (known == 0 || n % known != 0)
      throw NodeError("cannot reshape " + to_string(in) + " with a -1 extent and the other extents' product " +
                      std::to_string(known));
    out[infer] = n / known;
  }
  return out;
}

template <class T>
void map_reshape(NodeContext<T>& c) {
  const Value& x = c.input(0);
  const Value& t = c.input(1);
  if (!t.known()) throw NodeError("the reshape target must be known at import (a constant or computed from shapes)");
  const bool allowzero = c.attr_int("allowzero", 0) != 0;
  const Shape r1 = resolve_target(t.c.to_vector(), c.b.shape(x), allowzero);
  const Shape r2 = resolve_target(t.c_alt.to_vector(), c.b.alt_shape(x), allowzero);
  c.set(c.b.reshape(x, r1, r2));
}

template <class T>
void map_transpose(NodeContext<T>& c) {
  Attrs a;
  const auto perm = c.attr_ints("perm");
  for (int64_t p : perm) a.perm.push_back(p);
  c.set(c.b.op(OpCode::transpose, {c.input(0)}, a));
}

template <class T>
void map_concat(NodeContext<T>& c) {
  std::vector<Value> ins;
  for (size_t i = 0; i < c.inputs(); ++i)
    if (c.has(i)) ins.push_back(c.in[i]);
  if (ins.empty()) throw NodeError("Concat has no inputs");
  Attrs a;
  a.axis = norm_axis(c.attr_int("axis", 0), c.b.rank(ins[0]), "axis");
  // Empty inputs add nothing (PyTorch writes them for empty shape lists).
  std::vector<Value> nonempty;
  for (const auto& v : ins)
    if (c.b.rank(v) != c.b.rank(ins[0]) || c.b.shape(v)[static_cast<int>(a.axis)] != 0 ||
        c.b.alt_shape(v)[static_cast<int>(a.axis)] != 0)
      nonempty.push_back(v);  // a rank mismatch is left to concat's shape rule to report
  if (nonempty.empty()) nonempty.push_back(ins[0]);
  c.set(nonempty.size() == 1 ? nonempty[0] : c.b.op(OpCode::concat, nonempty, a));
}

template <class T>
Value slice_axis(GraphBuilder<T>& b, const Value& x, int64_t axis, int64_t begin, int64_t end) {
  Attrs a;
  a.axis = axis;
  a.begin = begin;
  a.end = end;
  return b.op(OpCode::slice, {x}, a);
}

template <class T>
void map_split(NodeContext<T>& c) {
  const Value& x = c.input(0);
  const Shape s = c.b.shape(x);
  const int64_t axis = norm_axis(c.attr_int("axis", 0), s.size(), "axis");
  if (s[static_cast<int>(axis)] != c.b.alt_shape(x)[static_cast<int>(axis)])
    throw NodeError("splitting along a symbolic (batch) dimension is not supported");
  const int64_t n = s[static_cast<int>(axis)];
  const int outs = c.node.output_size();
  std::vector<int64_t> sizes;
  if (c.has(1)) {
    for (double v : c.known(1, "split")) sizes.push_back(to_int(v));
  } else {
    if (n % outs != 0) throw NodeError("cannot split extent " + std::to_string(n) + " into " + std::to_string(outs) + " equal parts");
    sizes.assign(static_cast<size_t>(outs), n / outs);
  }
  int64_t total = 0;
  for (int64_t v : sizes) {
    if (v < 0 || v > n) throw NodeError("split size " + std::to_string(v) + " is out of range for extent " + std::to_string(n));
    total += v;
  }
  if (static_cast<int>(sizes.size()) != outs || total != n)
    throw NodeError("split sizes do not cover extent " + std::to_string(n) + " in " + std::to_string(outs) + " parts");
  int64_t at = 0;
  for (int64_t v : sizes) {
    c.set(slice_axis(c.b, x, axis, at, at + v));
    at += v;
  }
}

template <class T>
void map_slice(NodeContext<T>& c) {
  Value x = c.input(0);
  const auto starts = c.known(1, "starts"), ends = c.known(2, "ends");
  const int r = c.b.rank(x);
  std::vector<double> axes, steps;
  if (c.has(3)) axes = c.known(3, "axes");
  else for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<double>(i));
  if (c.has(4)) steps = c.known(4, "steps");
  else steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    throw NodeError("starts, ends, axes and steps differ in length");
  for (size_t i = 0; i < starts.size(); ++i) {
    const int64_t axis = norm_axis(to_int(axes[i]), r, "axis");
    int64_t step = to_int(steps[i]);
    const int64_t b = to_int(starts[i]), e = to_int(ends[i]);
    if (step == 0) throw NodeError("a Slice step of 0");
    if (step == 1) {
      x = slice_axis(c.b, x, axis, b, e);
      continue;
    }
    const int64_t n = c.b.shape(x)[static_cast<int>(axis)];
    if (n != c.b.alt_shape(x)[static_cast<int>(axis)])
      throw NodeError("a Slice step other than 1 along a symbolic (batch) dimension is not supported");
    // ONNX's clamping for any step; then the picked positions as a take.
    auto clampi = [](int64_t v, int64_t lo, int64_t hi) { return std::min(std::max(v, lo), hi); };
    int64_t s0 = b < 0 ? b + n : b, e0 = e < 0 ? e + n : e;
    if (step > 0) {
      s0 = clampi(s0, 0, n);
      e0 = clampi(e0, 0, n);
    } else {
      s0 = clampi(s0, 0, n - 1);
      e0 = clampi(e0, -1, n - 1);
    }
    step = std::min(std::max(step, -(n + 1)), n + 1);  // a longer step picks the same one element
    if (n / std::abs(step) > kMaxFoldedElements) throw NodeError("a strided Slice of extent " + std::to_string(n) + " is too long");
    std::vector<double> idx;
    for (int64_t k = s0; step > 0 ? k < e0 : k > e0; k += step) idx.push_back(static_cast<double>(k));
    Attrs a;
    a.axis = axis;
    x = c.b.op(OpCode::take, {x, Value::constant(from_vector<double>(idx, Shape{static_cast<int64_t>(idx.size())}), true)}, a);
  }
  c.set(std::move(x));
}

template <class T>
std::vector<int64_t> axes_of(NodeContext<T>& c, size_t input) {
  std::vector<int64_t> axes;
  if (c.has(input)) {
    for (double v : c.known(input, "axes")) axes.push_back(to_int(v));
  } else {
    axes = c.attr_ints("axes");
  }
  return axes;
}

template <class T>
void map_squeeze(NodeContext<T>& c) {
  const Value& x = c.input(0);
  const Shape s = c.b.shape(x), s2 = c.b.alt_shape(x);
  auto axes = axes_of(c, 1);
  std::vector<char> drop(static_cast<size_t>(s.size()), 0);
  if (axes.empty()) {
    for (int i = 0; i < s.size(); ++i) drop[static_cast<size_t>(i)] = s[i] == 1 && s2[i] == 1;
  } else {
    for (int64_t a : axes) {
      const int64_t k = norm_axis(a, s.size(), "axis");
      if (s[static_cast<int>(k)] != 1) throw NodeError("cannot squeeze axis " + std::to_string(a) + " of " + to_string(s));
      drop[static_cast<size_t>(k)] = 1;
    }
  }
  Shape t, t2;
  for (int i = 0; i < s.size(); ++i)
    if (!drop[static_cast<size_t>(i)]) {
      t.push_back(s[i]);
      t2.push_back(s2[i]);
    }
  c.set(c.b.reshape(x, t, t2));
}

template <class T>
void map_unsqueeze(NodeContext<T>& c) {
  const Value& x = c.input(0);
  const Shape s = c.b.shape(x), s2 = c.b.alt_shape(x);
  const auto axes = axes_of(c, 1);
  const int r = s.size() + static_cast<int>(axes.size());
  if (r > Shape::kMaxDims) throw NodeError("Unsqueeze gives more than 8 dimensions");
  std::vector<char> ins(static_cast<size_t>(r), 0);
  for (int64_t a : axes) {
    const int64_t k = norm_axis(a, r, "axis");
    if (ins[static_cast<size_t>(k)]) throw NodeError("Unsqueeze names axis " + std::to_string(a) + " twice");
    ins[static_cast<size_t>(k)] = 1;
  }
  Shape t, t2;
  for (int i = 0, j = 0; i < r; ++i) {
    if (ins[static_cast<size_t>(i)]) {
      t.push_back(1);
      t2.push_back(1);
    } else {
      t.push_back(s[j]);
      t2.push_back(s2[j]);
      ++j;
    }
  }
  c.set(c.b.reshape(x, t, t2));
}

template <class T>
void map_gather(NodeContext<T>& c) {
  const Value& data = c.input(0);
  Value idx = c.input(1);
  const Shape s = c.b.shape(data);
  const int64_t axis = norm_axis(c.attr_int("axis", 0), s.size(), "axis");
  if (!data.param.empty() && axis == 0 && s.size() == 2 && !idx.known()) {
    c.set(c.b.op(OpCode::embedding, {idx, data}));  // an embedding table looked up by run-time indices
    return;
  }
  if (idx.known()) {  // negative indices count from the end
    if (!same_values(idx.c, idx.c_alt)) throw NodeError("gather indices depend on the batch size");
    const int64_t n = s[static_cast<int>(axis)];
    if (n != c.b.alt_shape(data)[static_cast<int>(axis)] && !data.known())
      throw NodeError("gathering along a symbolic (batch) dimension is not supported");
    TensorT<double> v = idx.c.clone();
    for (int64_t i = 0; i < v.size(); ++i) {
      double& k = v.data()[i];
      if (k < -static_cast<double>(n) || k >= static_cast<double>(n))
        throw NodeError("gather index " + std::to_string(to_int(k)) + " is out of range for extent " + std::to_string(n));
      if (k < 0) k += static_cast<double>(n);
    }
    if (data.known() && data.param.empty()) {  // shape data: each alternate keeps its own extent
      TensorT<double> v2 = idx.c.clone();
      const int64_t n2 = data.c_alt.shape()[static_cast<int>(axis)];
      for (int64_t i = 0; i < v2.size(); ++i)
        if (v2.data()[i] < 0) v2.data()[i] += static_cast<double>(n2);
      idx = Value::constant(std::move(v), std::move(v2), true);
    } else {
      idx = Value::constant(std::move(v), true);
    }
  }
  Attrs a;
  a.axis = axis;
  Value r = c.b.op(OpCode::take, {data, idx}, a);
  r.integer = data.integer;
  c.set(std::move(r));
}

template <class T>
void map_constant(NodeContext<T>& c) {
  if (c.node.attribute_size() != 1) throw NodeError("Constant needs exactly one value attribute");
  const auto& a = c.node.attribute(0);
  const std::string& n = a.name();
  if (n == "value") {
    HostTensor t = decode_tensor(a.t(), "its value");
    c.set(Value::constant(t.value, t.integer));
  } else if (n == "value_float") {
    c.set(Value::constant(from_vector<double>({static_cast<double>(a.f())}, Shape{}), false));
  } else if (n == "value_floats") {
    std::vector<double> v(a.floats().begin(), a.floats().end());
    c.set(Value::constant(from_vector<double>(v), false));
  } else if (n == "value_int") {
    c.set(Value::constant(from_vector<double>({static_cast<double>(a.i())}, Shape{}), true));
  } else if (n == "value_ints") {
    std::vector<double> v;
    for (int64_t i : a.ints()) v.push_back(static_cast<double>(i));
    c.set(Value::constant(from_vector<double>(v), true));
  } else {
    throw NodeError("Constant's attribute '" + n + "' is not supported");
  }
}

template <class T>
void map_constant_of_shape(NodeContext<T>& c) {
  const Value& s = c.input(0);
  if (!s.known()) throw NodeError("ConstantOfShape's shape must be known at import");
  double fill = 0;
  bool integer = false;
  if (const auto* a = c.attr("value")) {
    HostTensor t = decode_tensor(a->t(), "its value");
    if (t.value.size() != 1) throw NodeError("ConstantOfShape's value must hold one element");
    fill = t.value.data()[0];
    integer = t.integer;
  }
  auto make = [&](const TensorT<double>& dims) {
    Shape shape;
    if (dims.size() > Shape::kMaxDims) throw NodeError("ConstantOfShape: too many dimensions");
    for (double d : dims.to_vector()) {
      if (d < 0 || d > 1e9) throw NodeError("ConstantOfShape: bad extent " + std::to_string(to_int(d)));
      shape.push_back(to_int(d));
    }
    if (checked_numel(shape) > kMaxFoldedElements)
      throw NodeError("ConstantOfShape of " + to_string(shape) + " is larger than the importer folds");
    return full<double>(shape, fill);
  };
  c.set(Value::constant(make(s.c), make(s.c_alt), integer));
}

template <class T>
void map_shape(NodeContext<T>& c) {
  const Value& x = c.input(0);
  const Shape s = c.b.shape(x), s2 = c.b.alt_shape(x);
  const int r = s.size();
  auto clampi = [r](int64_t v) { return std::min<int64_t>(std::max<int64_t>(v < 0 ? v + r : v, 0), r); };
  const int64_t b = clampi(c.attr_int("start", 0)), e = clampi(c.attr_int("end", r));
  std::vector<double> v, v2;
  for (int64_t i = b; i < e; ++i) {
    v.push_back(static_cast<double>(s[static_cast<int>(i)]));
    v2.push_back(static_cast<double>(s2[static_cast<int>(i)]));
  }
  c.set(Value::constant(from_vector<double>(v), from_vector<double>(v2), true));
}

template <class T>
void map_reduce(NodeContext<T>& c, OpCode op) {
  const Value& x = c.input(0);
  const int r = c.b.rank(x);
  std::vector<int64_t> axes;
  const bool axes_input = c.node.op_type() == "ReduceSum";  // an input from opset 13 (the others: 18)
  if (axes_input) axes = axes_of(c, 1);
  else axes = c.attr_ints("axes");
  if (axes.empty() && c.attr_int("noop_with_empty_axes", 0) != 0) return c.set(x);
  Attrs a;
  a.keepdims = c.attr_int("keepdims", 1) != 0;
  std::vector<int64_t> sorted;
  for (int64_t k : axes) sorted.push_back(norm_axis(k, r, "axis"));
  std::sort(sorted.begin(), sorted.end());
  for (int64_t k : sorted) a.axes.push_back(k);
  if (r == 0) return c.set(x);
  if (static_cast<int>(sorted.size()) == r) a.axes = Shape{};
  c.set(c.b.op(op, {x}, a));
}

template <class T>
void map_where(NodeContext<T>& c) {
  c.set(c.b.op(OpCode::where, {c.input(0), c.input(1), c.input(2)}));
}

template <class T>
void map_pad(NodeContext<T>& c) {
  const std::string mode = c.attr_string("mode", "constant");
  if (mode != "constant") throw NodeError("Pad mode '" + mode + "' is not supported (only constant)");
  const Value& x = c.input(0);
  const int r = c.b.rank(x);
  const auto pads = c.known(1, "pads");
  std::vector<int64_t> axes;
  if (c.has(3)) {
    for (double a : c.known(3, "axes")) axes.push_back(norm_axis(to_int(a), r, "axis"));
  } else {
    for (int i = 0; i < r; ++i) axes.push_back(i);
  }
  if (pads.size() != 2 * axes.size())
    throw NodeError("pads holds " + std::to_string(pads.size()) + " values for " + std::to_string(axes.size()) + " axes");
  Attrs a;
  a.pad_before = Shape(std::vector<int64_t>(static_cast<size_t>(r), 0));
  a.pad_after = a.pad_before;
  bool any = false;
  for (size_t i = 0; i < axes.size(); ++i) {
    const int64_t before = to_int(pads[i]), after = to_int(pads[i + axes.size()]);
    if (before < 0 || after < 0) throw NodeError("negative pads (cropping) are not supported");
    a.pad_before[static_cast<int>(axes[i])] = before;
    a.pad_after[static_cast<int>(axes[i])] = after;
    any = any || before || after;
  }
  if (c.has(2)) {
    const auto v = c.known(2, "constant_value");
    a.constant_value = v.empty() ? 0 : v[0];
  }
  c.set(any ? c.b.op(OpCode::pad, {x}, a) : x);  // PyTorch writes zero pads before some pools
}

// ---- the table --------------------------------------------------------------------------------

template <class T>
struct OpMapping {
  const char* op_type;
  int64_t min_opset, max_opset;  // of the default domain
  std::function<void(NodeContext<T>&)> map;
};

/// Every ONNX op type the importer maps, with the opsets it accepts. Older
/// opsets changed semantics (Softmax's 2-D coercion before 13, attributes
/// that became inputs at 13), so 13 is the floor; 17 is the newest opset
/// PyTorch 1.13 writes and the one LayerNormalization first appears in.
template <class T>
const std::vector<OpMapping<T>>& op_mappings() {
  using C = NodeContext<T>;
  static const std::vector<OpMapping<T>> table = {
      {"Add", 13, 17, [](C& c) { map_binary(c, OpCode::add); }},
      {"Sub", 13, 17, [](C& c) { map_binary(c, OpCode::sub); }},
      {"Mul", 13, 17, [](C& c) { map_binary(c, OpCode::mul); }},
      {"Div", 13, 17, [](C& c) { map_binary(c, OpCode::div); }},
      {"Pow", 13, 17, map_pow<T>},
      {"Sqrt", 13, 17, [](C& c) { map_unary(c, OpCode::sqrt); }},
      {"Exp", 13, 17, [](C& c) { map_unary(c, OpCode::exp); }},
      {"Log", 13, 17, [](C& c) { map_unary(c, OpCode::log); }},
      {"Neg", 13, 17, [](C& c) { map_unary(c, OpCode::neg); }},
      {"Abs", 13, 17, [](C& c) { map_unary(c, OpCode::abs); }},
      {"Relu", 13, 17, [](C& c) { map_unary(c, OpCode::relu); }},
      {"Sigmoid", 13, 17, [](C& c) { map_unary(c, OpCode::sigmoid); }},
      {"Tanh", 13, 17, [](C& c) { map_unary(c, OpCode::tanh); }},
      {"Erf", 13, 17, [](C& c) { map_unary(c, OpCode::erf); }},
      {"LeakyRelu", 13, 17, map_leaky_relu<T>},
      {"Softmax", 13, 17, [](C& c) { map_softmax(c, OpCode::softmax); }},
      {"LogSoftmax", 13, 17, [](C& c) { map_softmax(c, OpCode::log_softmax); }},
      {"Gemm", 13, 17, map_gemm<T>},
      {"MatMul", 13, 17, map_matmul<T>},
      {"Conv", 13, 17, map_conv<T>},
      {"MaxPool", 13, 17, [](C& c) { map_pool(c, OpCode::max_pool2d); }},
      {"AveragePool", 13, 17, [](C& c) { map_pool(c, OpCode::avg_pool2d); }},
      {"GlobalAveragePool", 13, 17, map_global_avg_pool<T>},
      {"BatchNormalization", 13, 17, map_batch_norm<T>},
      {"LayerNormalization", 17, 17, map_layer_norm<T>},
      {"Flatten", 13, 17, map_flatten<T>},
      {"Reshape", 13, 17, map_reshape<T>},
      {"Pad", 13, 17, map_pad<T>},
      {"Transpose", 13, 17, map_transpose<T>},
      {"Concat", 13, 17, map_concat<T>},
      {"Split", 13, 17, map_split<T>},
      {"Slice", 13, 17, map_slice<T>},
      {"Squeeze", 13, 17, map_squeeze<T>},
      {"Unsqueeze", 13, 17, map_unsqueeze<T>},
      {"Gather", 13, 17, map_gather<T>},
      {"Constant", 13, 17, map_constant<T>},
      {"ConstantOfShape", 13, 17, map_constant_of_shape<T>},
      {"Shape", 13, 17, map_shape<T>},
      {"ReduceMean", 13, 17, [](C& c) { map_reduce(c, OpCode::mean); }},
      {"ReduceSum", 13, 17, [](C& c) { map_reduce(c, OpCode::sum); }},
      {"ReduceMax", 13, 17, [](C& c) { map_reduce(c, OpCode::max); }},
      {"Where", 13, 17, map_where<T>},
      {"Equal", 13, 17, [](C& c) { map_binary(c, OpCode::equal); }},
      {"Greater", 13, 17, [](C& c) { map_binary(c, OpCode::greater); }},
      {"Less", 13, 17, [](C& c) { map_binary(c, OpCode::less); }},
      {"Identity", 13, 17, map_identity<T>},
      {"Dropout", 13, 17, map_dropout<T>},
      {"Cast", 13, 17, map_cast<T>},
  };
  return table;
}

template <class T>
const OpMapping<T>* find_mapping(const std::string& op_type, int64_t opset) {
  for (const auto& m : op_mappings<T>())
    if (op_type == m.op_type && opset >= m.min_opset && opset <= m.max_opset) return &m;
  return nullptr;
}

}  // namespace hybrid::onnx::detail
