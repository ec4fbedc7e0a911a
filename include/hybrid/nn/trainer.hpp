#pragma once
// TrainerT<T>: applies an optimizer to a set of parameters after backward(),
// as Gluon's Trainer.
//
//   nn::Trainer trainer(net.collect_params(), "sgd", {{"learning_rate", 0.1}, {"momentum", 0.9}});
//   {
//     auto rec = autograd::record();
//     auto loss = loss_fn(net(x), y);
//   }
//   loss.backward();
//   trainer.step(batch_size);   // gradients scaled by rescale_grad / batch_size
//
// Parameter i of the dict is the optimizer's index i. step() checks every
// parameter before it updates any: one whose grad_req is "null" is skipped;
// one whose gradient no backward() wrote since the last step (a stale
// gradient) is an error naming every such parameter, unless
// ignore_stale_grad, which skips them (Gluon's rule). Each update runs the
// optimizer's loop on the value in place when nothing else holds its
// storage, and otherwise on a copy published as the new value, so handles
// taken with data() and calls running on other threads keep the old values
// (ParameterAccess::update, docs/ARCHITECTURE.md "Training").
//
// kvstore (Gluon's name): "device" (the default) or "local" update from this
// process's gradients alone; "dist_sync" sums every gradient over all
// processes first, through the GradientReducer that a live dist::Context
// registers (hybrid/dist.hpp), and scales it by rescale_grad / (batch_size *
// processes): step(batch_size) takes the batch of this process, so p
// processes with batches of b samples update exactly as one process with a
// batch of p * b (up to the order of float sums). Every process must step the
// same parameters, in the same order. "dist_sync" also averages the
// non-trainable parameters (grad_req "null") that changed since the last
// step (BatchNorm's running statistics, which each process updates from its
// own part of the batch): their values are summed over the processes in the
// same exchange as the gradients and divided by p, so every process holds
// the same model after each step (docs/distributed.md, "Running statistics").
// When the reducer overlaps with backward (dist::Settings::overlap_backward),
// the trainer, from its first step on, hooks its trainable parameters'
// gradients so that backward hands each one to the exchange as soon as it is
// final; step() then only collects the sums. The gradients are summed as
// backward leaves them: a change made to them between backward and step is
// not seen, and a backward through the parameters on some processes only
// must be followed by a step on all (docs/distributed.md, "Overlap with
// backward").
//
// save_states / load_states: a safetensors file with one tensor per state
// array, named "<parameter>.<state>" ("0.weight.momentum", "0.bias.mean"),
// and metadata: "optimizer" (its name), "steps.<parameter>" (its step count,
// for every parameter, 0 when it has no state) and "option.<name>" (the
// options, for reference; loading does not change them). A load checks the
// whole file against the trainer before it replaces any state.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "../io/safetensors.hpp"
#include "../optim/optimizer.hpp"
#include "gradient_reducer.hpp"
#include "parameter.hpp"

namespace hybrid::nn {

template <class T>
class TrainerT {
 public:
  /// `optimizer`: "sgd", "adam" or "adamw"; `options` by Gluon's names;
  /// `kvstore`: "device", "local" or "dist_sync" (see the top of this file).
  /// Error names an unknown optimizer, option or kvstore, or an invalid value.
  TrainerT(const ParameterDictT<T>& params, const std::string& optimizer, const optim::Options& options = {},
           const std::string& kvstore = "device")
      : TrainerT(params, optim::create(optimizer, options), kvstore) {}

  /// With an optimizer object (optim::SGD, optim::Adam, optim::AdamW or
  /// your own). One optimizer serves one trainer: it keeps its states by
  /// parameter index.
  TrainerT(const ParameterDictT<T>& params, std::shared_ptr<optim::Optimizer> optimizer,
           const std::string& kvstore = "device")
      : optimizer_(std::move(optimizer)), kvstore_(kvstore) {
    if (!optimizer_) throw Error("Trainer: the optimizer is null");
    if (kvstore_ == "dist_sync") {
      distributed_ = true;
      reducer();  // fails now rather than at the first step
    } else if (kvstore_ != "device" && kvstore_ != "local") {
      throw Error("Trainer: unknown kvstore '" + kvstore_ + "'; expected \"device\", \"local\" or \"dist_sync\"");
    }
    for (const auto& p : params) params_.push_back(p);
    selected_.reserve(params_.size());
    for (const auto& p : params_) versions_.push_back(detail::ParameterAccess::version(*p));
  }
  // A copy would share the optimizer, and so its states, with the original.
  TrainerT(const TrainerT&) = delete;
  TrainerT& operator=(const TrainerT&) = delete;
  TrainerT(TrainerT&&) noexcept = default;
  TrainerT& operator=(TrainerT&&) noexcept = default;

