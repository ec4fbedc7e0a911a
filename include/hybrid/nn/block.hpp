#pragma once
// BlockT<T>: Gluon's Block. A block owns parameters and child blocks, both
// held by std::shared_ptr so that moving a block (returning it from a
// factory) keeps their identity. Names are structural: a child registered as
// "hidden" gives its parameters the prefix "hidden.", so a parameter's name()
// is its full dotted path ("hidden.weight", "0.bias").
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "parameter_file.hpp"
#include "hybridize_options.hpp"
#include "parameter.hpp"
#include "summary.hpp"

namespace hybrid::nn {

namespace detail {
/// While set, hybridized blocks run their forward eagerly (summary() needs
/// every layer's forward to run so its hooks fire).
inline bool& eager_only() {
  thread_local bool flag = false;
  return flag;
}
class EagerScope {
 public:
  EagerScope() : saved_(eager_only()) { eager_only() = true; }
  ~EagerScope() { eager_only() = saved_; }
  EagerScope(const EagerScope&) = delete;
  EagerScope& operator=(const EagerScope&) = delete;

 private:
  bool saved_;
};
}  // namespace detail

template <class T>
class BlockT {
 public:
  using ParamPtr = std::shared_ptr<ParameterT<T>>;
  using BlockPtr = std::shared_ptr<BlockT<T>>;
  /// Called after a block's forward with its input and output (Gluon's forward hook).
  using ForwardHook = std::function<void(const BlockT&, const TensorT<T>& input, const TensorT<T>& output)>;

  BlockT() = default;
  virtual ~BlockT() = default;
  BlockT(BlockT&&) noexcept = default;
  BlockT& operator=(BlockT&&) noexcept = default;
  BlockT(const BlockT&) = delete;
  BlockT& operator=(const BlockT&) = delete;

  /// The computation of a block with one input and one output; most
  /// layers override this one.
  virtual TensorT<T> forward(const TensorT<T>& x) {
    if (defaulting() == this)
      throw Error(error_context() + "overrides neither forward(x) nor forward_many(inputs)");
    const DefaultingScope scope(this);
    return single_output(forward_many({x}), "forward");
  }

  /// The computation of a block with several inputs or several outputs (a
  /// loss takes (pred, label)); such blocks override this one. The default
  /// passes a single input to forward(x).
  virtual std::vector<TensorT<T>> forward_many(const std::vector<TensorT<T>>& inputs) {
    if (inputs.size() != 1)
      throw Error(error_context() + "called with " + std::to_string(inputs.size()) +
                  " inputs but takes one (a block with several inputs overrides forward_many)");
    if (defaulting() == this)
      throw Error(error_context() + "overrides neither forward(x) nor forward_many(inputs)");
    const DefaultingScope scope(this);
    return {forward(inputs[0])};
  }

  /// Calls the block: forward, then the forward hooks, with the parameter
  /// values the call started with (see PinnedParameters).
  virtual TensorT<T> operator()(const TensorT<T>& x) {
    const PinnedParameters<T> pinned = pin_parameters();
    return run_forward_hooks(x, forward(x));
  }

  /// block(a, b, ...): a block of several inputs and one output.
  template <class... More>
  TensorT<T> operator()(const TensorT<T>& a, const TensorT<T>& b, const More&... more) {
    return single_output(call({a, b, TensorT<T>(more)...}), "call");
  }

  /// Calls the block on any number of inputs and returns all its outputs.
  std::vector<TensorT<T>> call(const std::vector<TensorT<T>>& inputs) { return call_many(inputs); }

  /// The layer's type, e.g. "Dense".
  virtual std::string type_name() const { return "Block"; }
  /// Type and configuration for summary(), e.g. "Dense(512 -> 256, relu)".
  virtual std::string describe() const { return type_name(); }
  /// True for HybridBlocks, which can be traced into a graph.
  virtual bool is_hybrid() const { return false; }

  /// A plain Block cannot be traced; like Gluon it passes the call on to its children.
  virtual void hybridize(bool active = true, const HybridizeOptions& options = {}) {
    for (auto& child : children_) child.second->hybridize(active, options);
  }

  /// Registers `block` (moved in) as the child `name` and returns it.
  template <class B, class = std::enable_if_t<std::is_base_of_v<BlockT<T>, B> && !std::is_lvalue_reference_v<B>>>
  std::shared_ptr<B> register_block(std::string name, B&& block) {
    return register_block(std::move(name), std::make_shared<B>(std::move(block)));
  }

