#pragma once
// ParameterT<T>: a named, shaped, learnable tensor owned by a block, and
// ParameterDictT<T>: the ordered result of collect_params().
//
// A dimension of 0 means "not known yet" (Gluon's deferred initialization):
// initialize() then only remembers the initializer, and the value is created
// when the owning layer calls infer_shape() on its first forward.
#include <algorithm>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "../trace/trace_state.hpp"
#include "init.hpp"

namespace hybrid::nn {

template <class T>
class BlockT;

/// True when `declared` (0 = unknown dim) admits the concrete `actual`.
inline bool shape_compatible(const Shape& declared, const Shape& actual) {
  if (declared.size() != actual.size()) return false;
  for (int i = 0; i < declared.size(); ++i)
    if (declared[i] != 0 && declared[i] != actual[i]) return false;
  return true;
}

inline bool shape_known(const Shape& s) {
  return std::none_of(s.begin(), s.end(), [](int64_t d) { return d == 0; });
}

template <class T>
class ParameterT {
 public:
  /// `init`, if given, overrides the initializer passed to initialize()
  /// (Dense's bias uses Zero, as Gluon's bias_initializer='zeros').
  ParameterT(std::string name, Shape shape, std::shared_ptr<const init::Initializer> init = nullptr)
      : name_(std::move(name)), shape_(shape), own_init_(std::move(init)) {
    for (int64_t d : shape_)
      if (d < 0) throw ShapeError("Parameter '" + name_ + "': negative dimension in shape " + to_string(shape_));
  }
  ParameterT(const ParameterT&) = delete;
  ParameterT& operator=(const ParameterT&) = delete;

  /// Full structural name, e.g. "0.weight" or "hidden.bias".
  const std::string& name() const { return name_; }
  /// Declared shape; dims still unknown are 0.
  const Shape& shape() const { return shape_; }
  /// Element count (0 while the shape is not known).
  int64_t size() const { return numel(shape_); }
  DType dtype() const { return dtype_of<T>(); }
  bool is_initialized() const { return data_.defined(); }
  /// initialize() was called but waits for the shape (deferred initialization).
  bool is_deferred() const { return !data_.defined() && pending_ != nullptr; }

  /// The value. Eagerly: the parameter's own tensor (a handle sharing its
  /// storage, never a copy). While a block is being traced: the parameter's
  /// symbol, a variable of the graph bound to the value at replay.
  TensorT<T> data() const {
    if (trace::TraceState<T>* state = trace::active_trace<T>()) {
      check_initialized();
      std::shared_ptr<trace::TraceState<T>> owner = state->weak_from_this().lock();
      if (!owner)
        throw TraceError("Parameter '" + name_ + "': the active trace is not owned by a std::shared_ptr");
      const int node = state->param(this, shape_);
      return hybrid::detail::TensorAccess::symbol(std::move(owner), node, shape_);
    }
    return eager_data();
  }

  /// The eager value even while a trace is active (saving, binding a plan).
  const TensorT<T>& eager_data() const {
    check_initialized();
    return data_;
  }

  /// Copies `value` into the parameter. An initialized parameter keeps its
  /// storage (plans bound to it stay valid); a parameter whose shape is not
  /// known yet takes the shape of `value`.
  void set_data(const TensorT<T>& value) {
    if (!value.defined()) throw Error("Parameter '" + name_ + "': set_data() got an undefined tensor");
    if (value.is_traced())
      throw TraceError("Parameter '" + name_ + "': set_data() needs an eager tensor, not a traced one");
    if (!shape_compatible(shape_, value.shape()))
      throw ShapeError("Parameter '" + name_ + "': set_data() got shape " + to_string(value.shape()) +
                       " but the parameter has shape " + to_string(shape_));
    assign(value);
  }

