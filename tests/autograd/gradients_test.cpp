// The gradient column: every rule against central finite differences in
// double, on random shapes with broadcasting, size-1 and 0-size dims; the
// float rules against the double ones; the needs mask; output_only rules;
// the conventions at kinks; and each rule run on traced symbols, compiled
// with every pass, against the same rule run eagerly.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>
#include <hybrid/exec/executable.hpp>
#include <hybrid/passes/pipeline.hpp>

#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "../reference.hpp"

using hybrid::Attrs;
using hybrid::OpCode;
using hybrid::Shape;
using hybrid::TensorT;
using ref::Array;
using ref::Dims;
namespace ag = hybrid::autograd;

namespace {

// ---------------------------------------------------------------------------
// Cases: an op, its inputs (values in double) and attributes.

struct Case {
  std::string name;
  OpCode op;
  std::vector<Array> in;
  Attrs attrs;
  std::vector<bool> diff;  // per input: false for indices and conditions (no gradient)
};

Case make(OpCode op, std::vector<Array> in, Attrs at = {}, std::vector<bool> diff = {}) {
  std::string name = hybrid::op_def(op).name;
  for (const Array& a : in) name += " " + ref::text(a.shape);
  if (diff.empty()) diff.assign(in.size(), true);
  return Case{name, op, std::move(in), std::move(at), std::move(diff)};
}

/// Uniform values in [lo, hi], each at least `gap` away from every kink.
Array values(ref::Rng& r, const Dims& d, double lo, double hi, const std::vector<double>& kinks = {},
             double gap = 0.01) {
  Array a{ref::Values(static_cast<size_t>(ref::count(d))), d};
  for (double& v : a.v) {
    bool near = true;
    while (near) {
      v = r.uniform(lo, hi);
      near = false;
      for (double k : kinks) near = near || std::abs(v - k) < gap;
    }
  }
  return a;
}

/// Uniform values in [lo, hi], any two at least `gap` apart (no ties for max).
Array distinct_values(ref::Rng& r, const Dims& d, double lo, double hi, double gap = 0.01) {
  Array a{ref::Values(static_cast<size_t>(ref::count(d))), d};
  for (size_t i = 0; i < a.v.size(); ++i) {
    bool near = true;
    while (near) {
      a.v[i] = r.uniform(lo, hi);
      near = false;
      for (size_t j = 0; j < i; ++j) near = near || std::abs(a.v[i] - a.v[j]) < gap;
    }
  }
  return a;
}

/// Values of magnitude in [lo, hi], either sign.
Array signed_values(ref::Rng& r, const Dims& d, double lo, double hi) {
  Array a = values(r, d, lo, hi);
  for (double& v : a.v)
    if (r.chance(50)) v = -v;
  return a;
}

/// Integers in [lo, hi] (indices, conditions).
Array integers(ref::Rng& r, const Dims& d, int lo, int hi) {
  return Array{ref::random_integers(r, ref::count(d), lo, hi), d};
}

Attrs axis_attrs(int64_t axis, bool keepdims = false) {
  Attrs a;
  a.axis = axis;
  a.keepdims = keepdims;
  return a;
}

Attrs axes_attrs(std::vector<int64_t> axes, bool keepdims) {
  Attrs a;
  a.axes = Shape(axes);
  a.keepdims = keepdims;
  return a;
}

std::vector<Dims> unary_shapes(ref::Rng& r) {
  std::vector<Dims> shapes = {{}, {0}, {1}, {4}, {2, 3}, {2, 1, 3}, {2, 0, 3}, {1, 1}};
  for (int i = 0; i < 4; ++i) shapes.push_back(ref::random_dims(r, 0, 3, 4));
  return shapes;
}

/// Broadcasting pairs: fixed edge cases, then random ones.
std::vector<std::pair<Dims, Dims>> binary_shapes(ref::Rng& r) {
  std::vector<std::pair<Dims, Dims>> pairs = {
      {{2, 3}, {2, 3}}, {{2, 3}, {3}},    {{3}, {2, 3}},       {{2, 1}, {1, 3}}, {{}, {2, 3}},
      {{2, 3}, {}},     {{}, {}},         {{1}, {3}},          {{0}, {1}},       {{2, 0, 3}, {1, 3}},
      {{3, 1, 2}, {4, 1}}, {{1, 1, 1}, {2}}, {{2, 1, 3}, {2, 4, 1}},
  };
  for (int i = 0; i < 6; ++i) {
    const Dims out = ref::random_dims(r, 0, 3, 4);
    pairs.emplace_back(ref::broadcastable_to(r, out), ref::broadcastable_to(r, out));
  }
  return pairs;
}

void unary_cases(ref::Rng& r, std::vector<Case>& cases) {
  struct U {
    OpCode op;
    double lo, hi;
    std::vector<double> kinks;
    Attrs at;
  };
  auto pow_at = [](double p) {
    Attrs a;
    a.scalar = p;
    return a;
  };
  auto leaky_at = [](double alpha) {
    Attrs a;
    a.alpha = alpha;
    return a;
  };
  auto clip_at = [](double lo, double hi) {
    Attrs a;
    a.a_min = lo;
    a.a_max = hi;
    return a;
  };
  const std::vector<U> ops = {
      {OpCode::neg, -2, 2, {}, {}},
      {OpCode::exp, -2, 2, {}, {}},
      {OpCode::log, 0.2, 3, {}, {}},
      {OpCode::sqrt, 0.2, 3, {}, {}},
      {OpCode::abs, -2, 2, {0}, {}},
      {OpCode::tanh, -2, 2, {}, {}},
      {OpCode::sigmoid, -3, 3, {}, {}},
      {OpCode::relu, -2, 2, {0}, {}},
      {OpCode::softrelu, -3, 3, {}, {}},
      {OpCode::pow_scalar, -2, 2, {}, pow_at(2)},
      {OpCode::pow_scalar, -2, 2, {}, pow_at(3)},
      {OpCode::pow_scalar, -2, 2, {}, pow_at(1)},
      {OpCode::pow_scalar, -2, 2, {}, pow_at(0)},
      {OpCode::pow_scalar, 0.2, 3, {}, pow_at(0.5)},
      {OpCode::pow_scalar, 0.2, 3, {}, pow_at(-1.5)},
      {OpCode::pow_scalar, 0.2, 3, {}, pow_at(1.7)},
      {OpCode::square, -2, 2, {}, {}},
      {OpCode::rsqrt, 0.2, 3, {}, {}},
      {OpCode::log1p, -0.8, 3, {}, {}},
      {OpCode::gelu, -3, 3, {}, {}},
      {OpCode::silu, -3, 3, {}, {}},
      {OpCode::leaky_relu, -2, 2, {0}, leaky_at(0.2)},
      {OpCode::leaky_relu, -2, 2, {0}, leaky_at(-0.5)},
      {OpCode::clip, -2, 2, {-0.5, 1.25}, clip_at(-0.5, 1.25)},
      {OpCode::clip, -2, 2, {0.75}, clip_at(0.75, 0.75)},
      {OpCode::erf, -2.5, 2.5, {}, {}},
  };
  for (const U& u : ops)
    for (const Dims& d : unary_shapes(r)) cases.push_back(make(u.op, {values(r, d, u.lo, u.hi, u.kinks)}, u.at));
}

void binary_cases(ref::Rng& r, std::vector<Case>& cases) {
  for (OpCode op : {OpCode::add, OpCode::sub, OpCode::mul, OpCode::div, OpCode::maximum, OpCode::minimum})
    for (const auto& [da, db] : binary_shapes(r)) {
      const Array b = op == OpCode::div ? signed_values(r, db, 0.5, 2) : values(r, db, -2, 2);
      cases.push_back(make(op, {values(r, da, -2, 2), b}));
    }
  // where(cond, a, b): three shapes broadcast together; cond takes no gradient.
  const std::vector<std::vector<Dims>> triples = {
      {{2, 3}, {2, 3}, {2, 3}}, {{2, 3}, {3}, {2, 1}}, {{}, {2, 3}, {}}, {{2, 1}, {1, 3}, {}}, {{0, 2}, {2}, {1}},
  };
  for (const auto& t : triples)
    cases.push_back(make(OpCode::where, {integers(r, t[0], -1, 1), values(r, t[1], -2, 2), values(r, t[2], -2, 2)},
                         {}, {false, true, true}));
}

void linalg_cases(ref::Rng& r, std::vector<Case>& cases) {
  const std::vector<std::pair<Dims, Dims>> mm = {
      {{2, 3}, {3, 4}},       {{2, 2, 3}, {3, 4}}, {{2, 3}, {2, 3, 2}},    {{2, 1, 2, 3}, {3, 3, 2}},
      {{1, 2, 3}, {4, 3, 2}}, {{0, 3}, {3, 2}},    {{2, 0}, {0, 3}},       {{2, 3}, {3, 0}},
      {{1, 1}, {1, 1}},
  };
  for (const auto& [a, b] : mm) cases.push_back(make(OpCode::matmul, {values(r, a, -1, 1), values(r, b, -1, 1)}));

  // fully_connected: flatten or not, bias or not, every epilogue activation.
  struct Fc {
    Dims x;
    int64_t units;
    bool flatten, bias;
  };
  const std::vector<Fc> shapes = {
      {{3, 4}, 2, true, true},     {{2, 2, 3}, 3, true, true},  {{2, 2, 3}, 2, false, true},
      {{3}, 2, false, true},       {{3, 4}, 2, true, false},    {{0, 4}, 3, true, true},
      {{2, 0}, 2, true, true},     {{1, 1}, 1, true, true},
  };
  const std::vector<int64_t> activations = {-1,
                                            static_cast<int64_t>(OpCode::relu),
                                            static_cast<int64_t>(OpCode::tanh),
                                            static_cast<int64_t>(OpCode::sigmoid),
                                            static_cast<int64_t>(OpCode::softrelu),
                                            static_cast<int64_t>(OpCode::gelu),
                                            static_cast<int64_t>(OpCode::silu)};
  for (const Fc& f : shapes)
    for (int64_t act : activations) {
      const int64_t features = f.flatten ? ref::count(Dims(f.x.begin() + 1, f.x.end())) : f.x.back();
      Attrs at;
      at.flatten = f.flatten;
      at.no_bias = !f.bias;
      at.activation = act;
      // relu: the pre-activation kept away from 0, redrawing until it is.
      for (int attempt = 0;; ++attempt) {
        std::vector<Array> in = {values(r, f.x, -1, 1), values(r, {f.units, features}, -1, 1)};
        if (f.bias) in.push_back(values(r, {f.units}, -1, 1));
        bool ok = true;
        if (act == static_cast<int64_t>(OpCode::relu)) {
          Attrs plain = at;
          plain.activation = -1;
          std::vector<TensorT<double>> t;
          for (const Array& a : in) t.push_back(ref::tensor<double>(a));
          std::vector<const TensorT<double>*> p;
          for (const auto& x : t) p.push_back(&x);
          for (double z : hybrid::ops::apply<double>(OpCode::fully_connected, p.data(), static_cast<int>(p.size()),
                                                     plain)
                              .to_vector())
            ok = ok && std::abs(z) > 0.01;
        }
        if (ok || attempt == 100) {
          cases.push_back(make(OpCode::fully_connected, in, at));
          break;
        }
      }
    }
}

/// conv2d: strides, padding, dilation, groups (depthwise too), the pointwise
/// path, bias or not, an empty batch, and every epilogue activation.
void conv_cases(ref::Rng& r, std::vector<Case>& cases) {
  struct Cv {
    Dims x, w;
    Shape stride, padding, dilation;
    int64_t groups;
    bool bias;
  };
  const std::vector<Cv> shapes = {
      {{2, 2, 5, 4}, {3, 2, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 1, true},
      {{1, 4, 6, 5}, {4, 2, 3, 2}, {2, 1}, {0, 1}, {1, 2}, 2, true},
      {{2, 3, 5, 5}, {3, 1, 3, 3}, {2, 2}, {2, 2}, {2, 2}, 3, false},  // depthwise
      {{2, 4, 3, 3}, {2, 4, 1, 1}, {1, 1}, {0, 0}, {1, 1}, 1, true},   // pointwise: no unfolding
      {{0, 2, 3, 3}, {2, 2, 2, 2}, {1, 1}, {0, 0}, {1, 1}, 1, true},   // empty batch
  };
  const std::vector<int64_t> activations = {-1,
                                            static_cast<int64_t>(OpCode::relu),
                                            static_cast<int64_t>(OpCode::tanh),
                                            static_cast<int64_t>(OpCode::sigmoid),
                                            static_cast<int64_t>(OpCode::softrelu),
                                            static_cast<int64_t>(OpCode::gelu),
                                            static_cast<int64_t>(OpCode::silu)};
  for (size_t s = 0; s < shapes.size(); ++s)
    for (int64_t act : activations) {
      if (s > 0 && act != -1 && act != static_cast<int64_t>(OpCode::tanh)) continue;
      const Cv& c = shapes[s];
      Attrs at;
      at.stride = c.stride;
      at.padding = c.padding;
      at.dilation = c.dilation;
      at.groups = c.groups;
      at.no_bias = !c.bias;
      at.activation = act;
      // relu: the pre-activation kept away from 0, redrawing until it is.
      for (int attempt = 0;; ++attempt) {
        std::vector<Array> in = {values(r, c.x, -1, 1), values(r, c.w, -1, 1)};
        if (c.bias) in.push_back(values(r, {c.w[0]}, -1, 1));
        bool ok = true;
        if (act == static_cast<int64_t>(OpCode::relu)) {
          Attrs plain = at;
          plain.activation = -1;
          std::vector<TensorT<double>> t;
          for (const Array& a : in) t.push_back(ref::tensor<double>(a));
          std::vector<const TensorT<double>*> p;
          for (const auto& x : t) p.push_back(&x);
          for (double z : hybrid::ops::apply<double>(OpCode::conv2d, p.data(), static_cast<int>(p.size()), plain)
                              .to_vector())
            ok = ok && std::abs(z) > 0.01;
        }
        if (ok || attempt == 100) {
          cases.push_back(make(OpCode::conv2d, in, at));
          break;
        }
      }
    }
}

void layout_cases(ref::Rng& r, std::vector<Case>& cases) {
  auto shape_at = [](Dims s) {
    Attrs a;
    a.shape = Shape(s);
    return a;
  };
  cases.push_back(make(OpCode::reshape, {values(r, {2, 3}, -1, 1)}, shape_at({3, -1})));
  cases.push_back(make(OpCode::reshape, {values(r, {2, 3, 1}, -1, 1)}, shape_at({6})));
  cases.push_back(make(OpCode::reshape, {values(r, {}, -1, 1)}, shape_at({1, 1})));
  cases.push_back(make(OpCode::reshape, {values(r, {0, 3}, -1, 1)}, shape_at({3, 0})));

  auto perm_at = [](Dims p) {
    Attrs a;
    a.perm = Shape(p);
    return a;
  };
  cases.push_back(make(OpCode::transpose, {values(r, {2, 3}, -1, 1)}));
  cases.push_back(make(OpCode::transpose, {values(r, {2, 3, 4}, -1, 1)}, perm_at({1, 2, 0})));
  cases.push_back(make(OpCode::transpose, {values(r, {2, 1, 3, 2}, -1, 1)}, perm_at({3, 0, 2, 1})));
  cases.push_back(make(OpCode::transpose, {values(r, {0, 3}, -1, 1)}));

  cases.push_back(make(OpCode::concat, {values(r, {2, 3}, -1, 1), values(r, {2, 1}, -1, 1)}, axis_attrs(1)));
  cases.push_back(make(OpCode::concat,
                       {values(r, {1, 2}, -1, 1), values(r, {0, 2}, -1, 1), values(r, {3, 2}, -1, 1)}, axis_attrs(0)));
  cases.push_back(make(OpCode::concat, {values(r, {2, 2, 2}, -1, 1), values(r, {2, 2, 3}, -1, 1)}, axis_attrs(-1)));
  cases.push_back(make(OpCode::concat, {values(r, {4}, -1, 1)}, axis_attrs(0)));

  auto slice_at = [](int64_t axis, int64_t b, int64_t e) {
    Attrs a;
    a.axis = axis;
    a.begin = b;
    a.end = e;
    return a;
  };
  cases.push_back(make(OpCode::slice, {values(r, {5, 3}, -1, 1)}, slice_at(0, 1, 3)));
  cases.push_back(make(OpCode::slice, {values(r, {2, 5}, -1, 1)}, slice_at(-1, -3, 100)));
  cases.push_back(make(OpCode::slice, {values(r, {2, 3, 4}, -1, 1)}, slice_at(1, 2, 2)));  // empty
  cases.push_back(make(OpCode::slice, {values(r, {4}, -1, 1)}, slice_at(0, 0, 4)));

  cases.push_back(make(OpCode::stack, {values(r, {2, 3}, -1, 1), values(r, {2, 3}, -1, 1)}, axis_attrs(0)));
  cases.push_back(make(OpCode::stack,
                       {values(r, {2, 3}, -1, 1), values(r, {2, 3}, -1, 1), values(r, {2, 3}, -1, 1)}, axis_attrs(-1)));
  cases.push_back(make(OpCode::stack, {values(r, {}, -1, 1), values(r, {}, -1, 1)}, axis_attrs(0)));
  cases.push_back(make(OpCode::stack, {values(r, {0, 2}, -1, 1)}, axis_attrs(1)));

  cases.push_back(make(OpCode::broadcast_to, {values(r, {3, 1}, -1, 1)}, shape_at({2, 3, 4})));
  cases.push_back(make(OpCode::broadcast_to, {values(r, {}, -1, 1)}, shape_at({2, 2})));
  cases.push_back(make(OpCode::broadcast_to, {values(r, {1}, -1, 1)}, shape_at({0})));
  cases.push_back(make(OpCode::broadcast_to, {values(r, {2, 3}, -1, 1)}, shape_at({2, 3})));

  auto pad_at = [](Dims before, Dims after) {
    Attrs a;
    a.pad_before = Shape(before);
    a.pad_after = Shape(after);
    a.constant_value = 0.5;
    return a;
  };
  cases.push_back(make(OpCode::pad, {values(r, {2, 3}, -1, 1)}, pad_at({1, 0}, {2, 1})));
  cases.push_back(make(OpCode::pad, {values(r, {3}, -1, 1)}, pad_at({0}, {0})));
  cases.push_back(make(OpCode::pad, {values(r, {0, 2}, -1, 1)}, pad_at({1, 1}, {0, 2})));
}

void indexing_cases(ref::Rng& r, std::vector<Case>& cases) {
  // take: repeated indices accumulate.
  cases.push_back(make(OpCode::take, {values(r, {4, 3}, -1, 1), Array{{1, 3, 1, 0}, {4}}}, axis_attrs(0),
                       {true, false}));
  cases.push_back(make(OpCode::take, {values(r, {2, 3, 2}, -1, 1), integers(r, {2, 2}, 0, 2)}, axis_attrs(1),
                       {true, false}));
  cases.push_back(make(OpCode::take, {values(r, {2, 3}, -1, 1), integers(r, {5}, 0, 2)}, axis_attrs(-1),
                       {true, false}));
  cases.push_back(make(OpCode::take, {values(r, {3, 2}, -1, 1), Array{{}, {0}}}, axis_attrs(0), {true, false}));
  cases.push_back(make(OpCode::take, {values(r, {3}, -1, 1), Array{{2}, {}}}, axis_attrs(0), {true, false}));

  cases.push_back(make(OpCode::pick, {values(r, {3, 4}, -1, 1), integers(r, {3}, 0, 3)}, axis_attrs(1),
                       {true, false}));
  cases.push_back(make(OpCode::pick, {values(r, {3, 4}, -1, 1), integers(r, {3, 1}, 0, 3)}, axis_attrs(-1, true),
                       {true, false}));
  cases.push_back(make(OpCode::pick, {values(r, {3, 2, 2}, -1, 1), integers(r, {2, 2}, 0, 2)}, axis_attrs(0),
                       {true, false}));
  cases.push_back(make(OpCode::pick, {values(r, {0, 3}, -1, 1), Array{{}, {0}}}, axis_attrs(1), {true, false}));
}

/// batch_norm with given statistics (its predict-mode meaning, the one its
/// kernel and rule compute), along axis 1 and the last axis; dropout
/// (the identity outside train mode).
void mode_dependent_cases(ref::Rng& r, std::vector<Case>& cases) {
  for (const auto& [x, axis] : std::vector<std::pair<Dims, int64_t>>{{{3, 2, 2, 2}, 1}, {{4, 3}, -1}, {{2, 3}, 0}}) {
    const int64_t c = x[static_cast<size_t>(axis < 0 ? axis + static_cast<int64_t>(x.size()) : axis)];
    Attrs at;
    at.axis = axis;
    at.epsilon = 1e-3;
    cases.push_back(make(OpCode::batch_norm, {values(r, x, -2, 2), values(r, {c}, 0.5, 2), values(r, {c}, -1, 1),
                                              values(r, {c}, -0.5, 0.5), values(r, {c}, 0.5, 2)},
                         at));
  }
  Attrs drop;
  drop.rate = 0.4;
  cases.push_back(make(OpCode::dropout, {values(r, {2, 3}, -2, 2)}, drop));
}

void reduction_cases(ref::Rng& r, std::vector<Case>& cases) {
  struct Red {
    Dims shape;
    std::vector<int64_t> axes;
    bool keepdims;
  };
  const std::vector<Red> reds = {
      {{2, 3}, {}, false},   {{2, 3}, {}, true},     {{2, 3, 4}, {1}, false}, {{2, 3, 4}, {-1}, true},
      {{2, 3, 4}, {0, 2}, false}, {{2, 3, 4}, {2, 0}, true}, {{}, {}, false},    {{3}, {0}, false},
      {{1, 3}, {0}, false},
  };
  for (OpCode op : {OpCode::sum, OpCode::mean, OpCode::max})
    for (const Red& d : reds)
      cases.push_back(make(op, {distinct_values(r, d.shape, -2, 2)}, axes_attrs(d.axes, d.keepdims)));
  // Empty inputs: sum and mean only (max of nothing has no value).
  for (OpCode op : {OpCode::sum, OpCode::mean}) {
    cases.push_back(make(op, {values(r, {2, 0}, -2, 2)}, axes_attrs({1}, false)));
    cases.push_back(make(op, {values(r, {0, 3}, -2, 2)}, axes_attrs({}, true)));
    cases.push_back(make(op, {values(r, {0, 3}, -2, 2)}, axes_attrs({1}, true)));
  }
  cases.push_back(make(OpCode::max, {values(r, {0, 3}, -2, 2)}, axes_attrs({1}, false)));

  for (OpCode op : {OpCode::softmax, OpCode::log_softmax}) {
    cases.push_back(make(op, {values(r, {3, 4}, -2, 2)}, axis_attrs(-1)));
    cases.push_back(make(op, {values(r, {3, 4}, -2, 2)}, axis_attrs(0)));
    cases.push_back(make(op, {values(r, {2, 3, 2}, -2, 2)}, axis_attrs(1)));
    cases.push_back(make(op, {values(r, {1}, -2, 2)}, axis_attrs(0)));
    cases.push_back(make(op, {values(r, {0, 3}, -2, 2)}, axis_attrs(1)));
  }
}

void nn_cases(ref::Rng& r, std::vector<Case>& cases) {
  auto pool_at = [](Dims kernel, Dims stride, Dims padding, bool count_include_pad = true) {
    Attrs a;
    a.kernel = Shape(kernel);
    a.stride = Shape(stride);
    a.padding = Shape(padding);
    a.count_include_pad = count_include_pad;
    return a;
  };
  // max_pool2d: distinct values, so no window has a tie the finite difference would straddle.
  cases.push_back(make(OpCode::max_pool2d, {distinct_values(r, {2, 2, 4, 5}, -2, 2)}, pool_at({2, 2}, {2, 2}, {0, 0})));
  cases.push_back(make(OpCode::max_pool2d, {distinct_values(r, {1, 2, 5, 4}, -2, 2)}, pool_at({3, 2}, {1, 2}, {1, 1})));
  cases.push_back(make(OpCode::max_pool2d, {distinct_values(r, {1, 1, 3, 3}, -2, 2)}, pool_at({1, 1}, {2, 1}, {0, 0})));
  cases.push_back(make(OpCode::max_pool2d, {values(r, {0, 2, 3, 3}, -2, 2)}, pool_at({2, 2}, {1, 1}, {0, 0})));
  for (bool include : {true, false}) {
    cases.push_back(
        make(OpCode::avg_pool2d, {values(r, {2, 2, 4, 5}, -2, 2)}, pool_at({2, 2}, {2, 2}, {0, 0}, include)));
    cases.push_back(
        make(OpCode::avg_pool2d, {values(r, {1, 2, 5, 4}, -2, 2)}, pool_at({3, 2}, {2, 1}, {1, 1}, include)));
    cases.push_back(
        make(OpCode::avg_pool2d, {values(r, {3, 1, 3, 3}, -2, 2)}, pool_at({3, 3}, {3, 3}, {1, 0}, include)));
  }
  for (const Dims& d : std::vector<Dims>{{2, 3, 4, 5}, {1, 1, 1, 1}, {0, 2, 2, 2}, {2, 1, 3, 1}})
    cases.push_back(make(OpCode::global_avg_pool2d, {values(r, d, -2, 2)}));

  // layer_norm(x, gamma, beta) along each axis.
  struct Ln {
    Dims x;
    int64_t axis;
    double epsilon;
  };
  for (const Ln& l : std::vector<Ln>{{{3, 4}, -1, 1e-5}, {{3, 4}, 0, 1e-5}, {{2, 3, 4}, 1, 0.1},
                                     {{5}, 0, 1e-5},      {{2, 1}, 1, 1e-5}, {{0, 3}, 1, 1e-5}}) {
    Attrs a = axis_attrs(l.axis);
    a.epsilon = l.epsilon;
    const int64_t c = l.x[static_cast<size_t>(l.axis < 0 ? l.axis + static_cast<int64_t>(l.x.size()) : l.axis)];
    cases.push_back(make(OpCode::layer_norm, {values(r, l.x, -2, 2), values(r, {c}, 0.5, 2), values(r, {c}, -1, 1)},
                         a));
  }

  // embedding(indices, weight): repeated indices accumulate; indices take none.
  cases.push_back(make(OpCode::embedding, {Array{{1, 3, 1, 0}, {4}}, values(r, {4, 3}, -1, 1)}, {}, {false, true}));
  cases.push_back(make(OpCode::embedding, {integers(r, {2, 3}, 0, 4), values(r, {5, 2}, -1, 1)}, {}, {false, true}));
  cases.push_back(make(OpCode::embedding, {Array{{2}, {}}, values(r, {3, 4}, -1, 1)}, {}, {false, true}));
  cases.push_back(make(OpCode::embedding, {Array{{}, {0}}, values(r, {3, 2}, -1, 1)}, {}, {false, true}));
}

const std::vector<Case>& all_cases() {
  static const std::vector<Case> cases = [] {
    ref::Rng r(2024);
    std::vector<Case> c;
    unary_cases(r, c);
    binary_cases(r, c);
    linalg_cases(r, c);
    conv_cases(r, c);
    layout_cases(r, c);
    indexing_cases(r, c);
    reduction_cases(r, c);
    nn_cases(r, c);
    mode_dependent_cases(r, c);
    return c;
  }();
  return cases;
}

// ---------------------------------------------------------------------------
// Running ops and rules.

template <class T>
std::vector<TensorT<T>> tensors(const Case& c) {
  std::vector<TensorT<T>> t;
  for (const Array& a : c.in) t.push_back(ref::tensor<T>(a));
  return t;
}

template <class T>
std::vector<const TensorT<T>*> pointers(const std::vector<TensorT<T>>& t) {
  std::vector<const TensorT<T>*> p;
  for (const auto& x : t) p.push_back(&x);
  return p;
}

template <class T>
TensorT<T> run_op(const Case& c, const std::vector<TensorT<T>>& x) {
  const auto p = pointers(x);
  return hybrid::ops::apply<T>(c.op, p.data(), static_cast<int>(p.size()), c.attrs);
}

template <class T>
std::vector<TensorT<T>> run_rule(const Case& c, const std::vector<TensorT<T>>& x, const TensorT<T>& y,
                                 const TensorT<T>& dy, const bool* needs = nullptr) {
  const auto p = pointers(x);
  std::vector<TensorT<T>> gi(7);  // the rule resizes it
  ag::grad_rule<T>(ag::grad_def(c.op))(ag::GradArgs<T>{p.data(), static_cast<int>(p.size()), y, dy, c.attrs, needs},
                                      gi);
  return gi;
}

/// A seeded random output gradient of y's shape.
template <class T>
TensorT<T> random_grad(const Case& c, const TensorT<T>& y) {
  ref::Rng r(std::hash<std::string>{}(c.name));
  return ref::tensor<T>(ref::random_array<T>(r, ref::dims(y.shape()), -1, 1));
}

double dot(const TensorT<double>& y, const TensorT<double>& w) {
  double s = 0;
  const std::vector<double> a = y.to_vector(), b = w.to_vector();
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

/// The gradient of Σ op(x) · w with respect to input i by central differences.
std::vector<double> finite_difference(const Case& c, const std::vector<TensorT<double>>& x, int i,
                                      const TensorT<double>& w) {
  const double eps = 1e-6;
  std::vector<double> fd(static_cast<size_t>(x[i].size()));
  for (int64_t j = 0; j < x[i].size(); ++j) {
    std::vector<TensorT<double>> xp = x, xm = x;
    xp[i] = x[i].clone();
    xm[i] = x[i].clone();
    const double v = x[i].data()[j];
    xp[i].data()[j] = v + eps;
    xm[i].data()[j] = v - eps;
    const double h = xp[i].data()[j] - xm[i].data()[j];  // the step as represented
    fd[j] = (dot(run_op(c, xp), w) - dot(run_op(c, xm), w)) / h;
  }
  return fd;
}

std::set<OpCode>& checked_ops() {
  static std::set<OpCode> ops;
  return ops;
}

void check_against_finite_differences(const Case& c) {
  const std::vector<TensorT<double>> x = tensors<double>(c);
  const TensorT<double> y = run_op(c, x);
  const TensorT<double> dy = random_grad(c, y);
  std::vector<std::vector<double>> before;
  for (const auto& t : x) before.push_back(t.to_vector());
  const std::vector<double> dy_before = dy.to_vector(), y_before = y.to_vector();

  const std::vector<TensorT<double>> gi = run_rule(c, x, y, dy);
  REQUIRE(gi.size() == c.in.size());
  // The rule changed none of its arguments (compared bit for bit: a mean over nothing is NaN).
  auto same = [](const std::vector<double>& a, const std::vector<double>& b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), sizeof(double) * a.size()) == 0);
  };
  for (size_t i = 0; i < x.size(); ++i) CHECK(same(x[i].to_vector(), before[i]));
  CHECK(same(dy.to_vector(), dy_before));
  CHECK(same(y.to_vector(), y_before));

