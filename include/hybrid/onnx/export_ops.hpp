#pragma once
// The export mapping: each hybrid op of a portable graph (docs/FORMAT.md
// section 3) becomes one or more ONNX nodes of the default domain, at
// opsets 13 to 17. All of it is in emit_node's switch, one case per op;
// docs/onnx.md ("Op coverage (export)") lists the result per op.
//
// Dynamic batch: the graph's inputs get the symbolic dimension "batch" on
// axis 0, and the emitter tracks which values still carry it on their axis 0
// (batch_), so the attributes that hybrid stores with the traced batch
// extent (a reshape's target, a broadcast_to's shape) are written in a form
// that keeps it symbolic: 0 ("copy the input's extent") in a Reshape target,
// 1 in an Expand shape.
#include <cstring>
#include <string>
#include <unordered_set>
#include <vector>

#include <onnx/onnx_pb.h>

#include "../graph/graph.hpp"

namespace hybrid::onnx {

inline constexpr int kMinOpset = 13;
inline constexpr int kMaxOpset = 17;
/// The IR version ONNX 1.12 writes and its checker reads.
inline constexpr int64_t kIrVersion = 8;

namespace detail {

template <class T>
constexpr int elem_type() {
  return sizeof(T) == 4 ? ::onnx::TensorProto_DataType_FLOAT : ::onnx::TensorProto_DataType_DOUBLE;
}

/// Whether the exporter has an ONNX form for `op` (internal and random ops
/// have none: they only appear in backward or train-mode graphs).
inline bool exportable(OpCode op) {
  switch (op) {
    case OpCode::fused_elementwise:
    case OpCode::conv2d_backward_data:
    case OpCode::conv2d_backward_weight:
    case OpCode::max_pool2d_backward:
    case OpCode::avg_pool2d_backward:
    case OpCode::embedding_backward:
    case OpCode::dropout_mask:
    case OpCode::count: return false;
    default: return !has_trait(op, kInternal) && !has_trait(op, kRandom);
  }
}

inline int64_t norm_axis(int64_t axis, int64_t rank) { return axis < 0 ? axis + rank : axis; }

template <class T>
class Emitter {
 public:
  Emitter(const graph::Graph<T>& g, int opset, ::onnx::GraphProto* out) : g_(g), opset_(opset), out_(out) {
    for (const auto& n : g.nodes)
      if (n.op == OpCode::variable) used_.insert(n.name);
  }

  /// A name no other value has, built from `base`.
  std::string fresh(const std::string& base) {
    std::string name = base;
    for (int k = 1; used_.count(name); ++k) name = base + "_" + std::to_string(k);
    used_.insert(name);
    return name;
  }

  ::onnx::NodeProto* node(const std::string& op_type, const std::vector<std::string>& inputs,
                          const std::string& output) {
    ::onnx::NodeProto* n = out_->add_node();
    n->set_op_type(op_type);
    n->set_name(output);
    for (const auto& i : inputs) n->add_input(i);
    n->add_output(output);
    return n;
  }
  /// A node whose output gets a fresh name from `base`; returns that name.
  std::string tmp(const std::string& op_type, const std::vector<std::string>& inputs, const std::string& base) {
    const std::string name = fresh(base);
    node(op_type, inputs, name);
    return name;
  }

  static void attr(::onnx::NodeProto* n, const char* name, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(::onnx::AttributeProto_AttributeType_INT);
    a->set_i(v);
  }
  static void attr(::onnx::NodeProto* n, const char* name, double v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(::onnx::AttributeProto_AttributeType_FLOAT);
    a->set_f(static_cast<float>(v));
  }
  static void attr(::onnx::NodeProto* n, const char* name, const std::vector<int64_t>& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(::onnx::AttributeProto_AttributeType_INTS);
    for (int64_t x : v) a->add_ints(x);
  }

