#pragma once
// Op mappers for elementwise ONNX ops (unary, binary, variadic, Where,
// Cast, Identity, Dropout) and the patterns recognized at a Mul or an Add
// (the exact-erf GELU, the decomposed layer norm). The table is in
// import_ops.hpp.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "import_node.hpp"

namespace hybrid::onnx::detail {

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
    if (x >= 0) r = c.b.op(OpCode::gelu, {c.b.node_value(x)});
  }
  if (op == OpCode::add && r.node >= 0) {
    int x, gamma, beta;
    double eps;
    if (match_layer_norm(c.b.g, r.node, x, gamma, beta, eps)) {
      Attrs a;
      a.axis = -1;
      a.epsilon = eps;
      r = c.b.op(OpCode::layer_norm, {c.b.node_value(x), c.b.node_value(gamma), c.b.node_value(beta)}, a);
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
    v.whole = v.whole || v.integer;  // integers stay integers in T: a cast back is exact
    v.integer = false;
    c.set(std::move(v));
    return;
  }
  if (is_integer_type(to)) {
    const bool boolean = to == ::onnx::TensorProto::BOOL;
    if (v.known()) {  // folded, also for a float initializer (only its value matters here)
      TensorT<double> a = v.c.clone(), b = v.c_alt.clone();
      for (auto* t : {&a, &b})
        for (int64_t i = 0; i < t->size(); ++i) {
          double& x = t->data()[i];
          x = boolean ? (x != 0 ? 1 : 0) : std::trunc(x);
        }
      return c.set(Value::constant(std::move(a), std::move(b), true));
    }
    if (v.integer || v.whole) {
      if (!boolean) {
        v.integer = true;
        v.whole = false;
        return c.set(std::move(v));
      }
      // x != 0 as 1 / 0
      const Value zero = scalar_const<T>(0);
      return c.set(c.b.op(OpCode::equal, {c.b.op(OpCode::equal, {v, zero}), zero}));
    }
    throw NodeError("Cast of a float tensor computed at run time to " + elem_type_name(to) +
                    " is not supported (hybrid computes in one float type, and truncating it has no op)");
  }
  throw NodeError("Cast to " + elem_type_name(to) + " is not supported");
}

/// Min / Max: any number of inputs, NumPy broadcasting.
template <class T>
void map_variadic(NodeContext<T>& c, OpCode op) {
  Value r = c.input(0);
  for (size_t i = 1; i < c.inputs(); ++i) r = c.b.op(op, {r, c.input(i)});
  c.set(std::move(r));
}

/// Not of a bool: x == 0, as 1 / 0.
template <class T>
void map_not(NodeContext<T>& c) {
  c.set(c.b.op(OpCode::equal, {c.input(0), scalar_const<T>(0)}));
}

/// Clip(x, min, max), the bounds optional inputs (opset 11 on). Known
/// bounds give one clip; bounds computed at run time give ONNX's own
/// definition, Min(max, Max(x, min)).
template <class T>
void map_clip(NodeContext<T>& c) {
  const Value& x = c.input(0);
  const bool run_time = (c.has(1) && !c.input(1).known()) || (c.has(2) && !c.input(2).known());
  if (run_time) {
    for (size_t i : {size_t{1}, size_t{2}})
      if (c.has(i) && c.b.rank(c.input(i)) != 0 && c.b.shape(c.input(i)) != Shape{1})
        throw NodeError(std::string(i == 1 ? "min" : "max") + " must be a scalar; it has the shape " +
                        to_string(c.b.shape(c.input(i))));
    Value r = x;
    if (c.has(1)) r = c.b.op(OpCode::maximum, {r, c.input(1)});
    if (c.has(2)) r = c.b.op(OpCode::minimum, {r, c.input(2)});
    return c.set(std::move(r));
  }
  // The defaults are the type's lowest and largest values, not infinities.
  const double lowest = x.integer ? -9.2233720368547758e18 : static_cast<double>(std::numeric_limits<T>::lowest());
  const double largest = x.integer ? 9.2233720368547758e18 : static_cast<double>(std::numeric_limits<T>::max());
  auto bound = [&](size_t i, const char* what, double fallback) {
    if (!c.has(i)) return fallback;
    const auto v = c.known(i, what);
    if (v.size() != 1) throw NodeError(std::string(what) + " must be a scalar; it holds " + std::to_string(v.size()) + " values");
    if (std::isnan(v[0])) throw NodeError(std::string(what) + " is NaN");
    return v[0];
  };
  Attrs a;
  a.a_max = bound(2, "max", largest);
  // min > max sets everything to max (ONNX: Min(max, Max(x, min))).
  a.a_min = std::min(bound(1, "min", lowest), a.a_max);
  c.set(c.b.op(OpCode::clip, {x}, a));
}

/// Reciprocal: rsqrt where it takes a Sqrt (as hybrid exports rsqrt), else 1 / x.
template <class T>
void map_reciprocal(NodeContext<T>& c) {
  const Value& x = c.input(0);
  if (x.node >= 0) {
    const auto& n = c.b.g.nodes[static_cast<size_t>(x.node)];
    if (n.op == OpCode::sqrt) return c.set(c.b.op(OpCode::rsqrt, {c.b.node_value(n.inputs[0])}));
  }
  c.set(c.b.op(OpCode::div, {scalar_const<T>(1), x}));
}

template <class T>
void map_where(NodeContext<T>& c) {
  c.set(c.b.op(OpCode::where, {c.input(0), c.input(1), c.input(2)}));
}

}  // namespace hybrid::onnx::detail
