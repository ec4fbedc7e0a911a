#pragma once
// Shape inference, one rule per kind of op. Rules run at trace time, at
// compile time and when an imported graph meets a new input shape; each
// throws ShapeError naming the op and the shapes. A rule also normalizes the
// axes it reads in `a` (negative axes become [0, r)), so kernels, CSE and
// the graph file see one spelling of each axis.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "../kernels/conv.hpp"
#include "../kernels/layout.hpp"
#include "../kernels/pool.hpp"

namespace hybrid::shape_rules {

using Rule = Shape (*)(OpCode code, const char* op, const Shape* in, int n, Attrs& a);

inline std::string shapes_text(const Shape* in, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += (i ? ", " : "") + to_string(in[i]);
  return s;
}

inline Shape none(OpCode, const char*, const Shape*, int, Attrs&) { return Shape{}; }

inline Shape broadcast(OpCode, const char* op, const Shape* in, int n, Attrs&) {
  Shape out = in[0];
  for (int i = 1; i < n; ++i) out = broadcast_shapes(out, in[i], op);
  return out;
}

/// clip: bounds must be ordered numbers; then as broadcast.
inline Shape clip(OpCode code, const char* op, const Shape* in, int n, Attrs& a) {
  if (!(a.a_min <= a.a_max))
    throw ShapeError(std::string(op) + ": a_min " + std::to_string(a.a_min) + " must not exceed a_max " +
                     std::to_string(a.a_max));
  return broadcast(code, op, in, n, a);
}

inline Shape axis_preserving(OpCode, const char* op, const Shape* in, int, Attrs& a) {
  if (in[0].empty()) throw ShapeError(std::string(op) + ": needs at least one dimension, got shape ()");
  a.axis = normalize_axis(a.axis, in[0].size(), op);
  return in[0];
}

inline Shape matmul(OpCode, const char* op, const Shape* in, int, Attrs&) {
  const Shape &a = in[0], &b = in[1];
  if (a.size() < 2 || b.size() < 2)
    throw ShapeError(std::string(op) + ": operands need at least 2 dimensions, got " +
                     shapes_text(in, 2));
  if (a.back() != b[b.size() - 2])
    throw ShapeError(std::string(op) + ": inner dimensions differ: " + shapes_text(in, 2));
  Shape ba, bb;
  for (int i = 0; i + 2 < a.size(); ++i) ba.push_back(a[i]);
  for (int i = 0; i + 2 < b.size(); ++i) bb.push_back(b[i]);
  Shape out = broadcast_shapes(ba, bb, op);
  out.push_back(a[a.size() - 2]);
  out.push_back(b.back());
  return out;
}

inline Shape fully_connected(OpCode, const char* op, const Shape* in, int n, Attrs& a) {
  const Shape &x = in[0], &w = in[1];
  if (n != (a.no_bias ? 2 : 3))
    throw ShapeError(std::string(op) + ": expects " + (a.no_bias ? "2" : "3") + " inputs, got " +
                     std::to_string(n));
  if (w.size() != 2 || x.empty())
    throw ShapeError(std::string(op) + ": needs data of rank >= 1 and a 2-D weight, got " +
                     shapes_text(in, n));
  Shape out;
  int64_t features;
  if (a.flatten) {
    out.push_back(x[0]);
    features = 1;
    for (int i = 1; i < x.size(); ++i) features *= x[i];
  } else {
    for (int i = 0; i + 1 < x.size(); ++i) out.push_back(x[i]);
    features = x.back();
  }
  if (features != w[1])
    throw ShapeError(std::string(op) + ": data has " + std::to_string(features) +
                     " features but the weight expects " + std::to_string(w[1]) + ": " +
                     shapes_text(in, n));
  if (n == 3 && in[2] != Shape{w[0]})
    throw ShapeError(std::string(op) + ": bias shape must be (" + std::to_string(w[0]) +
                     ",), got " + shapes_text(in, n));
  out.push_back(w[0]);
  return out;
}

inline Shape reshape(OpCode, const char* op, const Shape* in, int, Attrs& a) {
  const int64_t total = numel(in[0]);
  Shape out = a.shape;
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      if (infer >= 0)
        throw ShapeError(std::string(op) + ": more than one -1 in target shape " + to_string(a.shape));
      infer = i;
    } else if (out[i] < 0) {
      throw ShapeError(std::string(op) + ": negative dimension in target shape " + to_string(a.shape));
    } else {
      known = checked_numel(Shape{known, out[i]}, op);
    }
  }
  if (infer >= 0) {
    if (known == 0 || total % known != 0)
      throw ShapeError(std::string(op) + ": cannot reshape " + to_string(in[0]) + " into " +
                       to_string(a.shape));
    out[infer] = total / known;
  } else if (known != total) {
    throw ShapeError(std::string(op) + ": cannot reshape " + to_string(in[0]) + " (" +
                     std::to_string(total) + " elements) into " + to_string(a.shape));
  }
  return out;
}