  for (int i = 0; i < static_cast<int>(x.size()); ++i) {
    INFO("input " << i);
    if (!c.diff[i]) {
      CHECK_FALSE(gi[i].defined());  // indices and conditions take no gradient
      continue;
    }
    const std::vector<double> fd = finite_difference(c, x, i, dy);
    std::vector<double> got(fd.size(), 0.0);  // undefined: zero
    if (gi[i].defined()) {
      REQUIRE(gi[i].shape() == x[i].shape());
      got = gi[i].to_vector();
    }
    double scale = 1;  // Σ |y·w|: the rounding of the loss grows with it
    for (size_t k = 0; k < y_before.size(); ++k) scale += std::abs(y_before[k] * dy_before[k]);
    size_t bad = 0, first = 0;
    for (size_t k = 0; k < fd.size(); ++k)
      if (!(std::abs(got[k] - fd[k]) <= 1e-6 * std::abs(fd[k]) + 1e-9 * scale) && bad++ == 0) first = k;
    std::string report;
    if (bad)
      report = std::to_string(bad) + " of " + std::to_string(fd.size()) + " differ; first at " +
               std::to_string(first) + ": rule " + std::to_string(got[first]) + ", finite difference " +
               std::to_string(fd[first]);
    INFO(report);
    CHECK(bad == 0);
  }
  checked_ops().insert(c.op);
}

}  // namespace

