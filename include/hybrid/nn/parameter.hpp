#pragma once
// ParameterT<T>: a named, shaped, learnable tensor owned by a block, and
// ParameterDictT<T>: the ordered result of collect_params().
//
// A dimension of 0 means "not known yet" (Gluon's deferred initialization):
// initialize() then only remembers the initializer, and the value is created
// when the owning layer calls infer_shape() on its first forward.
//
// A parameter's value is an immutable snapshot: set_data(), initialize(),
// infer_shape() and load_parameters() build a new tensor and publish it by
// swapping the parameter's handle, never by writing into the storage of the
// value they replace. Every call of a block sees one generation of its
// parameters — all old values or all new ones — even while another thread
// loads new weights (docs/ARCHITECTURE.md, "Concurrency").
#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <shared_mutex>
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
template <class T>
class ParameterDictT;
template <class T>
class PinnedParameters;

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

namespace detail {
struct ParameterAccess;

/// Guards every parameter's value handle, shape and initializers. Writers
/// hold it exclusively only to swap handles and readers hold it shared only
/// to copy them, so nobody waits for a computation. It is one lock for all
/// parameters because a load publishes a whole set at once and parameters
/// may be shared between blocks.
inline std::shared_mutex& parameter_mutex() {
  static std::shared_mutex mutex;
  return mutex;
}
}  // namespace detail

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
  /// Declared shape; dims still unknown are 0. A copy: inference may fix
  /// the unknown dims on another thread.
  Shape shape() const {
    std::shared_lock<std::shared_mutex> lock(detail::parameter_mutex());
    return shape_;
  }
  /// Element count (0 while the shape is not known).
  int64_t size() const { return numel(shape()); }
  DType dtype() const { return dtype_of<T>(); }
  bool is_initialized() const {
    std::shared_lock<std::shared_mutex> lock(detail::parameter_mutex());
    return data_.defined();
  }
  /// initialize() was called but waits for the shape (deferred initialization).
  bool is_deferred() const {
    std::shared_lock<std::shared_mutex> lock(detail::parameter_mutex());
    return !data_.defined() && pending_ != nullptr;
  }

  /// The value. Eagerly: a handle sharing the parameter's current storage,
  /// never a copy (inside a block's call, the value that call started with).
  /// While a block is being traced: the parameter's symbol, a variable of
  /// the graph bound to the value at replay.
  ///
  /// Writing through the handle changes the current value in place; do it
  /// only while no other thread calls a block that uses the parameter.
  /// set_data() is the way to change a value that calls may be reading.
  TensorT<T> data() const {
    if (trace::TraceState<T>* state = trace::active_trace<T>()) {
      Shape shape;
      {
        std::shared_lock<std::shared_mutex> lock(detail::parameter_mutex());
        check_initialized();
        shape = shape_;
      }
      std::shared_ptr<trace::TraceState<T>> owner = state->weak_from_this().lock();
      if (!owner)
        throw TraceError("Parameter '" + name_ + "': the active trace is not owned by a std::shared_ptr");
      const int node = state->param(this, shape);
      return hybrid::detail::TensorAccess::symbol(std::move(owner), node, shape);
    }
    return eager_data();
  }

  /// The eager value, even while a trace is active.
  /// A handle by value: a later set_data() replaces the parameter's handle
  /// and leaves this one, and its values, as they are.
  TensorT<T> eager_data() const {
    if (const TensorT<T>* pinned = PinnedParameters<T>::find(this)) return *pinned;
    std::shared_lock<std::shared_mutex> lock(detail::parameter_mutex());
    check_initialized();
    return data_;
  }

  /// Publishes a copy of `value` as the parameter's new value. Calls already
  /// running finish with the old value, later calls use the new one; handles
  /// that data() returned before keep the old values (unlike Gluon, whose
  /// set_data writes into the existing arrays). A parameter whose shape is
  /// not known yet takes the shape of `value`.
  void set_data(const TensorT<T>& value) {
    if (!value.defined()) throw Error("Parameter '" + name_ + "': set_data() got an undefined tensor");
    if (value.is_traced())
      throw TraceError("Parameter '" + name_ + "': set_data() needs an eager tensor, not a traced one");
    std::vector<std::pair<ParameterT*, TensorT<T>>> update{{this, value.clone()}};
    publish(update, "set_data()");
  }

  /// Creates the value with this parameter's own initializer if it has one,
  /// else `default_init`. An initialized parameter is left alone unless
  /// `force_reinit`, which publishes new values as set_data() does. With an
  /// unknown shape the initializer is kept until infer_shape().
  void initialize(const init::Initializer& default_init = init::Uniform(0.07), bool force_reinit = false) {
    Initialization step = prepare_initialize(default_init, force_reinit);
    std::unique_lock<std::shared_mutex> lock(detail::parameter_mutex());
    apply_initialize(step, force_reinit);
  }

  /// Fixes the unknown dims from the first input; runs a deferred
  /// initialization. Safe when several threads make a first call at once:
  /// the first to publish a value wins, the others find it there.
  void infer_shape(const Shape& shape) {
    auto check = [&](const Shape& current) {
      if (!shape_compatible(current, shape) || !shape_known(shape))
        throw ShapeError("Parameter '" + name_ + "': inferred shape " + to_string(shape) +
                         " does not match its declared shape " + to_string(current));
    };
    std::shared_ptr<const init::Initializer> pending;
    {
      std::shared_lock<std::shared_mutex> lock(detail::parameter_mutex());
      check(shape_);
      if (shape_ == shape && (data_.defined() || !pending_)) return;  // already inferred
      if (!data_.defined()) pending = pending_;
    }
    // The initializer runs outside the lock; its value is published below.
    TensorT<T> value = pending ? pending->template make<T>(shape, name_) : TensorT<T>();
    std::unique_lock<std::shared_mutex> lock(detail::parameter_mutex());
    check(shape_);
    shape_ = shape;
    if (value.defined() && !data_.defined() && pending_) publish_locked(std::move(value));
  }

  /// The gradient written by backward(), shaped like the value; zeros
  /// before any backward. The same buffer every time (Gluon's grad()).
  TensorT<T> grad() const {
    std::unique_lock<std::shared_mutex> lock(detail::parameter_mutex());
    check_initialized();
    if (grad_meta_->req == autograd::GradReq::null)
      throw Error("Parameter '" + name_ + "': grad_req is \"null\", so it has no gradient");
    return grad_buffer_locked();
  }

  /// Sets the gradient to zero (needed between steps with grad_req "add").
  void zero_grad() {
    std::unique_lock<std::shared_mutex> lock(detail::parameter_mutex());
    if (!grad_meta_->grad.defined() || grad_meta_->req == autograd::GradReq::null) return;
    TensorT<T>& g = grad_meta_->grad;
    if (g.size()) std::memset(g.data(), 0, sizeof(T) * static_cast<size_t>(g.size()));
  }

  /// "write" (default: each backward overwrites the gradient), "add" (each
  /// backward adds to it) or "null" (no gradient; the value is a constant).
  void set_grad_req(const std::string& req) {
    const autograd::GradReq parsed = autograd::parse_grad_req(req, "Parameter '" + name_ + "'");
    std::unique_lock<std::shared_mutex> lock(detail::parameter_mutex());
    grad_meta_->req = parsed;
    if (parsed == autograd::GradReq::null) grad_meta_->grad = TensorT<T>();
  }
  std::string grad_req() const {
    std::shared_lock<std::shared_mutex> lock(detail::parameter_mutex());
    return autograd::grad_req_name(grad_meta_->req);
  }

  /// Replaces the initializer that initialize() uses for this parameter.
  void set_initializer(std::shared_ptr<const init::Initializer> init) {
    std::unique_lock<std::shared_mutex> lock(detail::parameter_mutex());
    own_init_ = std::move(init);
  }

 private:
  friend class BlockT<T>;  // renames parameters when their block is registered
  friend struct detail::ParameterAccess;
  void set_name(std::string name) { name_ = std::move(name); }

  // Callers hold the parameter lock.
  void check_initialized() const {
    if (data_.defined()) return;
    if (pending_)
      throw Error("Parameter '" + name_ + "' has not been initialized yet: its shape " + to_string(shape_) +
                  " is unknown, so initialization is deferred until the first forward pass infers it");
    throw Error("Parameter '" + name_ + "' has not been initialized; call initialize() first");
  }

  /// Publishes fresh values (tensors nobody else writes) for several
  /// parameters under one exclusive lock: every shape is checked first, so
  /// either all are published or none. `what` names the caller in errors.
  static void publish(std::vector<std::pair<ParameterT*, TensorT<T>>>& updates, const std::string& what) {
    std::unique_lock<std::shared_mutex> lock(detail::parameter_mutex());
    for (const auto& [param, value] : updates)
      if (!shape_compatible(param->shape_, value.shape()))
        throw ShapeError("Parameter '" + param->name_ + "': " + what + " got shape " + to_string(value.shape()) +
                         " but the parameter has shape " + to_string(param->shape_));
    for (auto& [param, value] : updates) param->publish_locked(std::move(value));
  }

  // Under the exclusive lock. The replaced value is not touched: calls and
  // handles holding it keep reading it.
  void publish_locked(TensorT<T> value) {
    shape_ = value.shape();
    // Every value carries the parameter's gradient leaf, so ops on it are
    // recorded inside autograd::record().
    hybrid::detail::TensorAccess::set_meta(value, grad_meta_);
    if (grad_meta_->grad.defined() && grad_meta_->grad.shape() != value.shape()) grad_meta_->grad = TensorT<T>();
    data_ = std::move(value);
    ++version_;
    pending_.reset();
    PinnedParameters<T>::replace(this, data_);  // this thread's own call sees its write
  }

  /// What initialize() does, decided from one consistent read; the new value
  /// is made outside the lock (initializers may be slow).
  struct Initialization {
    ParameterT* param = nullptr;
    TensorT<T> value;                                  // to publish, or
    std::shared_ptr<const init::Initializer> pending;  // to keep until the shape is known
  };

  Initialization prepare_initialize(const init::Initializer& default_init, bool force_reinit) {
    std::shared_ptr<const init::Initializer> own;
    Shape shape;
    {
      std::shared_lock<std::shared_mutex> lock(detail::parameter_mutex());
      if (data_.defined() && !force_reinit) return {this, {}, nullptr};
      own = own_init_;
      shape = shape_;
    }
    const init::Initializer& chosen = own ? *own : default_init;
    if (shape_known(shape)) return {this, chosen.template make<T>(shape, name_), nullptr};
    return {this, {}, chosen.clone()};
  }

  // Under the exclusive lock.
  void apply_initialize(Initialization& step, bool force_reinit) {
    if (data_.defined() && !force_reinit) return;  // set on another thread meanwhile
    if (step.value.defined()) {
      publish_locked(std::move(step.value));
    } else if (step.pending && !data_.defined()) {
      pending_ = std::move(step.pending);
    }
  }

  // Under the lock; the value is initialized.
  TensorT<T>& grad_buffer_locked() const {
    TensorT<T>& g = grad_meta_->grad;
    if (!g.defined() || g.shape() != shape_) {
      g = TensorT<T>::empty(shape_);
      if (g.size()) std::memset(g.data(), 0, sizeof(T) * static_cast<size_t>(g.size()));
    }
    return g;
  }

  static std::shared_ptr<autograd::MetaT<T>> make_leaf() {
    auto meta = std::make_shared<autograd::MetaT<T>>();
    meta->leaf = true;
    return meta;
  }

  std::string name_;
  // Guarded by detail::parameter_mutex().
  Shape shape_;
  std::shared_ptr<autograd::MetaT<T>> grad_meta_ = make_leaf();
  TensorT<T> data_;
  // Counts the values published (an optimizer's in-place update is not one):
  // a "dist_sync" Trainer averages the non-trainable parameters whose count
  // moved since its last step (the running statistics of a train-mode pass).
  uint64_t version_ = 0;
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

  /// Sets every gradient to zero.
  void zero_grad() const {
    for (const auto& p : items_) p->zero_grad();
  }
  /// Sets every parameter's grad_req ("write", "add", "null").
  void set_grad_req(const std::string& req) const {
    for (const auto& p : items_) p->set_grad_req(req);
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

namespace detail {
/// The library's own access to parameters as a group: reading several
/// values as one generation, publishing several at once.
struct ParameterAccess {
  /// Appends the values of `params` (pointers or shared pointers to
  /// parameters) to `values`, as one generation: those this thread's call
  /// pinned, the others read under one shared lock. A parameter without a
  /// value throws, or gives an undefined tensor with `skip_uninitialized`.
  template <class T, class Range>
  static void read_values(const Range& params, std::vector<TensorT<T>>& values, bool skip_uninitialized = false) {
    const PinnedParameters<T>* pin = PinnedParameters<T>::current();
    std::shared_lock<std::shared_mutex> lock(parameter_mutex());
    for (const auto& p : params) {
      const ParameterT<T>& param = *p;
      if (pin)
        if (const TensorT<T>* pinned = pin->lookup(&param)) {
          values.push_back(*pinned);
          continue;
        }
      if (!param.data_.defined() && skip_uninitialized) {
        values.emplace_back();
        continue;
      }
      param.check_initialized();
      values.push_back(param.data_);
    }
  }

  /// Fills in the current values of `entries` under one shared lock and
  /// drops the parameters that have none yet (deferred ones).
  template <class T>
  static void read_pinned(std::vector<std::pair<const ParameterT<T>*, TensorT<T>>>& entries) {
    {
      std::shared_lock<std::shared_mutex> lock(parameter_mutex());
      for (auto& entry : entries) entry.second = entry.first->data_;
    }
    entries.erase(std::remove_if(entries.begin(), entries.end(), [](const auto& e) { return !e.second.defined(); }),
                  entries.end());
  }

  /// Publishes fresh values (tensors no one else writes) for several
  /// parameters together: all or none. `what` names the caller in errors.
  template <class T>
  static void publish(std::vector<std::pair<ParameterT<T>*, TensorT<T>>>& updates, const std::string& what) {
    ParameterT<T>::publish(updates, what);
  }

  /// How many values were published to `p` so far (set_data, loads, a
  /// running-statistics update...); an optimizer's in-place update is not one.
  template <class T>
  static uint64_t version(const ParameterT<T>& p) {
    std::shared_lock<std::shared_mutex> lock(parameter_mutex());
    return p.version_;
  }

  /// The parameter's gradient leaf (its grad_req, buffer and fresh flag).
  template <class T>
  static const std::shared_ptr<autograd::MetaT<T>>& grad_meta(const ParameterT<T>& p) { return p.grad_meta_; }

  /// The value and the gradient buffer of an initialized parameter whose
  /// grad_req is not "null", for an optimizer: `fn(T* value, const T* grad,
  /// int64_t n)` updates the value. In place when no call or handle reads
  /// the value's storage; otherwise into a copy published as the new value,
  /// so a concurrent call never sees a half-updated parameter.
  template <class T, class F>
  static void update(ParameterT<T>& p, F&& fn) {
    std::unique_lock<std::shared_mutex> lock(parameter_mutex());
    p.check_initialized();
    const TensorT<T>& grad = p.grad_buffer_locked();
    if (hybrid::detail::TensorAccess::storage(p.data_).use_count() == 1) {
      fn(p.data_.data(), static_cast<const T*>(grad.data()), p.data_.size());
      return;
    }
    TensorT<T> copy = p.data_.clone();
    fn(copy.data(), static_cast<const T*>(grad.data()), copy.size());
    p.publish_locked(std::move(copy));
  }

  /// initialize() for every parameter of `params`, published together.
  template <class T>
  static void initialize(const ParameterDictT<T>& params, const init::Initializer& default_init, bool force_reinit) {
    std::vector<typename ParameterT<T>::Initialization> steps;
    for (const auto& p : params) steps.push_back(p->prepare_initialize(default_init, force_reinit));
    std::unique_lock<std::shared_mutex> lock(parameter_mutex());
    for (auto& step : steps) step.param->apply_initialize(step, force_reinit);
  }
};
}  // namespace detail

/// The parameter values one call sees. The outermost block call on a thread
/// pins the current values of its block's parameters together, and data()
/// inside that call returns them: a forward that reads its parameters one
/// by one sees one generation while another thread publishes new ones.
/// Nested calls use the outer pin; a trace pins nothing (it reads symbols).
template <class T>
class PinnedParameters {
 public:
  /// Pins the parameters that `visit(add)` passes to add(const ParameterT*),
  /// unless this thread is already inside a pinned call or is tracing.
  template <class Visit>
  explicit PinnedParameters(Visit&& visit) {
    if (current() != nullptr || trace::active_trace<T>() != nullptr) return;
    visit([this](const ParameterT<T>* param) { pinned_.emplace_back(param, TensorT<T>()); });
    detail::ParameterAccess::read_pinned<T>(pinned_);
    current() = this;
    owner_ = true;
  }
  ~PinnedParameters() {
    if (owner_) current() = nullptr;
  }
  PinnedParameters(const PinnedParameters&) = delete;
  PinnedParameters& operator=(const PinnedParameters&) = delete;

  /// This thread's pinned value of `param`, or null.
  static const TensorT<T>* find(const ParameterT<T>* param) {
    const PinnedParameters* pin = current();
    return pin ? pin->lookup(param) : nullptr;
  }

  /// A value this thread published during its own pinned call replaces the pinned one.
  static void replace(const ParameterT<T>* param, const TensorT<T>& value) {
    if (PinnedParameters* pin = current())
      for (auto& entry : pin->pinned_)
        if (entry.first == param) entry.second = value;
  }

 private:
  friend struct detail::ParameterAccess;

  static PinnedParameters*& current() {
    thread_local PinnedParameters* pin = nullptr;
    return pin;
  }

  const TensorT<T>* lookup(const ParameterT<T>* param) const {
    for (const auto& entry : pinned_)
      if (entry.first == param) return &entry.second;
    return nullptr;
  }

  std::vector<std::pair<const ParameterT<T>*, TensorT<T>>> pinned_;
  bool owner_ = false;
};

}  // namespace hybrid::nn