  /// Registers a shared child; the same block may be registered in several places.
  template <class B>
  std::shared_ptr<B> register_block(std::string name, std::shared_ptr<B> block) {
    static_assert(std::is_base_of_v<BlockT<T>, B>, "register_block: not a block of this element type");
    check_new_name(name, "child block");
    if (!block) throw Error(error_context() + "register_block('" + name + "'): the block is null");
    if (static_cast<const BlockT*>(block.get()) == this)
      throw Error(error_context() + "register_block('" + name + "'): a block cannot be its own child");
    block->set_prefix(prefix_ + name + ".");
    child_names_.insert(name);
    children_.emplace_back(std::move(name), block);
    return block;
  }

  /// Registers a parameter; a 0 in `shape` is a dimension inferred on the
  /// first forward. `init` overrides the initializer given to initialize().
  ParamPtr register_parameter(std::string name, const Shape& shape,
                              std::shared_ptr<const init::Initializer> init = nullptr) {
    check_new_name(name, "parameter");
    auto p = std::make_shared<ParameterT<T>>(prefix_ + name, shape, std::move(init));
    param_names_.insert(name);
    params_.emplace_back(std::move(name), p);
    return p;
  }

  /// Registers a parameter under a full dotted name as it stands in a file
  /// ("0.weight"), for blocks rebuilt from an exported graph.
  ParamPtr register_parameter_path(const std::string& path, const Shape& shape) {
    if (path.empty()) throw Error(error_context() + "a parameter name must not be empty");
    if (param_names_.count(path))
      throw Error(error_context() + "the name '" + path + "' is already used by a parameter");
    auto p = std::make_shared<ParameterT<T>>(prefix_ + path, shape, nullptr);
    param_names_.insert(path);
    params_.emplace_back(path, p);
    return p;
  }

  /// Children in registration order, with their local names.
  const std::vector<std::pair<std::string, BlockPtr>>& children() const { return children_; }
  /// This block's own parameters (not its children's), with their local names.
  const std::vector<std::pair<std::string, ParamPtr>>& own_params() const { return params_; }
  /// "hidden." for a child registered as "hidden"; empty for a root block.
  const std::string& prefix() const { return prefix_; }

  /// Every parameter: this block's own in registration order, then each
  /// child's, recursively (Gluon's order). Shared parameters appear once.
  ParameterDictT<T> collect_params() const {
    ParameterDictT<T> dict;
    collect_into(dict);
    return dict;
  }

  /// Initializes every parameter (Gluon's default: Uniform(0.07)); biases of
  /// Dense layers use their own zero initializer. With `force_reinit` the new
  /// values are published together, as load_parameters() does.
  void initialize(const init::Initializer& init = init::Uniform(0.07), bool force_reinit = false) {
    detail::ParameterAccess::initialize(collect_params(), init, force_reinit);
  }

  void save_parameters(const std::string& path) const { nn::save_parameters(collect_params(), path); }
  void load_parameters(const std::string& path, bool allow_missing = false, bool ignore_extra = false) {
    nn::load_parameters(collect_params(), path, allow_missing, ignore_extra);
  }

  /// Adds a hook run after every call of this block; returns its id.
  size_t register_forward_hook(ForwardHook hook) {
    hooks_.emplace_back(next_hook_id_, std::move(hook));
    return next_hook_id_++;
  }
  void remove_forward_hook(size_t id) {
    for (auto it = hooks_.begin(); it != hooks_.end(); ++it)
      if (it->first == id) {
        hooks_.erase(it);
        return;
      }
  }

  /// Runs `x` through the block eagerly and prints each layer's name, type,
  /// output shape and parameter count, and the total.
  void summary(const TensorT<T>& x, std::ostream& os = std::cout);

 protected:
  /// Pins this block's parameter values for the call on this thread, unless
  /// an outer call already did.
  PinnedParameters<T> pin_parameters() const {
    return PinnedParameters<T>([self = this](const auto& add) { self->visit_params(add); });
  }

  // Every parameter of the subtree, a shared one possibly more than once.
  template <class F>
  void visit_params(const F& f) const {
    for (const auto& p : params_) f(p.second.get());
    for (const auto& c : children_) c.second->visit_params(f);
  }

  /// What call() runs; HybridBlock replays a plan instead.
  virtual std::vector<TensorT<T>> call_many(const std::vector<TensorT<T>>& inputs) {
    for (const auto& x : inputs)
      if (!x.defined()) throw Error(error_context() + "called with an undefined tensor");
    const PinnedParameters<T> pinned = pin_parameters();
    std::vector<TensorT<T>> outs = forward_many(inputs);
    if (!inputs.empty() && !outs.empty())
      for (const auto& h : hooks_) h.second(*this, inputs[0], outs[0]);
    return outs;
  }