TEST_CASE("gradient rules match central finite differences", "[autograd]") {
  for (const Case& c : all_cases()) {
    INFO(c.name);
    check_against_finite_differences(c);
  }
  // Every op with a rule was checked above; no op without one was.
  for (int i = 0; i < hybrid::kOpCount; ++i) {
    const auto op = static_cast<OpCode>(i);
    INFO(hybrid::op_def(op).name);
    CHECK((checked_ops().count(op) == 1) == (ag::grad_def(op).kind == ag::GradKind::rule));
  }
}

TEST_CASE("gradient column: every op has a rule or a reason for none", "[autograd]") {
  using ag::GradKind;
  int rules = 0;
  for (int i = 0; i < hybrid::kOpCount; ++i) {
    const auto op = static_cast<OpCode>(i);
    const ag::GradDef& d = ag::grad_def(op);
    INFO(hybrid::op_def(op).name);
    CHECK(d.code == op);
    if (d.kind == GradKind::rule) {
      ++rules;
      CHECK(d.rule_f32 != nullptr);
      CHECK(d.rule_f64 != nullptr);
      CHECK(ag::grad_rule<float>(d) == d.rule_f32);
      CHECK(ag::grad_rule<double>(d) == d.rule_f64);
    } else {
      CHECK(d.rule_f32 == nullptr);
      CHECK(d.rule_f64 == nullptr);
      CHECK_FALSE(d.output_only);
    }
    // The reasons follow the table's traits.
    if (hybrid::has_trait(op, hybrid::kSource)) CHECK(d.kind == GradKind::not_differentiable);
    // Internal ops made after differentiation have no rule; dropout_mask, made
    // by the train-mode lowering before it, is piecewise constant.
    if (hybrid::has_trait(op, hybrid::kInternal) && op != OpCode::dropout_mask) CHECK(d.kind == GradKind::internal);
    if (d.kind == GradKind::not_differentiable) CHECK(hybrid::has_trait(op, hybrid::kSource));
    if (d.kind == GradKind::internal) CHECK(hybrid::has_trait(op, hybrid::kInternal));
  }
  for (OpCode op : {OpCode::greater, OpCode::less, OpCode::equal, OpCode::one_hot, OpCode::argmax, OpCode::dropout_mask})
    CHECK(ag::grad_def(op).kind == GradKind::zero);
  CHECK(rules == hybrid::kOpCount - 14);  // 2 sources, 6 piecewise constant, 6 internal
}

