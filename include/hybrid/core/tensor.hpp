#pragma once
// TensorT<T>: a cheap handle to shared, contiguous, row-major storage (like
// torch::Tensor or MXNet's NDArray): copying a tensor shares its data and
// clone() deep-copies. While a block is being traced a tensor may instead be
// a symbol: a node of the graph under construction, with a shape but no values.
#include <cstring>
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "autograd_meta.hpp"
#include "dtype.hpp"
#include "errors.hpp"
#include "shape.hpp"
#include "storage.hpp"

namespace hybrid {

namespace trace {
template <class T>
struct TraceState;
}
namespace detail {
struct TensorAccess;
}

template <class T>
class TensorT {
 public:
  using value_type = T;

  /// An undefined tensor: no storage, no symbol. Most operations reject it.
  TensorT() = default;

  /// A tensor of `shape` whose elements are uninitialised.
  static TensorT empty(const Shape& shape) {
    const int64_t n = checked_numel(shape, "tensor");
    if (n > std::numeric_limits<int64_t>::max() / static_cast<int64_t>(sizeof(T)))
      throw ShapeError("tensor: " + to_string(shape) + " needs more bytes than fit in memory");
    TensorT t;
    t.storage_ = std::make_shared<Storage<T>>(n);
    t.shape_ = shape;
    return t;
  }

  const Shape& shape() const { return shape_; }
  int ndim() const { return shape_.size(); }
  int64_t size() const { return numel(shape_); }
  DType dtype() const { return dtype_of<T>(); }
  bool is_traced() const { return trace_ != nullptr; }
  bool defined() const { return storage_ != nullptr || trace_ != nullptr; }

  /// A deep copy with its own storage (a symbol stays the same symbol).
  TensorT clone() const {
    if (is_traced()) return *this;
    TensorT t = empty(shape_);
    if (size()) std::memcpy(t.storage_->data(), values("clone"), sizeof(T) * static_cast<size_t>(size()));
    return t;
  }

  T* data() { return const_cast<T*>(values("data")); }
  const T* data() const { return values("data"); }

  /// The single element of a one-element tensor.
  T item() const {
    const T* v = values("item");
    if (size() != 1)
      throw ShapeError("item: tensor of shape " + to_string(shape_) + " has " + std::to_string(size()) +
                       " elements, not one");
    return v[0];
  }

  /// The element at a full index; negative indices count from the end.
  T at(std::initializer_list<int64_t> index) const {
    const T* v = values("at");
    if (static_cast<int>(index.size()) != ndim())
      throw ShapeError("at: index of " + std::to_string(index.size()) + " coordinates for a tensor of shape " +
                       to_string(shape_));
    int64_t off = 0, d = 0;
    for (int64_t i : index) {
      const int64_t ext = shape_[static_cast<int>(d)];
      const int64_t j = i < 0 ? i + ext : i;
      if (j < 0 || j >= ext)
        throw ShapeError("at: index " + std::to_string(i) + " is out of range for dimension " + std::to_string(d) +
                         " of shape " + to_string(shape_));
      off = off * ext + j;
      ++d;
    }
    return v[off];
  }

  std::vector<T> to_vector() const {
    const T* v = values("to_vector");
    return std::vector<T>(v, v + size());
  }

  // In-place arithmetic (defined in api/tensor_ops.hpp): eager tensors update their
  // storage, symbols rebind to a new graph value.
  TensorT& operator+=(const TensorT& o);
  TensorT& operator-=(const TensorT& o);
  TensorT& operator*=(const TensorT& o);
  TensorT& operator/=(const TensorT& o);
  TensorT& operator+=(T s);
  TensorT& operator-=(T s);
  TensorT& operator*=(T s);
  TensorT& operator/=(T s);

  // Autograd (the tape: api/tape.hpp, backward: autograd/backward.hpp).

  /// Makes this tensor a leaf that collects gradients: backward() writes
  /// (grad_req "write") or adds ("add") d(head)/d(this) into grad().
  /// Copies of the tensor share the leaf. Gluon's NDArray.attach_grad().
  void attach_grad(const std::string& grad_req = "write") {
    if (!defined() || is_traced()) throw Error("attach_grad(): needs an eager tensor");
    auto meta = std::make_shared<autograd::MetaT<T>>();
    meta->leaf = true;
    meta->req = autograd::parse_grad_req(grad_req, "attach_grad()");
    meta_ = std::move(meta);
  }

  /// The gradient of a leaf (attach_grad()), same shape; zeros before any backward.
  TensorT grad() const {
    if (!meta_ || !meta_->leaf)
      throw Error("grad(): the tensor of shape " + to_string(shape_) +
                  " has no gradient buffer; call attach_grad() on it before recording");
    if (!meta_->grad.defined()) {
      meta_->grad = empty(shape_);
      if (size()) std::memset(meta_->grad.data(), 0, sizeof(T) * static_cast<size_t>(size()));
    }
    return meta_->grad;
  }

  /// Back-propagates from this tensor: a head gradient of ones (Gluon's rule
  /// for non-scalar heads), or `head_grad`. Without `retain_graph` the tape
  /// it used is freed, and a second backward over it throws Error.
  void backward(bool retain_graph = false) const;
  void backward(const TensorT& head_grad, bool retain_graph = false) const;

  /// The same values with no history: recording stops here.
  TensorT detach() const {
    TensorT t = *this;
    t.meta_.reset();
    return t;
  }

 private:
  friend struct detail::TensorAccess;

  const T* values(const char* what) const {
    if (is_traced())
      throw TraceError(std::string("Tensor::") + what + "(): a traced tensor of shape " + to_string(shape_) +
                       " has no values: values do not exist while a hybridized block is being traced. "
                       "Express the computation with tensor operations (use where(cond, a, b) for "
                       "data-dependent choices), or call hybridize(false) to run eagerly");
    if (!storage_) throw Error(std::string("Tensor::") + what + "(): the tensor is undefined");
    return storage_->data();
  }

  std::shared_ptr<Storage<T>> storage_;
  Shape shape_;
  std::shared_ptr<trace::TraceState<T>> trace_;
  int node_ = -1;
  std::shared_ptr<autograd::MetaT<T>> meta_;
};

using Tensor = TensorT<float>;

namespace detail {
/// The library's own access to a tensor's internals (storage sharing, symbols).
struct TensorAccess {
  template <class T>
  static const std::shared_ptr<Storage<T>>& storage(const TensorT<T>& t) { return t.storage_; }
  template <class T>
  /// Shares t's storage under another shape, without t's autograd history.
  static TensorT<T> view(const TensorT<T>& t, const Shape& shape) {
    TensorT<T> v = t;
    v.shape_ = shape;
    v.meta_.reset();
    return v;
  }
  template <class T>
  static const std::shared_ptr<autograd::MetaT<T>>& meta(const TensorT<T>& t) { return t.meta_; }
  template <class T>
  static void set_meta(TensorT<T>& t, std::shared_ptr<autograd::MetaT<T>> meta) { t.meta_ = std::move(meta); }
  template <class T>
  static const std::shared_ptr<trace::TraceState<T>>& trace(const TensorT<T>& t) { return t.trace_; }
  template <class T>
  static int node(const TensorT<T>& t) { return t.node_; }
  template <class T>
  static TensorT<T> symbol(std::shared_ptr<trace::TraceState<T>> state, int node, const Shape& shape) {
    TensorT<T> t;
    t.trace_ = std::move(state);
    t.node_ = node;
    t.shape_ = shape;
    return t;
  }
};
}  // namespace detail

}  // namespace hybrid