  TensorT<T> single_output(std::vector<TensorT<T>> outs, const char* what) const {
    if (outs.size() != 1)
      throw Error(error_context() + what + " gives " + std::to_string(outs.size()) +
                  " outputs; call(inputs) returns all of them");
    return std::move(outs[0]);
  }

  TensorT<T> run_forward_hooks(const TensorT<T>& x, TensorT<T> y) {
    for (const auto& h : hooks_) h.second(*this, x, y);
    return y;
  }

  /// "Dense 'hidden': " — the prefix of this block's error messages.
  std::string error_context() const {
    const std::string path = prefix_.empty() ? "" : prefix_.substr(0, prefix_.size() - 1);
    return type_name() + (path.empty() ? "" : " '" + path + "'") + ": ";
  }

 private:
  // The block whose default forward/forward_many is running on this thread:
  // a block that overrides neither would otherwise recurse forever.
  static const BlockT*& defaulting() {
    thread_local const BlockT* block = nullptr;
    return block;
  }
  struct DefaultingScope {
    explicit DefaultingScope(const BlockT* b) : saved(defaulting()) { defaulting() = b; }
    ~DefaultingScope() { defaulting() = saved; }
    DefaultingScope(const DefaultingScope&) = delete;
    DefaultingScope& operator=(const DefaultingScope&) = delete;
    const BlockT* saved;
  };

  void check_new_name(const std::string& name, const char* kind) const {
    if (name.empty() || name.find('.') != std::string::npos)
      throw Error(error_context() + "invalid " + kind + " name '" + name + "': names must be non-empty and contain no '.'");
    if (child_names_.count(name))
      throw Error(error_context() + "the name '" + name + "' is already used by a child block");
    if (param_names_.count(name))
      throw Error(error_context() + "the name '" + name + "' is already used by a parameter");
  }

  // Parameter names are stored in full, so re-rooting a block renames its subtree.
  void set_prefix(const std::string& prefix) {
    prefix_ = prefix;
    for (auto& p : params_) p.second->set_name(prefix_ + p.first);
    for (auto& c : children_) c.second->set_prefix(prefix_ + c.first + ".");
  }


  void collect_into(ParameterDictT<T>& dict) const {
    for (const auto& p : params_) dict.add(p.second);
    for (const auto& c : children_) c.second->collect_into(dict);
  }

  std::string prefix_;
  std::vector<std::pair<std::string, ParamPtr>> params_;
  std::vector<std::pair<std::string, BlockPtr>> children_;
  // The local names above, so registering stays O(1) for blocks with many
  // parameters (an imported graph registers every one of its parameters).
  std::unordered_set<std::string> param_names_, child_names_;
  std::vector<std::pair<size_t, ForwardHook>> hooks_;
  size_t next_hook_id_ = 0;
};

template <class T>
void BlockT<T>::summary(const TensorT<T>& x, std::ostream& os) {
  std::vector<detail::SummaryRow> rows{{"", "Input", x.shape(), 0}};
  // Rows for leaf layers and for blocks that own parameters directly, so
  // containers (Sequential, a custom block of Dense children) are not repeated.
  std::vector<std::pair<BlockT*, size_t>> hooked;
  struct Unhook {
    std::vector<std::pair<BlockT*, size_t>>& hooked;
    ~Unhook() {
      for (auto& [block, id] : hooked) block->remove_forward_hook(id);
    }
  } unhook{hooked};
  std::function<void(BlockT&, const std::string&)> visit = [&](BlockT& b, const std::string& path) {
    if (b.children_.empty() || !b.params_.empty()) {
      const size_t id = b.register_forward_hook([&rows, path](const BlockT& blk, const TensorT<T>&, const TensorT<T>& y) {
        int64_t own = 0;
        for (const auto& p : blk.params_) own += p.second->size();  // after the forward: deferred shapes are known
        rows.push_back({path, blk.describe(), y.shape(), own});
      });
      hooked.emplace_back(&b, id);
    }
    for (auto& c : b.children_) visit(*c.second, path.empty() ? c.first : path + "." + c.first);
  };
  visit(*this, "");
  {
    detail::EagerScope eager;
    (*this)(x);
  }
  detail::print_summary(os, rows, collect_params().count());
}

using Block = BlockT<float>;

}  // namespace hybrid::nn