TEST_CASE("float rules agree with the double rules", "[autograd]") {
  for (const Case& c : all_cases()) {
    INFO(c.name);
    const auto xd = tensors<double>(c);
    const auto xf = tensors<float>(c);
    const TensorT<double> yd = run_op(c, xd);
    const TensorT<float> yf = run_op(c, xf);
    const TensorT<double> dyd = random_grad(c, yd);
    const TensorT<float> dyf = ref::tensor<float>(ref::array(dyd));
    const auto gd = run_rule(c, xd, yd, dyd);
    const auto gf = run_rule(c, xf, yf, dyf);
    REQUIRE(gf.size() == gd.size());
    for (size_t i = 0; i < gd.size(); ++i) {
      INFO("input " << i);
      REQUIRE(gf[i].defined() == gd[i].defined());
      if (gd[i].defined()) ref::check_elements(gf[i], ref::array(gd[i]), [](double g, double w) {
        return ref::close(g, w, 2e-4, 2e-5);
      });
    }
  }
}

TEST_CASE("a rule computes only the gradients its needs mask asks for", "[autograd]") {
  for (const Case& c : all_cases()) {
    INFO(c.name);
    const auto x = tensors<double>(c);
    const TensorT<double> y = run_op(c, x);
    const TensorT<double> dy = random_grad(c, y);
    const auto all = run_rule(c, x, y, dy);
    const size_t n = c.in.size();
    std::unique_ptr<bool[]> needs(new bool[n]);
    for (size_t want = 0; want <= n; ++want) {  // want == n: none
      INFO("only input " << want);
      for (size_t i = 0; i < n; ++i) needs[i] = i == want;
      const auto some = run_rule(c, x, y, dy, needs.get());
      REQUIRE(some.size() == n);
      for (size_t i = 0; i < n; ++i) {
        if (i != want) {
          CHECK_FALSE(some[i].defined());
        } else {
          REQUIRE(some[i].defined() == all[i].defined());
          if (all[i].defined()) ref::check_equal(some[i], ref::array(all[i]));
        }
      }
    }
  }
}

