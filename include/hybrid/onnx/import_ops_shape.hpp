#pragma once
// Op mappers for layout, indexing and import-time values: Flatten, Reshape,
// Transpose, Concat, Split, Slice, Squeeze / Unsqueeze, Gather, Pad,
// Constant, ConstantOfShape, Shape. The table is in import_ops.hpp.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "import_node.hpp"

namespace hybrid::onnx::detail {

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
    if (d != 0 && known > std::numeric_limits<int64_t>::max() / d)
      throw NodeError("reshape target " + to_string(out) + "… holds more elements than int64 counts");
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

/// take / pick of `data` at `idx`: the result has data's element kind.
template <class T>
void set_indexed(NodeContext<T>& c, OpCode op, const Value& data, const Value& idx, int64_t axis, bool keepdims) {
  Attrs a;
  a.axis = axis;
  a.keepdims = keepdims;
  Value r = c.b.op(op, {data, idx}, a);
  r.integer = data.integer;
  c.set(std::move(r));
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
  set_indexed(c, OpCode::take, data, idx, axis, false);
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

/// GatherElements with one index per line along `axis` (indices shaped as
/// the data with extent 1 there): hybrid's pick, keeping the axis. ONNX
/// allows indices in [-n, n-1]; negative ones count from the end.
template <class T>
void map_gather_elements(NodeContext<T>& c) {
  const Value& data = c.input(0);
  Value idx = c.input(1);
  const Shape s = c.b.shape(data), s2 = c.b.alt_shape(data);
  const int64_t axis = norm_axis(c.attr_int("axis", 0), s.size(), "axis");
  const int k = static_cast<int>(axis);
  Shape want = s, want2 = s2;
  want[k] = 1;
  want2[k] = 1;
  if (c.b.shape(idx) != want || c.b.alt_shape(idx) != want2)
    throw NodeError("indices of shape " + to_string(c.b.shape(idx)) + " for data of shape " + to_string(s) +
                    " are not supported; only one index per line along axis " + std::to_string(axis) + " (shape " +
                    to_string(want) + "), as hybrid's pick takes");
  const int64_t n = s[k];
  if (idx.known()) {
    if (!same_values(idx.c, idx.c_alt)) throw NodeError("GatherElements indices depend on the batch size");
    TensorT<double> v = idx.c.clone();
    for (int64_t i = 0; i < v.size(); ++i) {
      double& x = v.data()[i];
      if (!(x >= -static_cast<double>(n) && x < static_cast<double>(n)))
        throw NodeError("index " + std::to_string(to_int(x)) + " is out of range [" + std::to_string(-n) + ", " +
                        std::to_string(n - 1) + "] for axis " + std::to_string(axis) + " of extent " + std::to_string(n));
      if (x < 0) x += static_cast<double>(n);
    }
    idx = Value::constant(std::move(v), true);
  } else {
    if (n != s2[k])
      throw NodeError("GatherElements along a symbolic (batch) dimension with indices computed at run time is not "
                      "supported (a negative index counts from the batch extent)");
    // idx + n · (idx < 0); indices still out of range fail when pick runs.
    const Value negative = c.b.op(OpCode::less, {idx, scalar_const<T>(0)});
    idx = c.b.op(OpCode::add, {idx, c.b.op(OpCode::mul, {negative, scalar_const<T>(static_cast<double>(n))})});
  }
  set_indexed(c, OpCode::pick, data, idx, axis, true);
}

/// Expand(x, shape): x broadcast both ways with `shape`, which must be
/// known at import. A fixed result shape is one broadcast_to; where the
/// result follows the batch (x carries it), x is multiplied by ones shaped
/// as the extents x lacks, which broadcasts the same at every batch size.
template <class T>
void map_expand(NodeContext<T>& c) {
  const Value& x = c.input(0);
  const Value& sv = c.input(1);
  if (!sv.known()) throw NodeError("Expand's shape must be known at import (a constant or computed from shapes)");
  auto dims = [](const TensorT<double>& t) {
    if (t.shape().size() != 1) throw NodeError("Expand's shape must be 1-D; it has the shape " + to_string(t.shape()));
    if (t.size() > Shape::kMaxDims) throw NodeError("Expand's shape has more than 8 extents");
    Shape r;
    for (double d : t.to_vector()) {
      if (!(d >= 0 && d <= 1e12)) throw NodeError("Expand's shape has the extent " + std::to_string(to_int(d)));
      r.push_back(to_int(d));
    }
    return r;
  };
  const Shape s = dims(sv.c), s2 = dims(sv.c_alt);
  const Shape xs = c.b.shape(x), xs2 = c.b.alt_shape(x);
  Shape out, out2;
  try {
    out = broadcast_shapes(xs, s, "Expand");
    out2 = broadcast_shapes(xs2, s2, "Expand");
  } catch (const Error&) {
    throw NodeError("cannot broadcast the input of shape " + to_string(xs) + " with the shape " + to_string(s));
  }
  if (out == xs && out2 == xs2) return c.set(x);
  if (out == out2) {
    Attrs a;
    a.shape = out;
    return c.set(c.b.op(OpCode::broadcast_to, {x}, a));
  }
  // ones: extent 1 where x already has the result's extent (at both sizes).
  Shape ones(std::vector<int64_t>(static_cast<size_t>(out.size()), 1)), ones2 = ones;
  const int off = out.size() - xs.size();
  for (int d = 0; d < out.size(); ++d) {
    const bool from_x = d >= off && xs[d - off] == out[d] && xs2[d - off] == out2[d];
    if (!from_x) {
      ones[d] = out[d];
      ones2[d] = out2[d];
    }
  }
  if (ones != ones2 && !x.known())
    throw NodeError("Expand to a shape that follows the batch of another tensor than its input is not supported; "
                    "hybrid's broadcast_to holds fixed extents");
  if (checked_numel(ones) > kMaxFoldedElements || checked_numel(ones2) > kMaxFoldedElements)
    throw NodeError("Expand to " + to_string(out) + " is larger than the importer builds");
  const Value one = Value::constant(full<double>(ones, 1.0), full<double>(ones2, 1.0), x.integer);
  c.set(c.b.op(OpCode::mul, {x, one}));  // x · 1 is exact: NaN, infinities and -0 included
}

}  // namespace hybrid::onnx::detail