  /// An initializer holding `count` elements of T (or int64) at `data`.
  template <class E>
  void initializer(const std::string& name, const std::vector<int64_t>& dims, const E* data, int64_t count,
                   int type) {
    ::onnx::TensorProto* t = out_->add_initializer();
    t->set_name(name);
    t->set_data_type(type);
    for (int64_t d : dims) t->add_dims(d);
    // raw_data is little-endian, as hybrid's tensors are in memory.
    t->set_raw_data(std::string(reinterpret_cast<const char*>(data), sizeof(E) * static_cast<size_t>(count)));
  }
  std::string ints(const std::vector<int64_t>& v, const std::string& base) {
    const std::string name = fresh(base);
    initializer(name, {static_cast<int64_t>(v.size())}, v.data(), static_cast<int64_t>(v.size()),
                ::onnx::TensorProto_DataType_INT64);
    return name;
  }
  std::string int_scalar(int64_t v, const std::string& base) {
    const std::string name = fresh(base);
    initializer(name, {}, &v, 1, ::onnx::TensorProto_DataType_INT64);
    return name;
  }
  /// A 0-d initializer of T: the value rounded to T, as hybrid's kernels use it.
  std::string scalar(double v, const std::string& base) {
    const std::string name = fresh(base);
    const T x = attr_value<T>(v);
    initializer(name, {}, &x, 1, elem_type<T>());
    return name;
  }
  std::string tensor(const TensorT<T>& v, const std::string& name) {
    initializer(name, v.shape().to_vector(), v.size() ? v.data() : nullptr, v.size(), elem_type<T>());
    return name;
  }
  std::string cast(const std::string& in, int to, const std::string& base) {
    const std::string name = fresh(base);
    attr(node("Cast", {in}, name), "to", static_cast<int64_t>(to));
    return name;
  }
  std::string cast_to_t(const std::string& in, const std::string& base) { return cast(in, elem_type<T>(), base); }

  /// x reshaped so a per-channel vector of extent C broadcasts along `axis`
  /// of a rank-`rank` tensor: (C, 1, …, 1).
  std::string along(const std::string& v, int64_t axis, int64_t rank, const std::string& base) {
    if (axis == rank - 1) return v;
    std::vector<int64_t> shape{-1};
    for (int64_t d = axis + 1; d < rank; ++d) shape.push_back(1);
    return tmp("Reshape", {v, ints(shape, base + "_shape")}, base);
  }

  /// An elementwise op of one input (also the epilogue of fully_connected
  /// and conv2d): `in` → `out`.
  void unary(OpCode op, const Attrs& a, const std::string& in, const std::string& out) {
    switch (op) {
      case OpCode::neg: node("Neg", {in}, out); return;
      case OpCode::exp: node("Exp", {in}, out); return;
      case OpCode::log: node("Log", {in}, out); return;
      case OpCode::sqrt: node("Sqrt", {in}, out); return;
      case OpCode::abs: node("Abs", {in}, out); return;
      case OpCode::tanh: node("Tanh", {in}, out); return;
      case OpCode::sigmoid: node("Sigmoid", {in}, out); return;
      case OpCode::relu: node("Relu", {in}, out); return;
      case OpCode::softrelu: node("Softplus", {in}, out); return;
      case OpCode::erf: node("Erf", {in}, out); return;
      case OpCode::pow_scalar: node("Pow", {in, scalar(a.scalar, out + "_exponent")}, out); return;
      case OpCode::square: node("Mul", {in, in}, out); return;
      case OpCode::rsqrt: node("Reciprocal", {tmp("Sqrt", {in}, out + "_sqrt")}, out); return;
      case OpCode::log1p: node("Log", {tmp("Add", {in, scalar(1, out + "_one")}, out + "_plus1")}, out); return;
      case OpCode::gelu: {
        // 0.5 · x · (1 + erf(x / √2)), the exact GELU (ONNX has Gelu only from opset 20)
        const std::string e = tmp("Erf", {tmp("Mul", {in, scalar(0.70710678118654752440, out + "_c")}, out + "_xc")},
                                  out + "_erf");
        const std::string half_x = tmp("Mul", {in, scalar(0.5, out + "_half")}, out + "_half_x");
        node("Mul", {half_x, tmp("Add", {e, scalar(1, out + "_one")}, out + "_1erf")}, out);
        return;
      }
      case OpCode::silu: node("Mul", {in, tmp("Sigmoid", {in}, out + "_sigmoid")}, out); return;
      case OpCode::leaky_relu: attr(node("LeakyRelu", {in}, out), "alpha", a.alpha); return;
      case OpCode::clip:
        node("Clip", {in, scalar(a.a_min, out + "_min"), scalar(a.a_max, out + "_max")}, out);
        return;
      default: throw Error(std::string("onnx export: ") + op_def(op).name + " is not an elementwise op of one input");
    }
  }