  /// One update of every parameter with a fresh gradient, scaled by
  /// rescale_grad / batch_size. All checks run before the first update.
  void step(int64_t batch_size, bool ignore_stale_grad = false) {
    if (batch_size <= 0)
      throw Error("Trainer::step: batch_size must be positive, got " + std::to_string(batch_size));
    selected_.clear();
    std::vector<std::string> stale, uninitialized, mismatched;  // empty unless something is wrong
    for (size_t i = 0; i < params_.size(); ++i) {
      ParameterT<T>& p = *params_[i];
      bool skip = false, fresh = false;
      {
        std::shared_lock<std::shared_mutex> lock(detail::parameter_mutex());
        const auto& meta = detail::ParameterAccess::grad_meta(p);
        skip = meta->req == autograd::GradReq::null;
        fresh = meta->fresh;
      }
      if (skip) continue;
      if (!p.is_initialized()) {
        uninitialized.push_back(p.name());
        continue;
      }
      if (!fresh) {
        if (!ignore_stale_grad) stale.push_back(p.name());
        continue;
      }
      const optim::ParamState* s = optimizer_->state(i);
      if (s && (s->dtype != dtype_of<T>() || (!optimizer_->state_names().empty() && s->size != p.size())))
        mismatched.push_back(p.name() + " (" + std::to_string(p.size()) + " values, its state " +
                             std::to_string(s->size) + " " + to_string(s->dtype) + ")");
      selected_.push_back(i);
    }
    if (!uninitialized.empty())
      throw Error("Trainer::step: parameters not initialized: " + optim::detail::join(uninitialized) +
                  " (call initialize() and, for deferred shapes, run one forward pass). Nothing was updated");
    if (!stale.empty())
      throw Error("Trainer::step: no backward() wrote the gradient of " + optim::detail::join(stale) +
                  " since the last step (stale gradients); run backward() first, or pass ignore_stale_grad = "
                  "true to skip those parameters. Nothing was updated");
    if (!mismatched.empty())
      throw Error("Trainer::step: the optimizer's state does not fit " + optim::detail::join(mismatched) +
                  ". Nothing was updated");

    double scale = 1.0 / static_cast<double>(batch_size);
    std::shared_ptr<GradientReducer> reducer;
    if (distributed_) {
      // Sum over the processes, then average over all their samples.
      reducer = this->reducer();
      changed_states();
      grads_.clear();
      if (overlap_) {
        // The exchange has the slots backward reported; the rest (a parameter
        // outside its plan, the changed states) follows it.
        slot_grads_.assign(overlap_->slot_params.size(), nullptr);
        for (size_t i : selected_) {
          TensorT<T>* g = &detail::ParameterAccess::grad_meta(*params_[i])->grad;
          const size_t slot = overlap_->slot_of[i];
          if (slot < slot_grads_.size()) slot_grads_[slot] = g;
          else grads_.push_back(g);
        }
        for (TensorT<T>& s : states_) grads_.push_back(&s);
        // The plan after this step is agreed on with the sums, before any update.
        next_slots_.clear();
        if (reducer->overlaps()) next_slots_ = trainable_slots();
        overlap_->exchange->finish(slot_grads_, grads_, plan_hash(next_slots_));
      } else {
        for (size_t i : selected_) grads_.push_back(&detail::ParameterAccess::grad_meta(*params_[i])->grad);
        // The changed non-trainable values ride in the same buckets, after the gradients.
        for (TensorT<T>& s : states_) grads_.push_back(&s);
        reducer->reduce(grads_);
      }
      scale /= static_cast<double>(reducer->size());
    }
    optim::Optimizer& opt = *optimizer_;
    for (size_t i : selected_) {
      const auto& meta = detail::ParameterAccess::grad_meta(*params_[i]);
      // Runs under the parameter lock, held exclusively.
      detail::ParameterAccess::update(*params_[i], [&](T* value, const T* grad, int64_t n) {
        opt.update(i, value, grad, n, scale);
        meta->fresh = false;
      });
    }
    if (!states_.empty()) publish_state_averages(reducer->size());
    if (reducer && reducer->checks_parameters()) {
      std::vector<TensorT<T>> values;
      detail::ParameterAccess::read_values<T>(params_, values, /*skip_uninitialized=*/true);
      reducer->check_parameters(values);
    }
    if (reducer) update_overlap(*reducer);
  }