inline Shape transpose(OpCode, const char* op, const Shape* in, int, Attrs& a) {
  const int nd = in[0].size();
  const Shape perm = kernels::resolved_perm(a, nd);
  if (perm.size() != nd)
    throw ShapeError(std::string(op) + ": permutation " + to_string(perm) + " does not match shape " +
                     to_string(in[0]));
  bool seen[Shape::kMaxDims] = {};
  Shape out;
  for (int i = 0; i < nd; ++i) {
    const int64_t p = perm[i];
    if (p < 0 || p >= nd || seen[p])
      throw ShapeError(std::string(op) + ": " + to_string(perm) + " is not a permutation of the axes of " +
                       to_string(in[0]));
    seen[p] = true;
    out.push_back(in[0][static_cast<int>(p)]);
  }
  return out;
}

inline Shape concat(OpCode, const char* op, const Shape* in, int n, Attrs& a) {
  if (n == 0) throw ShapeError(std::string(op) + ": needs at least one tensor");
  const int nd = in[0].size();
  const int axis = normalize_axis(a.axis, nd, op);
  a.axis = axis;
  Shape out = in[0];
  for (int i = 1; i < n; ++i) {
    bool ok = in[i].size() == nd;
    for (int d = 0; ok && d < nd; ++d) ok = d == axis || in[i][d] == in[0][d];
    if (!ok)
      throw ShapeError(std::string(op) + ": shapes " + shapes_text(in, n) +
                       " differ outside axis " + std::to_string(axis));
    if (out[axis] > std::numeric_limits<int64_t>::max() - in[i][axis])
      throw ShapeError(std::string(op) + ": the joined extent along axis " + std::to_string(axis) + " overflows");
    out[axis] += in[i][axis];
  }
  return out;
}

inline Shape slice(OpCode, const char* op, const Shape* in, int, Attrs& a) {
  if (in[0].empty()) throw ShapeError(std::string(op) + ": cannot slice a 0-d tensor");
  const int axis = normalize_axis(a.axis, in[0].size(), op);
  a.axis = axis;
  int64_t b, e;
  kernels::slice_bounds(a.begin, a.end, in[0][axis], b, e);
  Shape out = in[0];
  out[axis] = e - b;
  return out;
}

/// Normalizes `a.axes` (sorted, each once) for a tensor of `in`'s rank.
inline void normalize_axes(const char* op, const Shape& in, Attrs& a) {
  Shape axes;
  for (int64_t axis : a.axes) axes.push_back(normalize_axis(axis, in.size(), op));
  std::sort(axes.begin(), axes.end());
  for (int i = 1; i < axes.size(); ++i)
    if (axes[i] == axes[i - 1])
      throw ShapeError(std::string(op) + ": axis " + std::to_string(axes[i]) + " is named twice in " +
                       to_string(a.axes));
  a.axes = axes;
}