  /// Writes node `i` of the graph; `in` are its inputs' value names.
  void emit_node(int i, const std::vector<std::string>& in, const std::string& out) {
    const graph::Node<T>& n = g_.nodes[i];
    const Attrs& a = n.attrs;
    auto shape_of = [&](int k) { return g_.nodes[n.inputs[k]].shape; };
    const int64_t r = n.inputs.empty() ? 0 : shape_of(0).size();
    auto in_batch = [&](int k) { return batch_[n.inputs[k]]; };
    bool batch = false;
    switch (n.op) {
      case OpCode::neg: case OpCode::exp: case OpCode::log: case OpCode::sqrt: case OpCode::abs:
      case OpCode::tanh: case OpCode::sigmoid: case OpCode::relu: case OpCode::softrelu: case OpCode::pow_scalar:
      case OpCode::square: case OpCode::rsqrt: case OpCode::log1p: case OpCode::gelu: case OpCode::silu:
      case OpCode::leaky_relu: case OpCode::clip: case OpCode::erf:
        unary(n.op, a, in[0], out);
        batch = in_batch(0);
        break;
      case OpCode::add: case OpCode::sub: case OpCode::mul: case OpCode::div: case OpCode::maximum:
      case OpCode::minimum: {
        static const char* names[] = {"Add", "Sub", "Mul", "Div", "Max", "Min"};
        node(names[static_cast<int>(n.op) - static_cast<int>(OpCode::add)], {in[0], in[1]}, out);
        batch = broadcast_batch(n);
        break;
      }
      case OpCode::greater: case OpCode::less: case OpCode::equal: {
        // ONNX compares into bool; hybrid's comparisons give 1 / 0 of T
        const char* type = n.op == OpCode::greater ? "Greater" : n.op == OpCode::less ? "Less" : "Equal";
        attr(node("Cast", {tmp(type, {in[0], in[1]}, out + "_bool")}, out), "to", int64_t{elem_type<T>()});
        batch = broadcast_batch(n);
        break;
      }
      case OpCode::where: {
        // cond != 0 (NaN counts as true, as in hybrid)
        const std::string zero = tmp("Equal", {in[0], scalar(0, out + "_zero")}, out + "_is_zero");
        node("Where", {tmp("Not", {zero}, out + "_cond"), in[1], in[2]}, out);
        batch = broadcast_batch(n);
        break;
      }
      case OpCode::matmul:
        node("MatMul", {in[0], in[1]}, out);
        batch = in_batch(0) && shape_of(0).size() >= shape_of(1).size();
        break;
      case OpCode::fully_connected: {
        const std::string body = a.activation >= 0 ? fresh(out + "_linear") : out;
        if (a.flatten) {
          const std::string x = r == 2 ? in[0] : tmp("Flatten", {in[0]}, out + "_flat");  // Flatten's axis 1
          std::vector<std::string> args{x, in[1]};
          if (!a.no_bias) args.push_back(in[2]);
          attr(node("Gemm", args, body), "transB", int64_t{1});
          batch = in_batch(0);
        } else {
          const std::string wt = tmp("Transpose", {in[1]}, out + "_wt");
          if (a.no_bias) {
            node("MatMul", {in[0], wt}, body);
          } else {
            node("Add", {tmp("MatMul", {in[0], wt}, out + "_matmul"), in[2]}, body);
          }
          batch = in_batch(0) && r >= 2;
        }
        if (a.activation >= 0) unary(static_cast<OpCode>(a.activation), a, body, out);
        break;
      }
      case OpCode::reshape: batch = reshape(n, in[0], out); break;
      case OpCode::transpose: {
        std::vector<int64_t> perm = a.perm.to_vector();
        if (perm.empty())
          for (int64_t d = r - 1; d >= 0; --d) perm.push_back(d);
        attr(node("Transpose", {in[0]}, out), "perm", perm);
        batch = in_batch(0) && !perm.empty() && perm[0] == 0;
        break;
      }
      case OpCode::concat: {
        const int64_t axis = norm_axis(a.axis, r);
        attr(node("Concat", in, out), "axis", axis);
        batch = in_batch(0) && axis != 0;
        break;
      }
      case OpCode::slice: {
        const int64_t axis = norm_axis(a.axis, r);
        node("Slice", {in[0], ints({a.begin}, out + "_starts"), ints({a.end}, out + "_ends"), ints({axis}, out + "_axes")},
             out);
        batch = in_batch(0) && axis != 0;
        break;
      }
      case OpCode::stack: {
        const int64_t axis = a.axis < 0 ? a.axis + r + 1 : a.axis;
        const std::string axes = ints({axis}, out + "_axes");
        std::vector<std::string> parts;
        for (size_t k = 0; k < in.size(); ++k)
          parts.push_back(tmp("Unsqueeze", {in[k], axes}, out + "_part" + std::to_string(k)));
        attr(node("Concat", parts, out), "axis", axis);
        batch = in_batch(0) && axis != 0;
        break;
      }
      case OpCode::broadcast_to: {
        // Expand broadcasts both ways: 1 keeps the input's extent, so an
        // extent the input already has (the batch among them) stays symbolic.
        const Shape& s = shape_of(0);
        std::vector<int64_t> target = a.shape.to_vector();
        const int64_t offset = static_cast<int64_t>(target.size()) - s.size();
        for (int d = 0; d < s.size(); ++d)
          if (s[d] == target[static_cast<size_t>(offset + d)]) target[static_cast<size_t>(offset + d)] = 1;
        node("Expand", {in[0], ints(target, out + "_shape")}, out);
        batch = in_batch(0) && offset == 0 && s.size() > 0;
        break;
      }
      case OpCode::pad: {
        std::vector<int64_t> pads = a.pad_before.to_vector();
        for (int64_t p : a.pad_after) pads.push_back(p);
        attr(node("Pad", {in[0], ints(pads, out + "_pads"), scalar(a.constant_value, out + "_value")}, out), "mode",
             std::string("constant"));
        batch = in_batch(0) && r > 0 && a.pad_before[0] == 0 && a.pad_after[0] == 0;
        break;
      }
      case OpCode::take: {
        const int64_t axis = norm_axis(a.axis, r);
        const std::string idx = cast(in[1], ::onnx::TensorProto_DataType_INT64, out + "_indices");
        attr(node("Gather", {in[0], idx}, out), "axis", axis);
        batch = axis != 0 ? in_batch(0) : in_batch(1) && shape_of(1).size() > 0;
        break;
      }
      case OpCode::pick: {
        const int64_t axis = norm_axis(a.axis, r);
        std::string idx = cast(in[1], ::onnx::TensorProto_DataType_INT64, out + "_index");
        if (shape_of(1).size() < r) idx = tmp("Unsqueeze", {idx, ints({axis}, out + "_axes")}, out + "_index_kept");
        if (a.keepdims) {
          attr(node("GatherElements", {in[0], idx}, out), "axis", axis);
        } else {
          const std::string kept = fresh(out + "_kept");
          attr(node("GatherElements", {in[0], idx}, kept), "axis", axis);
          node("Squeeze", {kept, ints({axis}, out + "_squeeze_axes")}, out);
        }
        batch = in_batch(0) && axis != 0;
        break;
      }
      case OpCode::one_hot: {
        // indices[…, None] == arange(depth), then on / off: no OneHot, whose
        // kernels in runtimes cover few element types.
        std::vector<int64_t> classes;
        for (int64_t c = 0; c < a.depth; ++c) classes.push_back(c);
        const std::string idx = tmp("Unsqueeze", {cast(in[0], ::onnx::TensorProto_DataType_INT64, out + "_indices"),
                                                  ints({-1}, out + "_axes")},
                                    out + "_column");
        const std::string hit = tmp("Equal", {idx, ints(classes, out + "_classes")}, out + "_hit");
        node("Where", {hit, scalar(a.on_value, out + "_on"), scalar(a.off_value, out + "_off")}, out);
        batch = in_batch(0) && r > 0;
        break;
      }
      case OpCode::argmax: {
        const int64_t axis = norm_axis(a.axis, r);
        auto* am = node("ArgMax", {in[0]}, fresh(out + "_int64"));
        attr(am, "axis", axis);
        attr(am, "keepdims", int64_t{a.keepdims});
        attr(node("Cast", {am->output(0)}, out), "to", int64_t{elem_type<T>()});
        batch = in_batch(0) && axis != 0;
        break;
      }
      case OpCode::sum: case OpCode::mean: case OpCode::max: {
        std::vector<int64_t> axes;
        for (int64_t x : a.axes) axes.push_back(norm_axis(x, r));
        const char* type = n.op == OpCode::sum ? "ReduceSum" : n.op == OpCode::mean ? "ReduceMean" : "ReduceMax";
        ::onnx::NodeProto* red;
        if (n.op == OpCode::sum) {  // axes is an input from opset 13; none: all axes
          std::vector<std::string> args{in[0]};
          if (!axes.empty()) args.push_back(ints(axes, out + "_axes"));
          red = node(type, args, out);
        } else {  // ReduceMean / ReduceMax take axes as an attribute until opset 18
          red = node(type, {in[0]}, out);
          if (!axes.empty()) attr(red, "axes", axes);
        }
        attr(red, "keepdims", int64_t{a.keepdims});
        batch = in_batch(0) && !axes.empty() && std::find(axes.begin(), axes.end(), 0) == axes.end();
        break;
      }
      case OpCode::softmax: case OpCode::log_softmax:
        attr(node(n.op == OpCode::softmax ? "Softmax" : "LogSoftmax", {in[0]}, out), "axis", norm_axis(a.axis, r));
        batch = in_batch(0);
        break;
      case OpCode::conv2d: {
        const std::string body = a.activation >= 0 ? fresh(out + "_conv") : out;
        std::vector<std::string> args{in[0], in[1]};
        if (!a.no_bias) args.push_back(in[2]);
        auto* c = node("Conv", args, body);
        const Shape& w = shape_of(1);
        attr(c, "kernel_shape", std::vector<int64_t>{w[2], w[3]});
        attr(c, "strides", a.stride.to_vector());
        attr(c, "pads", std::vector<int64_t>{a.padding[0], a.padding[1], a.padding[0], a.padding[1]});
        attr(c, "dilations", a.dilation.to_vector());
        attr(c, "group", a.groups);
        if (a.activation >= 0) unary(static_cast<OpCode>(a.activation), a, body, out);
        batch = in_batch(0);
        break;
      }
      case OpCode::max_pool2d: case OpCode::avg_pool2d: {
        auto* p = node(n.op == OpCode::max_pool2d ? "MaxPool" : "AveragePool", {in[0]}, out);
        attr(p, "kernel_shape", a.kernel.to_vector());
        attr(p, "strides", a.stride.to_vector());
        attr(p, "pads", std::vector<int64_t>{a.padding[0], a.padding[1], a.padding[0], a.padding[1]});
        if (n.op == OpCode::avg_pool2d) attr(p, "count_include_pad", int64_t{a.count_include_pad});
        batch = in_batch(0);
        break;
      }
      case OpCode::global_avg_pool2d:
        node("GlobalAveragePool", {in[0]}, out);
        batch = in_batch(0);
        break;
      case OpCode::layer_norm: layer_norm(n, in, out); batch = in_batch(0); break;
      case OpCode::embedding:
        attr(node("Gather", {in[1], cast(in[0], ::onnx::TensorProto_DataType_INT64, out + "_indices")}, out), "axis",
             int64_t{0});
        batch = in_batch(0) && r > 0;
        break;
      case OpCode::batch_norm: batch_norm(n, in, out); batch = in_batch(0); break;
      case OpCode::dropout:  // the predict form: the identity
        node("Identity", {in[0]}, out);
        batch = in_batch(0);
        break;
      default:
        throw Error(std::string("onnx export: op ") + op_def(n.op).name + " (node " + std::to_string(i) +
                    ") has no ONNX form");
    }
    batch_[i] = batch;
  }