  /// "device", "local" or "dist_sync".
  const std::string& kvstore() const { return kvstore_; }

  double learning_rate() const { return optimizer_->learning_rate(); }
  /// Changes the learning rate of the next steps (Error if negative).
  void set_learning_rate(double lr) { optimizer_->set_learning_rate(lr); }
  optim::Optimizer& optimizer() const { return *optimizer_; }
  /// The parameters, in the optimizer's index order.
  const std::vector<std::shared_ptr<ParameterT<T>>>& params() const { return params_; }

  /// Writes every parameter's optimizer state to `path` (see the top of this
  /// file). `extra_metadata` is added to the file's metadata (the trainer's
  /// own keys take precedence); load_states ignores keys it does not know.
  void save_states(const std::string& path, const std::map<std::string, std::string>& extra_metadata = {}) const {
    const optim::Optimizer& opt = *optimizer_;
    std::vector<io::safetensors::Entry> entries;
    std::map<std::string, std::string> metadata = extra_metadata;
    metadata["optimizer"] = opt.name();
    for (const auto& [name, value] : opt.options()) metadata["option." + name] = optim::detail::format_value(value);
    for (size_t i = 0; i < params_.size(); ++i) {
      const ParameterT<T>& p = *params_[i];
      const optim::ParamState* s = opt.state(i);
      metadata["steps." + p.name()] = std::to_string(s ? s->steps : 0);
      if (!s) continue;
      if (s->dtype != dtype_of<T>())
        throw Error("Trainer::save_states('" + path + "'): the state of parameter '" + p.name() + "' is " +
                    to_string(s->dtype) + ", not " + to_string(dtype_of<T>()));
      Shape shape = p.shape();
      if (numel(shape) != s->size) shape = Shape{s->size};
      for (const auto& state : opt.state_names())
        entries.push_back(io::safetensors::Entry{p.name() + "." + state, dtype_of<T>(), shape,
                                                 s->size ? opt.state_data<T>(i, state) : nullptr});
    }
    io::safetensors::write(path, entries, metadata);
  }

  /// Replaces every parameter's optimizer state with the file's. The whole
  /// file is checked first; a file of another optimizer, a parameter or
  /// entry the trainer lacks or the file lacks, or a dtype or shape that
  /// does not fit is FormatError naming the file and the entry, and nothing
  /// changes. The options (learning rate and so on) stay as they are.
  void load_states(const std::string& path) {
    const io::safetensors::File file = io::safetensors::read(path);
    auto fail = [&](const std::string& what) {
      throw FormatError("Trainer::load_states('" + path + "'): " + what + ". Nothing was loaded");
    };
    const optim::Optimizer& opt = *optimizer_;
    const auto& meta = file.metadata();
    const auto name_it = meta.find("optimizer");
    if (name_it == meta.end()) fail("no 'optimizer' in the metadata: not a trainer states file");
    if (name_it->second != opt.name())
      fail("the file holds the states of optimizer '" + name_it->second + "' but this trainer uses '" + opt.name() +
           "'");

    std::map<std::string, size_t> index;
    for (size_t i = 0; i < params_.size(); ++i) index.emplace(params_[i]->name(), i);
    const std::string steps_prefix = "steps.";
    for (const auto& [key, value] : meta)
      if (key.compare(0, steps_prefix.size(), steps_prefix) == 0 && !index.count(key.substr(steps_prefix.size())))
        fail("metadata '" + key + "': this trainer has no parameter '" + key.substr(steps_prefix.size()) + "'");

    std::vector<optim::ParamState> states(params_.size());
    std::set<std::string> expected;
    for (size_t i = 0; i < params_.size(); ++i) {
      const ParameterT<T>& p = *params_[i];
      const auto it = meta.find(steps_prefix + p.name());
      if (it == meta.end()) fail("parameter '" + p.name() + "' is missing (no 'steps." + p.name() + "' metadata)");
      const int64_t steps = parse_count(it->second);
      if (steps < 0) fail("metadata 'steps." + p.name() + "' is '" + it->second + "', not a step count");
      if (steps == 0) continue;
      optim::ParamState& s = states[i];
      s.dtype = dtype_of<T>();
      s.steps = steps;
      s.size = numel(p.shape());
      const Shape shape = p.shape();
      Shape first;
      for (const auto& state : opt.state_names()) {
        const std::string entry = p.name() + "." + state;
        expected.insert(entry);
        const io::safetensors::TensorInfo* info = file.find(entry);
        if (!info) fail("entry '" + entry + "' is missing");
        if (info->dtype != dtype_of<T>())
          fail("entry '" + entry + "' is " + to_string(info->dtype) + " but parameter '" + p.name() + "' is " +
               to_string(dtype_of<T>()));
        if (!shape_compatible(shape, info->shape))
          fail("entry '" + entry + "' has shape " + to_string(info->shape) + " but parameter '" + p.name() +
               "' has shape " + to_string(shape));
        if (state != opt.state_names().front() && info->shape != first)
          fail("entry '" + entry + "' has shape " + to_string(info->shape) + " but entry '" + p.name() + "." +
               opt.state_names().front() + "' has shape " + to_string(first));
        first = info->shape;
        s.size = numel(info->shape);
      }
    }
    for (const auto& t : file.tensors())
      if (!expected.count(t.name))
        fail("unexpected entry '" + t.name + "' (not a state of a parameter of this trainer with a step count above 0)");

    // Everything fits: read the values, then swap them in at once.
    for (size_t i = 0; i < params_.size(); ++i) {
      optim::ParamState& s = states[i];
      if (s.steps == 0) continue;
      std::vector<T>& values = s.values<T>();
      values.reserve(opt.state_names().size() * static_cast<size_t>(s.size));
      for (const auto& state : opt.state_names()) {
        const TensorT<T> t = file.tensor<T>(*file.find(params_[i]->name() + "." + state));
        values.insert(values.end(), t.data(), t.data() + t.size());
      }
    }
    optimizer_->swap_states(states);
  }

