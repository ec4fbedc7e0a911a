#pragma once
// Op mappers for the layers: Gemm, MatMul, Conv, pools, normalizations,
// Softmax / LogSoftmax and reductions. The table is in import_ops.hpp.
#include <algorithm>
#include <string>
#include <vector>

#include "import_node.hpp"

namespace hybrid::onnx::detail {

template <class T>
void map_softmax(NodeContext<T>& c, OpCode op) {
  Attrs a;
  a.axis = norm_axis(c.attr_int("axis", -1), c.b.rank(c.input(0)), "axis");
  c.set(c.b.op(op, {c.input(0)}, a));
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

/// ArgMax: `axis` (default 0), `keepdims` (default 1). hybrid's argmax
/// picks the first of equal maxima, ONNX's default (select_last_index 0).
template <class T>
void map_argmax(NodeContext<T>& c) {
  const Value& x = c.input(0);
  if (c.attr_int("select_last_index", 0) != 0)
    throw NodeError("select_last_index = 1 (the last of equal maxima) is not supported; hybrid's argmax picks the first");
  Attrs a;
  a.axis = norm_axis(c.attr_int("axis", 0), c.b.rank(x), "axis");
  a.keepdims = c.attr_int("keepdims", 1) != 0;
  Value r = c.b.op(OpCode::argmax, {x}, a);
  r.integer = true;  // int64 in ONNX
  c.set(std::move(r));
}

}  // namespace hybrid::onnx::detail