  std::vector<bool> batch_;  // per node: its axis 0 is the symbolic batch

 private:
  static void attr(::onnx::NodeProto* n, const char* name, const std::string& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(::onnx::AttributeProto_AttributeType_STRING);
    a->set_s(v);
  }

  /// Broadcasting ops: axis 0 of the result is the batch when it comes from
  /// an input of the result's rank that carries it.
  bool broadcast_batch(const graph::Node<T>& n) const {
    for (int k : n.inputs)
      if (batch_[k] && g_.nodes[k].shape.size() == n.shape.size() && g_.nodes[k].shape[0] == n.shape[0]) return true;
    return false;
  }

  /// hybrid's target holds literal extents (0 is an empty axis) and one -1.
  /// ONNX reads 0 as "copy the input's extent" unless allowzero (opset 14).
  /// When axis 0 keeps the batch, it is written 0, so it stays symbolic.
  bool reshape(const graph::Node<T>& n, const std::string& in, const std::string& out) {
    const Shape& s = g_.nodes[n.inputs[0]].shape;
    std::vector<int64_t> target = n.attrs.shape.to_vector();
    const bool has_zero = std::find(target.begin(), target.end(), 0) != target.end();
    bool batch = false;
    if (batch_[n.inputs[0]] && !target.empty() && s.size() > 0 && !has_zero) {
      if (target[0] == s[0]) {
        target[0] = 0;  // copy the batch
        batch = true;
      } else if (target[0] == -1) {
        int64_t rest = 1, q = 1;
        for (int d = 1; d < s.size(); ++d) rest *= s[d];
        for (size_t d = 1; d < target.size(); ++d) q *= target[d];
        batch = rest == q;  // -1 is then the batch at any batch size
      }
    }
    if (has_zero && opset_ < 14)
      throw Error("onnx export: reshape to " + to_string(n.attrs.shape) + " (node '" + out +
                  "') has an empty extent, which Reshape reads as 'copy' before opset 14; export at opset 14 or later");
    auto* r = node("Reshape", {in, ints(target, out + "_shape")}, out);
    if (has_zero) attr(r, "allowzero", int64_t{1});
    return batch;
  }