 private:
  /// A decimal count ("0", "12"), or -1.
  static int64_t parse_count(const std::string& text) {
    if (text.empty() || text.size() > 18) return -1;
    int64_t n = 0;
    for (char c : text) {
      if (c < '0' || c > '9') return -1;
      n = n * 10 + (c - '0');
    }
    return n;
  }

  /// "dist_sync": copies of the non-trainable parameters (grad_req "null")
  /// published since the last step into states_, in parameter order.
  void changed_states() {
    state_params_.clear();
    states_.clear();
    for (size_t i = 0; i < params_.size(); ++i) {
      ParameterT<T>& p = *params_[i];
      bool trainable = false;
      {
        std::shared_lock<std::shared_mutex> lock(detail::parameter_mutex());
        trainable = detail::ParameterAccess::grad_meta(p)->req != autograd::GradReq::null;
      }
      if (trainable || detail::ParameterAccess::version(p) == versions_[i] || !p.is_initialized()) continue;
      state_params_.push_back(i);
    }
    if (state_params_.empty()) return;
    std::vector<std::shared_ptr<ParameterT<T>>> changed;
    for (size_t i : state_params_) changed.push_back(params_[i]);
    detail::ParameterAccess::read_values<T>(changed, states_);
    // The reducer sums in place; the values are the parameters' published snapshots.
    for (TensorT<T>& s : states_) s = s.clone();
  }

  /// Divides the summed states by the number of processes (the same
  /// operation on every process, so the same bits) and publishes them together.
  void publish_state_averages(int processes) {
    std::vector<std::pair<ParameterT<T>*, TensorT<T>>> updates;
    const T p = static_cast<T>(processes);
    for (size_t k = 0; k < states_.size(); ++k) {
      T* v = states_[k].data();
      for (int64_t j = 0; j < states_[k].size(); ++j) v[j] /= p;
      updates.emplace_back(params_[state_params_[k]].get(), std::move(states_[k]));
    }
    states_.clear();
    detail::ParameterAccess::publish(updates, "Trainer::step (the average of a non-trainable parameter)");
    for (size_t i : state_params_) versions_[i] = detail::ParameterAccess::version(*params_[i]);
  }

  /// Hooks, on the gradients of the trainable parameters, the exchange a
  /// reducer that overlaps with backward plans for them.
  struct Overlap {
    std::shared_ptr<OverlappedReduce<T>> exchange;
    std::vector<size_t> slot_params;  // per slot: the parameter's index, last parameter first
    std::vector<size_t> slot_of;      // per parameter: its slot, or SIZE_MAX
    std::vector<std::shared_ptr<autograd::MetaT<T>>> metas;
    std::vector<std::shared_ptr<autograd::GradHookT<T>>> hooks;