TEST_CASE("output_only rules never read their inputs", "[autograd]") {
  int seen = 0;
  for (const Case& c : all_cases()) {
    if (!ag::grad_def(c.op).output_only) continue;
    ++seen;
    INFO(c.name);
    const auto x = tensors<double>(c);
    const TensorT<double> y = run_op(c, x);
    const TensorT<double> dy = random_grad(c, y);
    const auto with = run_rule(c, x, y, dy);
    const std::vector<TensorT<double>> undefined(x.size());
    const auto without = run_rule(c, undefined, y, dy);
    REQUIRE(without.size() == with.size());
    for (size_t i = 0; i < with.size(); ++i) {
      REQUIRE(without[i].defined() == with[i].defined());
      if (with[i].defined()) ref::check_equal(without[i], ref::array(with[i]));
    }
  }
  CHECK(seen > 0);
  for (OpCode op : {OpCode::exp, OpCode::sqrt, OpCode::tanh, OpCode::sigmoid, OpCode::relu, OpCode::rsqrt,
                    OpCode::softmax, OpCode::log_softmax})
    CHECK(ag::grad_def(op).output_only);
}

namespace {

/// The rule of case c for input values x and gradient dy, eagerly.
template <class T>
std::vector<T> rule_at(OpCode op, const std::vector<TensorT<T>>& x, Attrs attrs = {}, const bool* needs = nullptr) {
  Case c = make(op, {}, attrs);
  const TensorT<T> y = run_op(c, x);
  const TensorT<T> dy = hybrid::ones<T>(y.shape());
  return run_rule(c, x, y, dy, needs)[0].to_vector();
}

}  // namespace