  void layer_norm(const graph::Node<T>& n, const std::vector<std::string>& in, const std::string& out) {
    const int64_t r = g_.nodes[n.inputs[0]].shape.size();
    const int64_t axis = norm_axis(n.attrs.axis, r);
    // LayerNormalization (opset 17) normalizes the trailing axes from `axis`
    // and computes in float (stash_type): used for float over the last axis only.
    if (opset_ >= 17 && axis == r - 1 && sizeof(T) == 4) {
      auto* ln = node("LayerNormalization", {in[0], in[1], in[2]}, out);
      attr(ln, "axis", int64_t{-1});
      attr(ln, "epsilon", n.attrs.epsilon);
      return;
    }
    auto mean = [&](const std::string& x, const std::string& base) {
      auto* m = node("ReduceMean", {x}, fresh(base));
      attr(m, "axes", std::vector<int64_t>{axis});
      attr(m, "keepdims", int64_t{1});
      return m->output(0);
    };
    const std::string d = tmp("Sub", {in[0], mean(in[0], out + "_mean")}, out + "_centered");
    const std::string v = mean(tmp("Mul", {d, d}, out + "_squared"), out + "_var");
    const std::string inv =
        tmp("Reciprocal", {tmp("Sqrt", {tmp("Add", {v, scalar(n.attrs.epsilon, out + "_epsilon")}, out + "_var_eps")},
                               out + "_std")},
            out + "_inv_std");
    const std::string y = tmp("Mul", {tmp("Mul", {d, inv}, out + "_normed"), along(in[1], axis, r, out + "_gamma")},
                              out + "_scaled");
    node("Add", {y, along(in[2], axis, r, out + "_beta")}, out);
  }