    struct SlotHook final : autograd::GradHookT<T> {
      std::weak_ptr<OverlappedReduce<T>> exchange;
      size_t slot = 0;
      void ready(const T* grad, int64_t) override {
        if (auto e = exchange.lock()) e->ready(slot, grad);
      }
      void abandoned() override {
        if (auto e = exchange.lock()) e->abandon();
      }
    };
    Overlap() = default;
    Overlap(const Overlap&) = delete;
    Overlap& operator=(const Overlap&) = delete;
    ~Overlap() {
      std::unique_lock<std::shared_mutex> lock(detail::parameter_mutex());
      for (size_t k = 0; k < metas.size(); ++k)
        if (metas[k]->on_ready == hooks[k]) metas[k]->on_ready = nullptr;
    }
  };

  /// The parameters that are trainable and initialized now, last first
  /// (backward finishes them roughly in that order): the exchange's slots.
  std::vector<size_t> trainable_slots() const {
    std::vector<size_t> slots;
    for (size_t i = params_.size(); i-- > 0;) {
      ParameterT<T>& p = *params_[i];
      bool trainable = false;
      {
        std::shared_lock<std::shared_mutex> lock(detail::parameter_mutex());
        trainable = detail::ParameterAccess::grad_meta(p)->req != autograd::GradReq::null;
      }
      if (trainable && p.is_initialized()) slots.push_back(i);
    }
    return slots;
  }

  uint64_t plan_hash(const std::vector<size_t>& slots) const {
    uint64_t h = 1469598103934665603ull;  // FNV-1a over (index, size) pairs
    for (size_t i : slots)
      for (uint64_t v : {static_cast<uint64_t>(i), static_cast<uint64_t>(params_[i]->size())})
        for (int byte = 0; byte < 8; ++byte) h = (h ^ ((v >> (8 * byte)) & 0xff)) * 1099511628211ull;
    return h;
  }

  /// After a step: (re)opens the overlapped exchange when the reducer
  /// overlaps, over trainable_slots(); closes it when the reducer stops
  /// overlapping. With an exchange open, the new slots were agreed on in
  /// finish(); the first one is opened by every process at its first step.
  void update_overlap(GradientReducer& reducer) {
    const std::vector<size_t> slots =
        overlap_ ? next_slots_ : (reducer.overlaps() ? trainable_slots() : std::vector<size_t>{});
    if (slots.empty()) {
      overlap_.reset();
      return;
    }
    if (overlap_ && overlap_->slot_params == slots) return;
    overlap_.reset();
    std::vector<int64_t> sizes;
    for (size_t i : slots) sizes.push_back(params_[i]->size());
    std::shared_ptr<OverlappedReduce<T>> exchange = reducer.overlap(sizes, static_cast<T*>(nullptr));
    if (!exchange) return;
    auto o = std::make_unique<Overlap>();
    o->exchange = exchange;
    o->slot_params = slots;
    o->slot_of.assign(params_.size(), SIZE_MAX);
    std::unique_lock<std::shared_mutex> lock(detail::parameter_mutex());
    for (size_t k = 0; k < slots.size(); ++k) {
      o->slot_of[slots[k]] = k;
      auto hook = std::make_shared<typename Overlap::SlotHook>();
      hook->exchange = exchange;
      hook->slot = k;
      const auto& meta = detail::ParameterAccess::grad_meta(*params_[slots[k]]);
      meta->on_ready = hook;
      o->metas.push_back(meta);
      o->hooks.push_back(std::move(hook));
    }
    lock.unlock();
    overlap_ = std::move(o);
  }

  std::shared_ptr<GradientReducer> reducer() const {
    std::shared_ptr<GradientReducer> r = gradient_reducer();
    if (!r) throw Error("Trainer: kvstore 'dist_sync' needs hybrid/dist.hpp and a live dist::Context");
    return r;
  }

  std::shared_ptr<optim::Optimizer> optimizer_;
  std::string kvstore_;
  bool distributed_ = false;
  std::vector<std::shared_ptr<ParameterT<T>>> params_;
  std::vector<size_t> selected_;  // step()'s plan, reused so a step allocates nothing
  std::vector<TensorT<T>*> grads_;  // "dist_sync": the gradients handed to the reducer, then states_
  std::vector<uint64_t> versions_;  // each parameter's version after the last step (non-trainable ones matter)
  std::vector<size_t> state_params_;  // "dist_sync": the non-trainable parameters that changed, and
  std::vector<TensorT<T>> states_;    // copies of their values, summed by the reducer
  std::unique_ptr<Overlap> overlap_;  // "dist_sync" overlapping with backward
  std::vector<TensorT<T>*> slot_grads_;  // step(): the gradient of each of its slots, or null
  std::vector<size_t> next_slots_;       // step(): the slots agreed on for the next steps
};

using Trainer = TrainerT<float>;

}  // namespace hybrid::nn