/// sum, mean, max over a.axes (empty: all axes).
inline Shape reduce(OpCode code, const char* op, const Shape* in, int, Attrs& a) {
  normalize_axes(op, in[0], a);
  Shape out;
  int empty_axis = -1;  // a reduced axis of extent 0
  for (int d = 0, k = 0; d < in[0].size(); ++d) {
    const bool reduced = a.axes.empty() || (k < a.axes.size() && a.axes[k] == d);
    if (reduced && !a.axes.empty()) ++k;
    if (reduced && in[0][d] == 0 && empty_axis < 0) empty_axis = d;
    if (!reduced) out.push_back(in[0][d]);
    else if (a.keepdims) out.push_back(1);
  }
  // max has no identity: reducing nothing has no answer.
  if (code == OpCode::max && empty_axis >= 0)
    throw ShapeError(std::string(op) + (a.axes.empty() ? ": reduction of an empty tensor of shape "
                                                       : ": reduction over empty axis " + std::to_string(empty_axis) +
                                                             " of shape ") +
                     to_string(in[0]));
  return out;
}

/// argmax: one index per line along a.axis.
inline Shape argmax(OpCode, const char* op, const Shape* in, int, Attrs& a) {
  if (in[0].empty()) throw ShapeError(std::string(op) + ": needs at least one dimension, got shape ()");
  a.axis = normalize_axis(a.axis, in[0].size(), op);
  if (in[0][a.axis] == 0)
    throw ShapeError(std::string(op) + ": axis " + std::to_string(a.axis) + " of shape " + to_string(in[0]) +
                     " is empty");
  Shape out;
  for (int d = 0; d < in[0].size(); ++d) {
    if (d != a.axis) out.push_back(in[0][d]);
    else if (a.keepdims) out.push_back(1);
  }
  return out;
}

/// stack: n equal shapes gain a new axis of extent n at a.axis (in [0, r]).
inline Shape stack(OpCode, const char* op, const Shape* in, int n, Attrs& a) {
  if (n == 0) throw ShapeError(std::string(op) + ": needs at least one tensor");
  if (in[0].size() == Shape::kMaxDims)
    throw ShapeError(std::string(op) + ": inputs of shape " + to_string(in[0]) + " already have " +
                     std::to_string(Shape::kMaxDims) + " dimensions");
  const int r = in[0].size();
  if (a.axis < -(r + 1) || a.axis > r)
    throw ShapeError(std::string(op) + ": axis " + std::to_string(a.axis) + " is out of range for stacking tensors of " +
                     std::to_string(r) + " dimensions (valid: " + std::to_string(-(r + 1)) + " to " +
                     std::to_string(r) + ")");
  if (a.axis < 0) a.axis += r + 1;
  for (int i = 1; i < n; ++i)
    if (in[i] != in[0]) throw ShapeError(std::string(op) + ": shapes " + shapes_text(in, n) + " differ");
  Shape out;
  for (int d = 0; d <= in[0].size(); ++d) {
    if (d == a.axis) out.push_back(n);
    if (d < in[0].size()) out.push_back(in[0][d]);
  }
  return out;
}

/// broadcast_to: x must broadcast to the target a.shape.
inline Shape broadcast_to(OpCode, const char* op, const Shape* in, int, Attrs& a) {
  checked_numel(a.shape, op);
  bool ok = in[0].size() <= a.shape.size();
  for (int i = 0; ok && i < in[0].size(); ++i) {
    const int64_t d = in[0][in[0].size() - 1 - i], t = a.shape[a.shape.size() - 1 - i];
    ok = d == t || d == 1;
  }
  if (!ok) throw ShapeError(std::string(op) + ": cannot broadcast " + to_string(in[0]) + " to " + to_string(a.shape));
  return a.shape;
}