  /// Creates the value with this parameter's own initializer if it has one,
  /// else `default_init`. An initialized parameter is left alone unless
  /// `force_reinit`. With an unknown shape the initializer is kept until
  /// infer_shape().
  void initialize(const init::Initializer& default_init = init::Uniform(0.07), bool force_reinit = false) {
    if (is_initialized() && !force_reinit) return;
    const init::Initializer& chosen = own_init_ ? *own_init_ : default_init;
    if (shape_known(shape_)) {
      TensorT<T> value = chosen.template make<T>(shape_, name_);
      if (data_.defined()) {
        assign(value);
      } else {
        data_ = std::move(value);
      }
      pending_.reset();
    } else {
      pending_ = chosen.clone();
    }
  }

  /// Fixes the unknown dims from the first input; runs a deferred initialization.
  void infer_shape(const Shape& shape) {
    if (!shape_compatible(shape_, shape) || !shape_known(shape))
      throw ShapeError("Parameter '" + name_ + "': inferred shape " + to_string(shape) +
                       " does not match its declared shape " + to_string(shape_));
    shape_ = shape;
    if (pending_ && !data_.defined()) {
      data_ = pending_->template make<T>(shape_, name_);
      pending_.reset();
    }
  }

  /// Replaces the initializer that initialize() uses for this parameter.
  void set_initializer(std::shared_ptr<const init::Initializer> init) { own_init_ = std::move(init); }

 private:
  friend class BlockT<T>;  // renames parameters when their block is registered
  void set_name(std::string name) { name_ = std::move(name); }

  void check_initialized() const {
    if (data_.defined()) return;
    if (pending_)
      throw Error("Parameter '" + name_ + "' has not been initialized yet: its shape " + to_string(shape_) +
                  " is unknown, so initialization is deferred until the first forward pass infers it");
    throw Error("Parameter '" + name_ + "' has not been initialized; call initialize() first");
  }

  // Callers have checked that the shapes are compatible.
  void assign(const TensorT<T>& value) {
    if (data_.defined()) {
      const T* src = value.data();
      T* dst = data_.data();
      if (src != dst) std::copy(src, src + value.size(), dst);
      return;
    }
    data_ = value.clone();
    shape_ = value.shape();
    pending_.reset();
  }

  std::string name_;
  Shape shape_;
  TensorT<T> data_;
  std::shared_ptr<const init::Initializer> own_init_;
  std::shared_ptr<const init::Initializer> pending_;  // deferred: waits for the shape
};

using Parameter = ParameterT<float>;

/// Parameters in registration order (a block's own, then its children's,
/// recursively), each once, looked up by full name.
template <class T>
class ParameterDictT {
 public:
  using Ptr = std::shared_ptr<ParameterT<T>>;
  using const_iterator = typename std::vector<Ptr>::const_iterator;

  /// Adds `p` unless it is already present (a shared parameter appears once).
  void add(Ptr p) {
    if (!seen_.insert(p.get()).second) return;
    auto [it, inserted] = by_name_.emplace(p->name(), items_.size());
    if (!inserted)
      throw Error("collect_params: two different parameters are both named '" + p->name() + "'");
    items_.push_back(std::move(p));
  }

  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  bool contains(const std::string& name) const { return by_name_.count(name) != 0; }
  const_iterator begin() const { return items_.begin(); }
  const_iterator end() const { return items_.end(); }

  const Ptr& operator[](const std::string& name) const {
    auto it = by_name_.find(name);
    if (it == by_name_.end()) {
      std::string known;
      for (const auto& p : items_) known += (known.empty() ? "" : ", ") + p->name();
      throw Error("collect_params: no parameter named '" + name + "' (parameters: " +
                  (known.empty() ? "none" : known) + ")");
    }
    return items_[it->second];
  }

  /// Total number of elements.
  int64_t count() const {
    int64_t n = 0;
    for (const auto& p : items_) n += p->size();
    return n;
  }

 private:
  std::vector<Ptr> items_;
  std::unordered_map<std::string, size_t> by_name_;
  std::unordered_set<const void*> seen_;
};

using ParameterDict = ParameterDictT<float>;

}  // namespace hybrid::nn
