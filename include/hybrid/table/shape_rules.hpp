#pragma once
// Shape inference, one rule per kind of op. Rules run at trace time, at
// compile time and when an imported graph meets a new input shape; each
// throws ShapeError naming the op and the shapes.
#include <limits>
#include <string>

#include "../kernels/layout.hpp"

namespace hybrid::shape_rules {

using Rule = Shape (*)(const char* op, const Shape* in, int n, const Attrs& a);

inline std::string shapes_text(const Shape* in, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += (i ? ", " : "") + to_string(in[i]);
  return s;
}

inline Shape none(const char*, const Shape*, int, const Attrs&) { return Shape{}; }

inline Shape broadcast(const char* op, const Shape* in, int n, const Attrs&) {
  Shape out = in[0];
  for (int i = 1; i < n; ++i) out = broadcast_shapes(out, in[i], op);
  return out;
}

inline Shape same(const char*, const Shape* in, int, const Attrs&) { return in[0]; }

inline Shape axis_preserving(const char* op, const Shape* in, int, const Attrs& a) {
  if (in[0].empty()) throw ShapeError(std::string(op) + ": needs at least one dimension, got shape ()");
  normalize_axis(a.axis, in[0].size(), op);
  return in[0];
}

inline Shape matmul(const char* op, const Shape* in, int, const Attrs&) {
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

inline Shape fully_connected(const char* op, const Shape* in, int n, const Attrs& a) {
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

inline Shape reshape(const char* op, const Shape* in, int, const Attrs& a) {
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

inline Shape transpose(const char* op, const Shape* in, int, const Attrs& a) {
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

inline Shape concat(const char* op, const Shape* in, int n, const Attrs& a) {
  if (n == 0) throw ShapeError(std::string(op) + ": needs at least one tensor");
  const int nd = in[0].size();
  const int axis = normalize_axis(a.axis, nd, op);
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

inline Shape slice(const char* op, const Shape* in, int, const Attrs& a) {
  if (in[0].empty()) throw ShapeError(std::string(op) + ": cannot slice a 0-d tensor");
  const int axis = normalize_axis(a.axis, in[0].size(), op);
  int64_t b, e;
  kernels::slice_bounds(a.begin, a.end, in[0][axis], b, e);
  Shape out = in[0];
  out[axis] = e - b;
  return out;
}

inline Shape reduce(const char* op, const Shape* in, int, const Attrs& a) {
  const bool is_max = std::string(op) == "max";
  if (a.axis == kAllAxes) {
    if (is_max && numel(in[0]) == 0)
      throw ShapeError(std::string(op) + ": reduction of an empty tensor of shape " + to_string(in[0]));
    Shape out;
    if (a.keepdims)
      for (int i = 0; i < in[0].size(); ++i) out.push_back(1);
    return out;
  }
  const int axis = normalize_axis(a.axis, in[0].size(), op);
  if (is_max && in[0][axis] == 0)
    throw ShapeError(std::string(op) + ": reduction over empty axis " + std::to_string(axis) +
                     " of shape " + to_string(in[0]));
  Shape out;
  for (int i = 0; i < in[0].size(); ++i) {
    if (i != axis) out.push_back(in[0][i]);
    else if (a.keepdims) out.push_back(1);
  }
  return out;
}

}  // namespace hybrid::shape_rules