/// pad: a.pad_before and a.pad_after hold one width per axis.
inline Shape pad(OpCode, const char* op, const Shape* in, int, Attrs& a) {
  if (a.pad_before.size() != in[0].size() || a.pad_after.size() != in[0].size())
    throw ShapeError(std::string(op) + ": pad_before " + to_string(a.pad_before) + " and pad_after " +
                     to_string(a.pad_after) + " need one width per axis of " + to_string(in[0]));
  Shape out;
  for (int d = 0; d < in[0].size(); ++d) {
    const int64_t before = a.pad_before[d], after = a.pad_after[d];
    if (before < 0 || after < 0 || before > std::numeric_limits<int64_t>::max() - after ||
        in[0][d] > std::numeric_limits<int64_t>::max() - before - after)
      throw ShapeError(std::string(op) + ": widths " + to_string(a.pad_before) + ", " + to_string(a.pad_after) +
                       " are negative or too large for " + to_string(in[0]));  // before, after
    out.push_back(in[0][d] + before + after);
  }
  checked_numel(out, op);
  return out;
}

/// take: x's axis a.axis replaced by the indices' shape.
inline Shape take(OpCode, const char* op, const Shape* in, int, Attrs& a) {
  if (in[0].empty()) throw ShapeError(std::string(op) + ": cannot take from a 0-d tensor");
  a.axis = normalize_axis(a.axis, in[0].size(), op);
  if (in[0].size() - 1 + in[1].size() > Shape::kMaxDims)
    throw ShapeError(std::string(op) + ": the result of " + shapes_text(in, 2) + " would have more than " +
                     std::to_string(Shape::kMaxDims) + " dimensions");
  Shape out;
  for (int d = 0; d < in[0].size(); ++d) {
    if (d == a.axis)
      for (int64_t e : in[1]) out.push_back(e);
    else
      out.push_back(in[0][d]);
  }
  checked_numel(out, op);
  return out;
}

/// pick: the index holds one entry per line of x along a.axis (its shape is
/// x's without that axis, or with extent 1 there).
inline Shape pick(OpCode, const char* op, const Shape* in, int, Attrs& a) {
  if (in[0].empty()) throw ShapeError(std::string(op) + ": needs at least one dimension, got shape ()");
  a.axis = normalize_axis(a.axis, in[0].size(), op);
  Shape dropped, kept;
  for (int d = 0; d < in[0].size(); ++d) {
    if (d != a.axis) dropped.push_back(in[0][d]);
    kept.push_back(d == a.axis ? 1 : in[0][d]);
  }
  if (in[1] != dropped && in[1] != kept)
    throw ShapeError(std::string(op) + ": index shape must be " + to_string(dropped) + " or " + to_string(kept) +
                     ", got " + shapes_text(in, 2));
  return a.keepdims ? kept : dropped;
}

/// one_hot: the indices' shape plus a last axis of a.depth classes.
inline Shape one_hot(OpCode, const char* op, const Shape* in, int, Attrs& a) {
  if (a.depth < 0) throw ShapeError(std::string(op) + ": depth must be >= 0, got " + std::to_string(a.depth));
  if (in[0].size() == Shape::kMaxDims)
    throw ShapeError(std::string(op) + ": indices of shape " + to_string(in[0]) + " already have " +
                     std::to_string(Shape::kMaxDims) + " dimensions");
  Shape out = in[0];
  out.push_back(a.depth);
  checked_numel(out, op);
  return out;
}