TEMPLATE_TEST_CASE("gradient conventions at kinks", "[autograd]", float, double) {
  using T = TestType;
  using hybrid::from_vector;
  const auto at_kinks = from_vector<T>({-1, 0, 2});
  CHECK(rule_at<T>(OpCode::relu, {at_kinks}) == std::vector<T>{0, 0, 1});  // relu'(0) = 0
  CHECK(rule_at<T>(OpCode::abs, {at_kinks}) == std::vector<T>{-1, 0, 1});  // abs'(0) = 0
  Attrs leaky;
  leaky.alpha = 0.25;
  CHECK(rule_at<T>(OpCode::leaky_relu, {at_kinks}, leaky) == std::vector<T>{0.25, 0.25, 1});  // slope alpha at 0
  // clip passes the gradient on [lo, hi], bounds included (PyTorch's clamp), and blocks NaN.
  Attrs clip;
  clip.a_min = -1;
  clip.a_max = 2;
  const T nan = std::numeric_limits<T>::quiet_NaN();
  CHECK(rule_at<T>(OpCode::clip, {from_vector<T>({-3, -1, 0.5, 2, 5, nan})}, clip) ==
        std::vector<T>{0, 1, 1, 1, 0, 0});
  // maximum and minimum split a tie evenly.
  const auto a = from_vector<T>({1, 2, 3}), b = from_vector<T>({2, 2, 2});
  CHECK(rule_at<T>(OpCode::maximum, {a, b}) == std::vector<T>{0, 0.5, 1});
  CHECK(rule_at<T>(OpCode::minimum, {a, b}) == std::vector<T>{1, 0.5, 0});
  const bool second[2] = {false, true};
  Case mx = make(OpCode::maximum, {});
  const auto y = run_op(mx, std::vector<TensorT<T>>{a, b});
  const auto gb = run_rule(mx, std::vector<TensorT<T>>{a, b}, y, hybrid::ones<T>({3}), second);
  CHECK(gb[1].to_vector() == std::vector<T>{1, 0.5, 0});
  // max splits its gradient evenly among tied maxima.
  Attrs all;
  CHECK(rule_at<T>(OpCode::max, {from_vector<T>({1, 3, 3, 3})}, all) == std::vector<T>{0, T(1) / 3, T(1) / 3, T(1) / 3});
  Attrs rows;
  rows.axes = Shape{1};
  CHECK(rule_at<T>(OpCode::max, {from_vector<T>({1, 2, 2, 5, 4, 3}, {2, 3})}, rows) ==
        std::vector<T>{0, 0.5, 0.5, 1, 0, 0});
  // max_pool2d gives a tied window's gradient to its first maximum (row-major), as PyTorch.
  Attrs window;
  window.kernel = Shape{2, 2};
  window.stride = Shape{2, 2};
  CHECK(rule_at<T>(OpCode::max_pool2d, {from_vector<T>({1, 3, 3, 3}, {1, 1, 2, 2})}, window) ==
        std::vector<T>{0, 1, 0, 0});
  // pow with exponent 0: a zero gradient, even at x = 0.
  Attrs p0;
  Case pow0 = make(OpCode::pow_scalar, {}, p0);
  const std::vector<TensorT<T>> zero_in = {from_vector<T>({0, 1})};
  const auto py = run_op(pow0, zero_in);
  CHECK_FALSE(run_rule(pow0, zero_in, py, hybrid::ones<T>({2}))[0].defined());
}