  void batch_norm(const graph::Node<T>& n, const std::vector<std::string>& in, const std::string& out) {
    const int64_t r = g_.nodes[n.inputs[0]].shape.size();
    const int64_t axis = norm_axis(n.attrs.axis, r);
    // BatchNormalization's epsilon is a float attribute: used for float
    // with channels on axis 1; otherwise the predict-mode formula.
    if (axis == 1 && sizeof(T) == 4) {
      auto* bn = node("BatchNormalization", {in[0], in[1], in[2], in[3], in[4]}, out);
      attr(bn, "epsilon", n.attrs.epsilon);
      attr(bn, "momentum", n.attrs.momentum);
      return;
    }
    const std::string scale =
        tmp("Div", {in[1], tmp("Sqrt", {tmp("Add", {in[4], scalar(n.attrs.epsilon, out + "_epsilon")}, out + "_var_eps")},
                               out + "_std")},
            out + "_scale");
    const std::string centered = tmp("Sub", {in[0], along(in[3], axis, r, out + "_mean")}, out + "_centered");
    const std::string y = tmp("Mul", {centered, along(scale, axis, r, out + "_scale_c")}, out + "_scaled");
    node("Add", {y, along(in[2], axis, r, out + "_beta")}, out);
  }

  const graph::Graph<T>& g_;
  int opset_;
  ::onnx::GraphProto* out_;
  std::unordered_set<std::string> used_;
};

}  // namespace detail
}  // namespace hybrid::onnx