namespace conv_detail {

/// stride, padding or dilation: two integers, each at least `least`.
inline void check_pair(const char* op, const char* key, const Shape& v, int64_t least, const char* what) {
  if (v.size() != 2)
    throw ShapeError(std::string(op) + ": " + key + " needs two values (h, w), got " + to_string(v));
  if (v[0] < least || v[1] < least)
    throw ShapeError(std::string(op) + ": " + key + " must be " + what + ", got " + to_string(v));
}

/// Checks a convolution of data `x` by weight `w` under `a`'s attributes and
/// returns its output shape (N, O, Ho, Wo); `shapes()` names the operands in
/// errors (built only then: a valid call allocates nothing).
template <class Text>
Shape output(const char* op, const Shape& x, const Shape& w, const Attrs& a, Text shapes) {
  const auto fail = [&](const std::string& what) { return ShapeError(std::string(op) + ": " + what); };
  const auto str = [](int64_t v) { return std::to_string(v); };
  check_pair(op, "stride", a.stride, 1, "positive");
  check_pair(op, "dilation", a.dilation, 1, "positive");
  check_pair(op, "padding", a.padding, 0, ">= 0");
  if (x.size() != 4 || w.size() != 4)
    throw fail("needs data (N, C, H, W) and a weight (O, C/groups, kh, kw), got " + shapes());
  if (a.groups < 1) throw fail("groups must be >= 1, got " + str(a.groups));
  if (x[1] % a.groups != 0)
    throw fail(str(x[1]) + " input channels do not divide into " + str(a.groups) + " groups: " + shapes());
  if (w[0] % a.groups != 0)
    throw fail(str(w[0]) + " output channels do not divide into " + str(a.groups) + " groups: " + shapes());
  if (w[1] != x[1] / a.groups)
    throw fail("the weight has " + str(w[1]) + " channels per group but the data has " + str(x[1]) + " channels in " +
               str(a.groups) + " groups (" + str(x[1] / a.groups) + " each): " + shapes());
  if (w[2] < 1 || w[3] < 1) throw fail("the kernel must be at least 1x1: " + shapes());
  int64_t extent[2];
  for (int d = 0; d < 2; ++d) {
    // padded = in + 2p and span = d(k − 1) + 1, both without overflow.
    int64_t padded, span;
    if (__builtin_mul_overflow(a.padding[d], int64_t{2}, &padded) || __builtin_add_overflow(padded, x[2 + d], &padded) ||
        __builtin_mul_overflow(a.dilation[d], w[2 + d] - 1, &span) || __builtin_add_overflow(span, int64_t{1}, &span))
      throw fail("padding " + to_string(a.padding) + " or dilation " + to_string(a.dilation) + " is too large: " +
                 shapes());
    if (span > padded)
      throw fail("the kernel (dilated to " + str(span) + " along axis " + str(2 + d) +
                 ") is larger than the padded input (" + str(padded) + "): " + shapes() + ", padding " +
                 to_string(a.padding) + ", dilation " + to_string(a.dilation));
    extent[d] = (padded - span) / a.stride[d] + 1;
  }
  const Shape out{x[0], w[0], extent[0], extent[1]};
  checked_numel(out, op);
  // The patch matrix the kernels unfold into scratch must be addressable too.
  checked_numel(Shape{w[1], w[2], w[3], extent[0], extent[1]}, op);
  return out;
}

}  // namespace conv_detail

/// conv2d: data (N, C, H, W), weight (O, C/groups, kh, kw), bias (O,) unless no_bias.
inline Shape conv2d(OpCode, const char* op, const Shape* in, int n, Attrs& a) {
  if (n != (a.no_bias ? 2 : 3))
    throw ShapeError(std::string(op) + ": expects " + (a.no_bias ? "2" : "3") + " inputs, got " + std::to_string(n));
  const Shape out = conv_detail::output(op, in[0], in[1], a, [&] { return shapes_text(in, n); });
  if (n == 3 && in[2] != Shape{in[1][0]})
    throw ShapeError(std::string(op) + ": bias shape must be (" + std::to_string(in[1][0]) + ",), got " +
                     shapes_text(in, n));
  return out;
}

/// conv2d_backward_data: dy and the weight; a.shape is the data's shape, the result's.
inline Shape conv2d_backward_data(OpCode, const char* op, const Shape* in, int, Attrs& a) {
  checked_numel(a.shape, op);
  const auto shapes = [&] { return "data " + to_string(a.shape) + ", weight " + to_string(in[1]); };
  const Shape y = conv_detail::output(op, a.shape, in[1], a, shapes);
  if (in[0] != y)
    throw ShapeError(std::string(op) + ": dy has shape " + to_string(in[0]) + " but the convolution of " + shapes() +
                     " gives " + to_string(y));
  return a.shape;
}