TEMPLATE_TEST_CASE("broadcast gradients are summed back to each operand's shape", "[autograd]", float, double) {
  using T = TestType;
  const TensorT<T> g = hybrid::from_vector<T>({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(ag::sum_to(g, Shape{2, 3}).data() == g.data());  // no copy when nothing broadcast
  CHECK(ag::sum_to(g, Shape{3}).to_vector() == std::vector<T>{5, 7, 9});
  CHECK(ag::sum_to(g, Shape{2, 1}).to_vector() == std::vector<T>{6, 15});
  CHECK(ag::sum_to(g, Shape{1, 3}).to_vector() == std::vector<T>{5, 7, 9});
  CHECK(ag::sum_to(g, Shape{}).to_vector() == std::vector<T>{21});
  CHECK(ag::sum_to(g, Shape{1, 1}).shape() == Shape{1, 1});
  const TensorT<T> lead = hybrid::from_vector<T>({1, 2}, {1, 1, 2});
  CHECK(ag::sum_to(lead, Shape{2}).shape() == Shape{2});  // leading extents of 1 only
  const TensorT<T> empty = hybrid::zeros<T>({2, 0});
  CHECK(ag::sum_to(empty, Shape{2, 1}).to_vector() == std::vector<T>{0, 0});
}

// ---------------------------------------------------------------------------
// Rules on symbols: the backward of a traced graph is a graph of table ops.

namespace {

/// Traces op and its rule on symbols (inputs, then dy), compiles the graph
/// of the wanted gradients with every pass, and runs it on the case's values.
/// Returns the gradients, undefined where the traced rule gave none.
std::vector<TensorT<double>> traced_rule(const Case& c, const std::vector<TensorT<double>>& x,
                                         const TensorT<double>& dy, int& traced_nodes) {
  using hybrid::detail::TensorAccess;
  auto state = std::make_shared<hybrid::trace::TraceState<double>>();
  std::vector<TensorT<double>> sym;
  for (size_t i = 0; i <= x.size(); ++i) {
    const Shape s = i < x.size() ? x[i].shape() : dy.shape();
    const int id = state->graph.add_variable("data" + std::to_string(i), s, hybrid::graph::VarKind::input);
    sym.push_back(TensorAccess::symbol(state, id, s));
  }
  std::vector<TensorT<double>> gi;
  {
    hybrid::trace::TraceScope<double> scope(state.get());
    const std::vector<TensorT<double>> in(sym.begin(), sym.end() - 1);
    const TensorT<double> y = run_op(c, in);
    REQUIRE(y.is_traced());
    // The rule sees the attributes as the graph holds them (normalised).
    const Attrs attrs = state->graph.nodes[TensorAccess::node(y)].attrs;
    const auto p = pointers(in);
    ag::grad_rule<double>(ag::grad_def(c.op))(
        ag::GradArgs<double>{p.data(), static_cast<int>(p.size()), y, sym.back(), attrs}, gi);
  }
  std::vector<int> which;
  for (size_t i = 0; i < gi.size(); ++i) {
    if (!gi[i].defined()) continue;
    REQUIRE(gi[i].is_traced());
    state->graph.outputs.push_back(TensorAccess::node(gi[i]));
    which.push_back(static_cast<int>(i));
  }
  std::vector<TensorT<double>> result(gi.size());
  if (which.empty()) return result;
  traced_nodes = static_cast<int>(state->graph.nodes.size());
  hybrid::exec::Executable<double> ex(hybrid::passes::optimize(state->graph, hybrid::HybridizeOptions{}), true);
  std::vector<const double*> ptrs;
  for (const auto& t : x) ptrs.push_back(t.data());
  ptrs.push_back(dy.data());
  std::vector<TensorT<double>> out(which.size());
  ex.run(ptrs.data(), nullptr, out.data());
  for (size_t k = 0; k < which.size(); ++k) result[which[k]] = out[k];
  return result;
}

}  // namespace

TEST_CASE("rules on traced symbols record table ops that compute the eager gradients", "[autograd][trace]") {
  for (const Case& c : all_cases()) {
    INFO(c.name);
    const auto x = tensors<double>(c);
    const TensorT<double> y = run_op(c, x);
    const TensorT<double> dy = random_grad(c, y);
    const auto eager = run_rule(c, x, y, dy);
    int nodes = 0;
    const auto traced = traced_rule(c, x, dy, nodes);
    REQUIRE(traced.size() == eager.size());
    for (size_t i = 0; i < eager.size(); ++i) {
      INFO("input " << i);
      REQUIRE(traced[i].defined() == eager[i].defined());
      if (eager[i].defined()) ref::check_close(traced[i], ref::array(eager[i]));
    }
  }
}

TEST_CASE("the backward of a traced function is one graph the passes optimize", "[autograd][trace]") {
  // y = sum(tanh(x · W) * 2): the gradient of x through three rules, traced
  // into one graph, optimized and run, against the same rules run eagerly.
  ref::Rng r(8);
  const TensorT<double> x = ref::tensor<double>(values(r, {3, 4}, -1, 1));
  const TensorT<double> w = ref::tensor<double>(values(r, {4, 2}, -1, 1));
  auto backward = [&](const TensorT<double>& xs) {
    const TensorT<double> h = hybrid::matmul(xs, w), t = hybrid::tanh(h), s = t * 2.0, y = hybrid::sum(s);
    const TensorT<double> one = hybrid::ones<double>({});
    std::vector<TensorT<double>> g;
    const Attrs none;
    auto step = [&](OpCode op, std::vector<const TensorT<double>*> in, const TensorT<double>& out,
                    const TensorT<double>& dout, const Attrs& at, const bool* needs = nullptr) {
      ag::grad_rule<double>(ag::grad_def(op))(
          ag::GradArgs<double>{in.data(), static_cast<int>(in.size()), out, dout, at, needs}, g);
      return g[0];
    };
    const TensorT<double> two = hybrid::full<double>({}, 2);
    const bool first[2] = {true, false};
    const TensorT<double> ds = step(OpCode::sum, {&s}, y, one, hybrid::detail::axes_attrs({}, false));
    const TensorT<double> dt = step(OpCode::mul, {&t, &two}, s, ds, none, first);
    const TensorT<double> dh = step(OpCode::tanh, {&h}, t, dt, none);
    return step(OpCode::matmul, {&xs, &w}, h, dh, none, first);
  };
  const TensorT<double> eager = backward(x);
  auto g = hybrid::trace::trace_graph<double>(backward, x.shape());
  int matmuls = 0;
  for (const auto& n : g.nodes) matmuls += n.op == OpCode::matmul;
  CHECK(matmuls == 2);  // the forward's and the backward's
  const auto optimized = hybrid::passes::optimize(g, hybrid::HybridizeOptions{});
  int fused = 0;
  for (const auto& n : optimized.nodes) fused += n.op == OpCode::fused_elementwise;
  CHECK(fused >= 1);  // the backward's elementwise chain (1 - t², times 2, times dy) fuses like a forward's
  hybrid::exec::Executable<double> ex(optimized, true);
  const double* in[1] = {x.data()};
  TensorT<double> out[1];
  ex.run(in, nullptr, out);
  ref::check_close(out[0], ref::array(eager));
  // By hand: dx = (2 (1 - tanh²(x·W))) · Wᵀ.
  const TensorT<double> t = hybrid::tanh(hybrid::matmul(x, w));
  const TensorT<double> want = hybrid::matmul((1.0 - t * t) * 2.0, hybrid::transpose(w));
  ref::check_close(eager, ref::array(want));
}

TEST_CASE("fully_connected's rule recomputes the pre-activation only when the activation's rule reads it",
          "[autograd][trace]") {
  ref::Rng r(12);
  const TensorT<double> w = ref::tensor<double>(values(r, {2, 4}, -1, 1));
  const TensorT<double> b = ref::tensor<double>(values(r, {2}, -1, 1));
  const std::vector<std::pair<int64_t, int>> expected = {
      {-1, 1},
      {static_cast<int64_t>(OpCode::relu), 1},     {static_cast<int64_t>(OpCode::tanh), 1},
      {static_cast<int64_t>(OpCode::sigmoid), 1},  {static_cast<int64_t>(OpCode::gelu), 2},
      {static_cast<int64_t>(OpCode::silu), 2},     {static_cast<int64_t>(OpCode::softrelu), 2},
  };
  for (const auto& [act, fc_nodes] : expected) {
    INFO("activation " << act);
    Attrs at;
    at.activation = act;
    auto backward = [&](const TensorT<double>& x) {
      const TensorT<double> y = hybrid::ops::apply<double>(OpCode::fully_connected, {&x, &w, &b}, at);
      const TensorT<double>* in[3] = {&x, &w, &b};
      const bool needs[3] = {true, false, false};
      std::vector<TensorT<double>> g;
      ag::grad_rule<double>(ag::grad_def(OpCode::fully_connected))(
          ag::GradArgs<double>{in, 3, y, hybrid::ones<double>(y.shape()), at, needs}, g);
      return g[0];
    };
    const auto g = hybrid::trace::trace_graph<double>(backward, Shape{3, 4});
    int n = 0;
    for (const auto& node : g.nodes) n += node.op == OpCode::fully_connected;
    CHECK(n == fc_nodes);
  }
}
