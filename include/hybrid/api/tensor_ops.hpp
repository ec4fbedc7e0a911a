#pragma once
// The tensor operations users call. Each is one line over ops::apply; the
// math of every op is in the op table.
#include <cmath>
#include <type_traits>
#include <vector>

#include "creation.hpp"
#include "dispatch.hpp"

namespace hybrid {

namespace detail {
template <class T>
using Scalar = typename TensorT<T>::value_type;  // non-deduced: `x + 1` converts 1 to T

template <class T>
TensorT<T> scalar_tensor(T v) { return full<T>(Shape{}, v); }

template <class T>
TensorT<T> unary(OpCode op, const TensorT<T>& a, Attrs attrs = {}) {
  return ops::apply<T>(op, {&a}, std::move(attrs));
}
template <class T>
TensorT<T> binary(OpCode op, const TensorT<T>& a, const TensorT<T>& b) {
  return ops::apply<T>(op, {&a, &b});
}
template <class T>
Attrs axis_attrs(int64_t axis, bool keepdims = false) {
  Attrs at;
  at.axis = axis;
  at.keepdims = keepdims;
  return at;
}
/// Reduction attributes; no axes means every axis.
inline Attrs axes_attrs(std::vector<int64_t> axes, bool keepdims) {
  Attrs at;
  at.axes = Shape(axes);
  at.keepdims = keepdims;
  return at;
}
}  // namespace detail

// Elementwise, unary.
template <class T> TensorT<T> operator-(const TensorT<T>& a) { return detail::unary(OpCode::neg, a); }
template <class T> TensorT<T> exp(const TensorT<T>& a) { return detail::unary(OpCode::exp, a); }
template <class T> TensorT<T> log(const TensorT<T>& a) { return detail::unary(OpCode::log, a); }
template <class T> TensorT<T> sqrt(const TensorT<T>& a) { return detail::unary(OpCode::sqrt, a); }
template <class T> TensorT<T> abs(const TensorT<T>& a) { return detail::unary(OpCode::abs, a); }
template <class T> TensorT<T> tanh(const TensorT<T>& a) { return detail::unary(OpCode::tanh, a); }
template <class T> TensorT<T> sigmoid(const TensorT<T>& a) { return detail::unary(OpCode::sigmoid, a); }
template <class T> TensorT<T> relu(const TensorT<T>& a) { return detail::unary(OpCode::relu, a); }
template <class T> TensorT<T> softrelu(const TensorT<T>& a) { return detail::unary(OpCode::softrelu, a); }
template <class T>
TensorT<T> pow(const TensorT<T>& a, detail::Scalar<T> exponent) {
  Attrs at;
  at.scalar = exponent;
  return detail::unary(OpCode::pow_scalar, a, at);
}
template <class T> TensorT<T> square(const TensorT<T>& a) { return detail::unary(OpCode::square, a); }
template <class T> TensorT<T> rsqrt(const TensorT<T>& a) { return detail::unary(OpCode::rsqrt, a); }
template <class T> TensorT<T> log1p(const TensorT<T>& a) { return detail::unary(OpCode::log1p, a); }
/// GELU, exact (erf) form.
template <class T> TensorT<T> gelu(const TensorT<T>& a) { return detail::unary(OpCode::gelu, a); }
/// SiLU (swish): x · sigmoid(x).
template <class T> TensorT<T> silu(const TensorT<T>& a) { return detail::unary(OpCode::silu, a); }
/// x for x > 0, alpha · x otherwise.
template <class T>
TensorT<T> leaky_relu(const TensorT<T>& a, double alpha = 0.01) {
  Attrs at;
  at.alpha = alpha;
  return detail::unary(OpCode::leaky_relu, a, at);
}
/// Each element limited to [a_min, a_max] (a_min <= a_max).
template <class T>
TensorT<T> clip(const TensorT<T>& a, double a_min, double a_max) {
  Attrs at;
  at.a_min = a_min;
  at.a_max = a_max;
  return detail::unary(OpCode::clip, a, at);
}

/// The error function, 2/√π ∫₀ˣ e^(-t²) dt.
template <class T> TensorT<T> erf(const TensorT<T>& a) { return detail::unary(OpCode::erf, a); }

// Elementwise, binary: tensor ∘ tensor, tensor ∘ scalar, scalar ∘ tensor.
#define HYBRID_BINARY(FN, CODE)                                                              \
  template <class T>                                                                         \
  TensorT<T> FN(const TensorT<T>& a, const TensorT<T>& b) {                                  \
    return detail::binary(OpCode::CODE, a, b);                                               \
  }                                                                                          \
  template <class T>                                                                         \
  TensorT<T> FN(const TensorT<T>& a, detail::Scalar<T> b) {                                  \
    return detail::binary(OpCode::CODE, a, detail::scalar_tensor<T>(b));                     \
  }                                                                                          \
  template <class T>                                                                         \
  TensorT<T> FN(detail::Scalar<T> a, const TensorT<T>& b) {                                  \
    return detail::binary(OpCode::CODE, detail::scalar_tensor<T>(a), b);                     \
  }
HYBRID_BINARY(operator+, add)
HYBRID_BINARY(operator-, sub)
HYBRID_BINARY(operator*, mul)
HYBRID_BINARY(operator/, div)
HYBRID_BINARY(maximum, maximum)
HYBRID_BINARY(minimum, minimum)
HYBRID_BINARY(greater, greater)
HYBRID_BINARY(less, less)
HYBRID_BINARY(equal, equal)
#undef HYBRID_BINARY

/// Picks a where cond is nonzero, b elsewhere (all three broadcast).
template <class T>
TensorT<T> where(const TensorT<T>& cond, const TensorT<T>& a, const TensorT<T>& b) {
  return ops::apply<T>(OpCode::where, {&cond, &a, &b});
}

// In-place updates: eager tensors write into their storage (every handle
// sees it); symbols rebind to the new graph value.
namespace detail {
template <class T>
TensorT<T>& update(TensorT<T>& self, OpCode op, const TensorT<T>& o) {
  if (!self.defined() || !o.defined())
    throw Error(std::string(op_def(op).name) + " (in place): input " + (self.defined() ? "1" : "0") +
                " is an undefined tensor");
  // Symbols rebind; so do tensors on the tape, whose old value a recorded
  // node may still need (the result is a new node, as x = x + y).
  const TensorT<T>* both[2] = {&self, &o};
  if (self.is_traced() || o.is_traced() || autograd::detail::should_record(both, 2)) {
    self = binary(op, self, o);
    return self;
  }
  const Shape out = broadcast_shapes(self.shape(), o.shape(), op_def(op).name);
  if (out != self.shape())
    throw ShapeError(std::string(op_def(op).name) + " (in place): result shape " + to_string(out) +
                     " differs from the updated tensor's shape " + to_string(self.shape()));
  const T* ptrs[2] = {self.data(), o.data()};
  const Shape shapes[2] = {self.shape(), o.shape()};
  Attrs attrs;
  run_kernel<T>(op, ptrs, shapes, 2, self.data(), out, attrs);
  return self;
}
}  // namespace detail

template <class T> TensorT<T>& TensorT<T>::operator+=(const TensorT<T>& o) { return detail::update(*this, OpCode::add, o); }
template <class T> TensorT<T>& TensorT<T>::operator-=(const TensorT<T>& o) { return detail::update(*this, OpCode::sub, o); }
template <class T> TensorT<T>& TensorT<T>::operator*=(const TensorT<T>& o) { return detail::update(*this, OpCode::mul, o); }
template <class T> TensorT<T>& TensorT<T>::operator/=(const TensorT<T>& o) { return detail::update(*this, OpCode::div, o); }
template <class T> TensorT<T>& TensorT<T>::operator+=(T s) { return *this += detail::scalar_tensor<T>(s); }
template <class T> TensorT<T>& TensorT<T>::operator-=(T s) { return *this -= detail::scalar_tensor<T>(s); }
template <class T> TensorT<T>& TensorT<T>::operator*=(T s) { return *this *= detail::scalar_tensor<T>(s); }
template <class T> TensorT<T>& TensorT<T>::operator/=(T s) { return *this /= detail::scalar_tensor<T>(s); }

// Linear algebra.
template <class T>
TensorT<T> matmul(const TensorT<T>& a, const TensorT<T>& b) { return detail::binary(OpCode::matmul, a, b); }

/// act(x · weightᵀ + bias), weight of shape (units, in_units); `bias` may be
/// undefined. `flatten` folds all but the first axis of x into features.
template <class T>
TensorT<T> fully_connected(const TensorT<T>& x, const TensorT<T>& weight, const TensorT<T>& bias,
                           bool flatten = true, OpCode activation = OpCode::count) {
  Attrs at;
  at.flatten = flatten;
  at.no_bias = !bias.defined();
  if (activation != OpCode::count) {
    if (!has_trait(activation, kActivation))
      throw Error(std::string("fully_connected: ") + op_def(activation).name + " is not an activation");
    at.activation = static_cast<int>(activation);
  }
  if (at.no_bias) return ops::apply<T>(OpCode::fully_connected, {&x, &weight}, at);
  return ops::apply<T>(OpCode::fully_connected, {&x, &weight, &bias}, at);
}

/// act(weight ⊛ x + bias), NCHW: x (N, C, H, W), weight (O, C/groups, kh, kw),
/// bias (O,) or undefined (none). stride, padding (zeros on both sides) and
/// dilation are (h, w) pairs; groups splits the channels (groups = C: depthwise).
template <class T>
TensorT<T> conv2d(const TensorT<T>& x, const TensorT<T>& weight, const TensorT<T>& bias = TensorT<T>(),
                  const Shape& stride = {1, 1}, const Shape& padding = {0, 0}, const Shape& dilation = {1, 1},
                  int64_t groups = 1, OpCode activation = OpCode::count) {
  Attrs at;
  at.stride = stride;
  at.padding = padding;
  at.dilation = dilation;
  at.groups = groups;
  at.no_bias = !bias.defined();
  if (activation != OpCode::count) {
    if (!has_trait(activation, kActivation))
      throw Error(std::string("conv2d: ") + op_def(activation).name + " is not an activation");
    at.activation = static_cast<int>(activation);
  }
  if (at.no_bias) return ops::apply<T>(OpCode::conv2d, {&x, &weight}, at);
  return ops::apply<T>(OpCode::conv2d, {&x, &weight, &bias}, at);
}

// Layout.
template <class T>
TensorT<T> transpose(const TensorT<T>& t) { return detail::unary(OpCode::transpose, t); }

template <class T>
TensorT<T> transpose(const TensorT<T>& t, const Shape& perm) {
  Attrs at;
  at.perm = perm;
  for (int i = 0; i < at.perm.size(); ++i)  // negative axes count from the end
    if (at.perm[i] < 0) at.perm[i] += t.ndim();
  return detail::unary(OpCode::transpose, t, at);
}

/// Same elements in a new shape (one -1 is inferred). Eager: shares storage.
template <class T>
TensorT<T> reshape(const TensorT<T>& t, const Shape& shape) {
  Attrs at;
  at.shape = shape;
  const TensorT<T>* in_ptr = &t;
  if (t.is_traced() || !t.defined() || autograd::detail::should_record(&in_ptr, 1))
    return detail::unary(OpCode::reshape, t, at);
  const Shape in = t.shape();
  return hybrid::detail::TensorAccess::view(t, infer_shape(OpCode::reshape, &in, 1, at));
}

template <class T>
TensorT<T> concat(const std::vector<TensorT<T>>& ts, int64_t axis = 0) {
  std::vector<const TensorT<T>*> ptrs;
  for (const auto& t : ts) ptrs.push_back(&t);
  return ops::apply<T>(OpCode::concat, ptrs.data(), static_cast<int>(ptrs.size()), detail::axis_attrs<T>(axis));
}

/// concat({a, b}, axis): a braced list deduces the element type.
template <class T>
TensorT<T> concat(std::initializer_list<TensorT<T>> ts, int64_t axis = 0) {
  return concat(std::vector<TensorT<T>>(ts), axis);
}

/// Elements [begin, end) along `axis`; negative bounds count from the end.
template <class T>
TensorT<T> slice(const TensorT<T>& t, int64_t axis, int64_t begin, int64_t end) {
  Attrs at = detail::axis_attrs<T>(axis);
  at.begin = begin;
  at.end = end;
  return detail::unary(OpCode::slice, t, at);
}

/// The tensors stacked along a new axis (in [-(r+1), r]); all have one shape.
template <class T>
TensorT<T> stack(const std::vector<TensorT<T>>& ts, int64_t axis = 0) {
  std::vector<const TensorT<T>*> ptrs;
  for (const auto& t : ts) ptrs.push_back(&t);
  return ops::apply<T>(OpCode::stack, ptrs.data(), static_cast<int>(ptrs.size()), detail::axis_attrs<T>(axis));
}
template <class T>
TensorT<T> stack(std::initializer_list<TensorT<T>> ts, int64_t axis = 0) {
  return stack(std::vector<TensorT<T>>(ts), axis);
}

/// `sections` equal parts along `axis` (its extent must divide evenly). Each
/// part is a slice, so a graph holds split as slice nodes.
template <class T>
std::vector<TensorT<T>> split(const TensorT<T>& t, int64_t sections, int64_t axis = 0) {
  const int ax = normalize_axis(axis, t.ndim(), "split");
  const int64_t extent = t.shape()[ax];
  if (sections <= 0 || extent % sections != 0)
    throw ShapeError("split: axis " + std::to_string(ax) + " of shape " + to_string(t.shape()) +
                     " does not split into " + std::to_string(sections) + " equal sections");
  std::vector<TensorT<T>> parts;
  const int64_t step = extent / sections;
  for (int64_t i = 0; i < sections; ++i) parts.push_back(slice(t, ax, i * step, (i + 1) * step));
  return parts;
}

/// x repeated along its extent-1 (and missing leading) axes to `shape`.
template <class T>
TensorT<T> broadcast_to(const TensorT<T>& t, const Shape& shape) {
  Attrs at;
  at.shape = shape;
  return detail::unary(OpCode::broadcast_to, t, at);
}

/// Constant padding. `pad_width` holds (before, after) for every axis, as
/// NumPy's and MXNet's pad: {1, 1, 0, 2} pads axis 0 by one on each side and
/// axis 1 by two after.
template <class T>
TensorT<T> pad(const TensorT<T>& t, const std::vector<int64_t>& pad_width, double constant_value = 0) {
  if (t.defined() && pad_width.size() != 2 * static_cast<size_t>(t.ndim())) {
    std::string widths;
    for (int64_t w : pad_width) widths += (widths.empty() ? "" : ", ") + std::to_string(w);
    throw ShapeError("pad: pad_width (" + widths + ") needs 2 entries per axis of " + to_string(t.shape()));
  }
  Attrs at;
  for (size_t d = 0; t.defined() && d < pad_width.size() / 2; ++d) {
    at.pad_before.push_back(pad_width[2 * d]);
    at.pad_after.push_back(pad_width[2 * d + 1]);
  }
  at.constant_value = constant_value;
  return detail::unary(OpCode::pad, t, at);
}

// Indexing. Indices are stored in T and must be integers in range.

/// Entries of `t` along `axis` at `indices`: the axis is replaced by the indices' shape.
template <class T>
TensorT<T> take(const TensorT<T>& t, const TensorT<T>& indices, int64_t axis = 0) {
  return ops::apply<T>(OpCode::take, {&t, &indices}, detail::axis_attrs<T>(axis));
}

/// One entry per line of `t` along `axis`, chosen by `index` (Gluon's pick).
template <class T>
TensorT<T> pick(const TensorT<T>& t, const TensorT<T>& index, int64_t axis = -1, bool keepdims = false) {
  return ops::apply<T>(OpCode::pick, {&t, &index}, detail::axis_attrs<T>(axis, keepdims));
}

/// A last axis of `depth` classes: on_value at each index, off_value elsewhere.
template <class T>
TensorT<T> one_hot(const TensorT<T>& indices, int64_t depth, double on_value = 1, double off_value = 0) {
  Attrs at;
  at.depth = depth;
  at.on_value = on_value;
  at.off_value = off_value;
  return detail::unary(OpCode::one_hot, indices, at);
}

/// The index (stored in T) of the first largest entry along `axis`.
template <class T>
TensorT<T> argmax(const TensorT<T>& t, int64_t axis, bool keepdims = false) {
  return detail::unary(OpCode::argmax, t, detail::axis_attrs<T>(axis, keepdims));
}

// Reductions: over every axis, one axis, or a list of axes.
#define HYBRID_REDUCTION(FN, CODE)                                                                   \
  template <class T>                                                                                 \
  TensorT<T> FN(const TensorT<T>& t) {                                                               \
    return detail::unary(OpCode::CODE, t, detail::axes_attrs({}, false));                            \
  }                                                                                                  \
  template <class T>                                                                                 \
  TensorT<T> FN(const TensorT<T>& t, int64_t axis, bool keepdims = false) {                          \
    return detail::unary(OpCode::CODE, t, detail::axes_attrs({axis}, keepdims));                     \
  }                                                                                                  \
  template <class T>                                                                                 \
  TensorT<T> FN(const TensorT<T>& t, const std::vector<int64_t>& axes, bool keepdims = false) {      \
    if (axes.empty()) throw ShapeError(std::string(#FN) + ": an empty axis list; call " #FN "(t) to reduce all axes"); \
    return detail::unary(OpCode::CODE, t, detail::axes_attrs(axes, keepdims));                       \
  }
HYBRID_REDUCTION(sum, sum)
HYBRID_REDUCTION(mean, mean)
HYBRID_REDUCTION(max, max)
#undef HYBRID_REDUCTION

template <class T>
TensorT<T> softmax(const TensorT<T>& t, int64_t axis = -1) {
  return detail::unary(OpCode::softmax, t, detail::axis_attrs<T>(axis));
}
template <class T>
TensorT<T> log_softmax(const TensorT<T>& t, int64_t axis = -1) {
  return detail::unary(OpCode::log_softmax, t, detail::axis_attrs<T>(axis));
}

// Pooling, normalization, embedding. Images are NCHW, as Gluon's.

namespace detail {
/// Pooling attributes; an empty stride means the kernel (Gluon's default).
inline Attrs pool_attrs(const Shape& kernel, const Shape& stride, const Shape& padding) {
  Attrs at;
  at.kernel = kernel;
  at.stride = stride.empty() ? kernel : stride;
  at.padding = padding;
  return at;
}
}  // namespace detail

/// The largest element of each (kh, kw) window of x (N, C, H, W); padding
/// never wins. Output (N, C, floor((H + 2ph - kh) / sh) + 1, …).
template <class T>
TensorT<T> max_pool2d(const TensorT<T>& x, const Shape& kernel, const Shape& stride = {},
                      const Shape& padding = {0, 0}) {
  return detail::unary(OpCode::max_pool2d, x, detail::pool_attrs(kernel, stride, padding));
}

/// The mean of each (kh, kw) window of x (N, C, H, W): divided by kh · kw
/// with `count_include_pad` (Gluon's and PyTorch's default), else by the
/// number of real elements in the window.
template <class T>
TensorT<T> avg_pool2d(const TensorT<T>& x, const Shape& kernel, const Shape& stride = {},
                      const Shape& padding = {0, 0}, bool count_include_pad = true) {
  Attrs at = detail::pool_attrs(kernel, stride, padding);
  at.count_include_pad = count_include_pad;
  return detail::unary(OpCode::avg_pool2d, x, at);
}

/// The mean of each (H, W) plane: (N, C, H, W) → (N, C, 1, 1).
template <class T>
TensorT<T> global_avg_pool2d(const TensorT<T>& x) { return detail::unary(OpCode::global_avg_pool2d, x); }

/// Each line along `axis` normalized (mean 0, biased variance 1, epsilon
/// added to the variance), then · gamma + beta, both of shape (x.shape[axis],).
template <class T>
TensorT<T> layer_norm(const TensorT<T>& x, const TensorT<T>& gamma, const TensorT<T>& beta, int64_t axis = -1,
                      double epsilon = 1e-5) {
  Attrs at = detail::axis_attrs<T>(axis);
  at.epsilon = epsilon;
  return ops::apply<T>(OpCode::layer_norm, {&x, &gamma, &beta}, at);
}

/// Row indices[...] of weight (input_dim, output_dim) for every index: shape
/// indices.shape + (output_dim,). Indices are integers in [0, input_dim) stored in T.
template <class T>
TensorT<T> embedding(const TensorT<T>& indices, const TensorT<T>& weight) {
  return detail::binary(OpCode::embedding, indices, weight);
}

/// |a - b| <= atol + rtol·|b| everywhere (shapes broadcast); NaN equals nothing.
template <class T>
bool allclose(const TensorT<T>& a, const TensorT<T>& b, double rtol = 1e-5, double atol = 1e-8) {
  const Shape out = broadcast_shapes(a.shape(), b.shape(), "allclose");
  const TensorT<T> da = a.shape() == out ? a : a + zeros<T>(out);
  const TensorT<T> db = b.shape() == out ? b : b + zeros<T>(out);
  const T* x = da.data();
  const T* y = db.data();
  for (int64_t i = 0; i < numel(out); ++i) {
    if (std::isinf(x[i]) || std::isinf(y[i])) {  // infinities match only themselves
      if (x[i] != y[i]) return false;
      continue;
    }
    const double d = std::abs(static_cast<double>(x[i]) - static_cast<double>(y[i]));
    if (!(d <= atol + rtol * std::abs(static_cast<double>(y[i])))) return false;
  }
  return true;
}

}  // namespace hybrid