/// conv2d_backward_weight: the data and dy; a.shape is the weight's shape, the result's.
inline Shape conv2d_backward_weight(OpCode, const char* op, const Shape* in, int, Attrs& a) {
  checked_numel(a.shape, op);
  const auto shapes = [&] { return "data " + to_string(in[0]) + ", weight " + to_string(a.shape); };
  const Shape y = conv_detail::output(op, in[0], a.shape, a, shapes);
  if (in[1] != y)
    throw ShapeError(std::string(op) + ": dy has shape " + to_string(in[1]) + " but the convolution of " + shapes() +
                     " gives " + to_string(y));
  return a.shape;
}

// Pooling, normalization, embedding.

/// Checks a pooling's input (N, C, H, W) and window; returns the pooled
/// shape (N, C, Ho, Wo) with Gluon's floor rounding. Padding is at most half
/// the window (as PyTorch), so no window lies wholly in the padding.
inline Shape pooled_shape(const char* op, const Shape& x, const Attrs& a) {
  if (x.size() != 4) throw ShapeError(std::string(op) + ": needs an input (N, C, H, W), got shape " + to_string(x));
  const std::string window =
      "kernel " + to_string(a.kernel) + ", stride " + to_string(a.stride) + ", padding " + to_string(a.padding);
  if (a.kernel.size() != 2 || a.stride.size() != 2 || a.padding.size() != 2)
    throw ShapeError(std::string(op) + ": kernel, stride and padding need 2 entries each, got " + window);
  for (int d = 0; d < 2; ++d) {
    if (a.kernel[d] < 1 || a.stride[d] < 1 || a.padding[d] < 0)
      throw ShapeError(std::string(op) + ": kernel and stride must be >= 1 and padding >= 0, got " + window);
    if (a.padding[d] > a.kernel[d] / 2)
      throw ShapeError(std::string(op) + ": padding must be at most half the kernel, got " + window);
    if (x[2 + d] < 1 || x[2 + d] < a.kernel[d] - 2 * a.padding[d])
      throw ShapeError(std::string(op) + ": the window does not fit input " + to_string(x) + " with " + window);
  }
  checked_numel(a.kernel, op);  // the window's size kh · kw is a divisor
  return Shape{x[0], x[1], kernels::PoolGeometry::pooled(x[2], a.kernel[0], a.stride[0], a.padding[0]),
               kernels::PoolGeometry::pooled(x[3], a.kernel[1], a.stride[1], a.padding[1])};
}

/// max_pool2d, avg_pool2d: x (N, C, H, W) → (N, C, Ho, Wo).
inline Shape pool2d(OpCode, const char* op, const Shape* in, int, Attrs& a) { return pooled_shape(op, in[0], a); }

/// max_pool2d_backward(x, dy): dy has the pooled shape of x; the result x's.
inline Shape max_pool2d_backward(OpCode, const char* op, const Shape* in, int, Attrs& a) {
  const Shape pooled = pooled_shape(op, in[0], a);
  if (in[1] != pooled)
    throw ShapeError(std::string(op) + ": dy must have the pooled shape " + to_string(pooled) + ", got " +
                     shapes_text(in, 2));
  return in[0];
}

/// avg_pool2d_backward(dy): a.shape is x's shape, dy its pooled shape.
inline Shape avg_pool2d_backward(OpCode, const char* op, const Shape* in, int, Attrs& a) {
  const Shape pooled = pooled_shape(op, a.shape, a);
  if (in[0] != pooled)
    throw ShapeError(std::string(op) + ": dy must have the pooled shape " + to_string(pooled) + " of " +
                     to_string(a.shape) + ", got " + to_string(in[0]));
  return a.shape;
}

/// global_avg_pool2d: (N, C, H, W) → (N, C, 1, 1), H and W at least 1.
inline Shape global_avg_pool2d(OpCode, const char* op, const Shape* in, int, Attrs&) {
  if (in[0].size() != 4 || in[0][2] < 1 || in[0][3] < 1)
    throw ShapeError(std::string(op) + ": needs an input (N, C, H, W) with H, W >= 1, got shape " +
                     to_string(in[0]));
  return Shape{in[0][0], in[0][1], 1, 1};
}

/// layer_norm(x, gamma, beta): gamma and beta of shape (x.shape[axis],).
inline Shape layer_norm(OpCode, const char* op, const Shape* in, int, Attrs& a) {
  if (in[0].empty()) throw ShapeError(std::string(op) + ": needs at least one dimension, got shape ()");
  a.axis = normalize_axis(a.axis, in[0].size(), op);
  const Shape param{in[0][static_cast<int>(a.axis)]};
  if (in[1] != param || in[2] != param)
    throw ShapeError(std::string(op) + ": gamma and beta must have shape " + to_string(param) + " (axis " +
                     std::to_string(a.axis) + " of x), got " + shapes_text(in, 3));
  if (!(a.epsilon >= 0))
    throw ShapeError(std::string(op) + ": epsilon must be >= 0, got " + std::to_string(a.epsilon));
  return in[0];
}

/// embedding(indices, weight): weight (input_dim, output_dim); the indices'
/// shape followed by output_dim.
inline Shape embedding(OpCode, const char* op, const Shape* in, int, Attrs&) {
  if (in[1].size() != 2)
    throw ShapeError(std::string(op) + ": weight must be (input_dim, output_dim), got " + shapes_text(in, 2));
  if (in[0].size() == Shape::kMaxDims)
    throw ShapeError(std::string(op) + ": indices of shape " + to_string(in[0]) + " already have " +
                     std::to_string(Shape::kMaxDims) + " dimensions");
  Shape out = in[0];
  out.push_back(in[1][1]);
  checked_numel(out, op);
  return out;
}

/// embedding_backward(indices, dy): dy is the indices' shape followed by
/// output_dim; the result (a.depth, output_dim).
inline Shape embedding_backward(OpCode, const char* op, const Shape* in, int, Attrs& a) {
  if (a.depth < 0) throw ShapeError(std::string(op) + ": depth must be >= 0, got " + std::to_string(a.depth));
  bool ok = in[1].size() == in[0].size() + 1;
  for (int d = 0; ok && d < in[0].size(); ++d) ok = in[0][d] == in[1][d];
  if (!ok)
    throw ShapeError(std::string(op) + ": dy must be the indices' shape plus one axis, got " + shapes_text(in, 2));
  const Shape out{a.depth, in[1].back()};
  checked_numel(out, op);
  return out;
}

/// batch_norm: x of rank >= 2; gamma, beta, mean and var of shape
/// (x.shape[axis],); epsilon > 0 and momentum in [0, 1].
inline Shape batch_norm(OpCode, const char* op, const Shape* in, int, Attrs& a) {
  if (in[0].size() < 2) throw ShapeError(std::string(op) + ": x needs at least 2 dimensions, got " + to_string(in[0]));
  a.axis = normalize_axis(a.axis, in[0].size(), op);
  const Shape channels{in[0][a.axis]};
  static const char* const names[] = {"gamma", "beta", "running_mean", "running_var"};
  for (int i = 1; i < 5; ++i)
    if (in[i] != channels)
      throw ShapeError(std::string(op) + ": " + names[i - 1] + " has shape " + to_string(in[i]) + ", x " +
                       to_string(in[0]) + " needs " + to_string(channels) + " (its axis " + std::to_string(a.axis) +
                       ")");
  if (!(a.epsilon > 0)) throw ShapeError(std::string(op) + ": epsilon must be positive, got " + std::to_string(a.epsilon));
  if (!(a.momentum >= 0 && a.momentum <= 1))
    throw ShapeError(std::string(op) + ": momentum must be in [0, 1], got " + std::to_string(a.momentum));
  return in[0];
}

/// dropout, dropout_mask: the input's shape; rate in [0, 1).
inline Shape dropout(OpCode, const char* op, const Shape* in, int, Attrs& a) {
  if (!(a.rate >= 0 && a.rate < 1))
    throw ShapeError(std::string(op) + ": rate must be in [0, 1), got " + std::to_string(a.rate));
  return in[0];
}

}  // namespace hybrid::shape_rules
