#pragma once
// HybridBlockT<T>: a block whose forward uses only tensor operations, so it
// can be traced. After hybridize(), the first call for an input signature
// traces forward once into a graph, optimizes it and compiles a plan; later
// calls with that signature replay the plan and never run forward.
#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "../autograd/backward.hpp"
#include "../autograd/graph_backward.hpp"
#include "../exec/plan_cache.hpp"
#include "../io/graph_json.hpp"
#include "../io/safetensors.hpp"
#include "../passes/lower_mode.hpp"
#include "../passes/pipeline.hpp"
#include "../trace/trace_function.hpp"
#include "block.hpp"
#include "hybridize_options.hpp"

namespace hybrid::nn {

template <class T>
class HybridBlockT : public BlockT<T> {
 public:
  HybridBlockT() = default;
  HybridBlockT(HybridBlockT&&) noexcept = default;
  HybridBlockT& operator=(HybridBlockT&&) noexcept = default;

  using BlockT<T>::operator();

  /// Eager unless hybridized. Inside an enclosing trace the forward is
  /// inlined, so a hybridized model becomes one graph, not one per child.
  /// Inside autograd::record() a hybridized call runs its forward plan and
  /// goes on the tape as one node whose backward is a plan too.
  TensorT<T> operator()(const TensorT<T>& x) override {
    if (!runs_compiled(x)) {
      const PinnedParameters<T> pinned = this->pin_parameters();
      return this->run_forward_hooks(x, this->forward(x));
    }
    if (records(&x, 1)) return this->run_forward_hooks(x, this->single_output(call_recorded(&x, 1), "forward"));
    TensorT<T> out[1];
    call_compiled(&x, 1, out, 1);
    return this->run_forward_hooks(x, std::move(out[0]));
  }

  /// Switches compiled calls on or off and drops the compiled plans. Safe
  /// while other threads call the block: calls in flight finish as they
  /// started, and a plan still compiling with the old options is not kept.
  void hybridize(bool active = true, const HybridizeOptions& options = {}) override {
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      state_->options = options;
      state_->active.store(active, std::memory_order_release);
      state_->plans.clear();
    }
    BlockT<T>::hybridize(active, options);
  }

  bool is_hybridized() const { return state_->active.load(std::memory_order_acquire); }
  HybridizeOptions hybridize_options() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->options;
  }
  bool is_hybrid() const override { return true; }
  std::string type_name() const override { return "HybridBlock"; }

  /// Op names of the compiled plan that ran last, in execution order
  /// (inputs, parameters and constants are not ops).
  std::vector<std::string> graph_ops() const { return last_plan("graph_ops")->exe->op_names(); }
  /// Graphviz DOT of the compiled graph that ran last.
  std::string graph_dot() const { return graph::to_dot(last_plan("graph_dot")->exe->graph()); }
  /// One line per node of the compiled graph that ran last.
  std::string graph_text() const { return graph::to_text(last_plan("graph_text")->exe->graph()); }
  /// Bytes of intermediate memory the last plan uses per call (for a call
  /// inside autograd::record(): its forward and backward plans together).
  int64_t arena_bytes() const {
    const std::shared_ptr<const Compiled> plan = last_plan("arena_bytes");
    return plan->exe->arena_bytes() + (plan->backward ? plan->backward->arena_bytes() : 0);
  }
  /// How many signatures have a compiled plan (at most exec::PlanCache::kMaxPlans).
  size_t cached_plans() const { return state_->plans.size(); }

  /// The graph an export writes, from the last hybridized call: the traced
  /// graph optimized without fusion (fused nodes are executor-internal, so
  /// it holds portable ops only), and the value of each parameter variable,
  /// in graph order. The values are one generation, so this is safe while
  /// other threads call the block or load parameters.
  struct PortableGraph {
    graph::Graph<T> graph;
    std::vector<TensorT<T>> param_values;  // one per graph.variables(VarKind::param)
  };
  PortableGraph portable_graph(const char* what = "export_model") const {
    const std::shared_ptr<const Compiled> plan = last_plan(what);
    HybridizeOptions portable = plan->options;
    portable.fuse = false;  // fused nodes are executor-internal
    PortableGraph out{passes::optimize(plan->traced, portable), {}};
    std::unordered_map<std::string, std::shared_ptr<ParameterT<T>>> by_name;
    for (const auto& p : this->collect_params()) by_name[p->name()] = p;
    std::vector<std::shared_ptr<ParameterT<T>>> used;
    for (int v : out.graph.variables(graph::VarKind::param)) used.push_back(by_name.at(out.graph.nodes[v].name));
    detail::ParameterAccess::read_values<T>(used, out.param_values);
    return out;
  }

  /// Writes prefix-symbol.json (the graph, in portable ops) and
  /// prefix-NNNN.params (its parameters), from the last hybridized call.
  /// Safe while other threads call the block or load parameters: the
  /// parameters written are one generation.
  void export_model(const std::string& prefix, int epoch = 0) const {
    const PortableGraph p = portable_graph();
    const std::vector<int> variables = p.graph.variables(graph::VarKind::param);
    std::vector<io::safetensors::Entry> entries;
    for (size_t k = 0; k < variables.size(); ++k)
      entries.push_back(io::safetensors::entry(p.graph.nodes[variables[k]].name, p.param_values[k]));
    char suffix[32];
    std::snprintf(suffix, sizeof suffix, "-%04d.params", epoch);
    io::save_graph(p.graph, prefix + "-symbol.json");
    io::safetensors::write(prefix + suffix, entries, {{"format", "hybrid-params"}});
  }

 protected:
  std::vector<TensorT<T>> call_many(const std::vector<TensorT<T>>& inputs) override {
    bool compiled = !inputs.empty();
    for (const auto& x : inputs) {
      if (!x.defined()) throw Error(this->error_context() + "called with an undefined tensor");
      compiled = compiled && runs_compiled(x);
    }
    if (!compiled) return BlockT<T>::call_many(inputs);
    std::vector<TensorT<T>> outs;
    if (records(inputs.data(), inputs.size())) {
      outs = call_recorded(inputs.data(), inputs.size());
    } else {
      const std::shared_ptr<const Compiled> plan = plan_for(inputs.data(), inputs.size(), 0);
      outs.resize(static_cast<size_t>(plan->num_results + plan->num_states));
      run_plan(*plan, inputs.data(), inputs.size(), outs.data(), nullptr);
      outs.resize(static_cast<size_t>(plan->num_results));
    }
    this->run_forward_hooks(inputs[0], outs[0]);
    return outs;
  }

  bool runs_compiled(const TensorT<T>& x) const {
    return is_hybridized() && !x.is_traced() && trace::active_trace<T>() == nullptr && !detail::eager_only();
  }

  /// Replays the plan for the inputs' signature and mode, tracing and
  /// compiling it first if new; `outs` receives the block's n_outs outputs.
  void call_compiled(const TensorT<T>* inputs, size_t count, TensorT<T>* outs, size_t n_outs) {
    const std::shared_ptr<const Compiled> plan = plan_for(inputs, count, 0);
    if (static_cast<size_t>(plan->num_results) != n_outs)
      throw Error(this->error_context() + "forward gives " + std::to_string(plan->num_results) +
                  " outputs; call(inputs) returns all of them");
    if (plan->num_states == 0) return run_plan(*plan, inputs, count, outs, nullptr);
    std::vector<TensorT<T>> all(static_cast<size_t>(plan->num_results + plan->num_states));
    run_plan(*plan, inputs, count, all.data(), nullptr);
    std::move(all.begin(), all.begin() + plan->num_results, outs);
  }

 private:
  struct Compiled {
    graph::Graph<T> traced;                              // as recorded: what export starts from
    HybridizeOptions options;                            // what it was optimized with
    int num_results = 1;                                 // the block's outputs
    // Train-mode plans: outputs after the results are new values of these
    // parameters (running statistics), published after each run.
    int num_states = 0;
    std::vector<std::shared_ptr<ParameterT<T>>> updated;
    std::unique_ptr<exec::Executable<T>> exe;            // optimized and planned; for a recorded
                                                         // call its outputs also hold the saved values
    std::vector<std::shared_ptr<ParameterT<T>>> params;  // bound to exe's parameter variables, in order
    // Recorded calls only: the backward plan and what binds it.
    std::unique_ptr<exec::Executable<T>> backward;
    std::vector<autograd::BackwardInput> backward_inputs;    // per backward input variable
    std::vector<size_t> backward_param_slots;                // per backward parameter variable: its all_params index
    std::vector<size_t> grad_slots;                          // per backward output: the tape node input it is for
    std::string name;                                        // "Dense 'hidden'", for the tape's errors
    std::vector<std::shared_ptr<ParameterT<T>>> all_params;  // every parameter; the tape node's inputs
                                                             // are the call's inputs, then these
  };

  // Behind a pointer: it holds a mutex and an atomic, and blocks must stay movable.
  struct State {
    std::atomic<bool> active{false};
    std::mutex mutex;  // guards options; hybridize() also clears the plans under it
    HybridizeOptions options;
    exec::PlanCache<T, Compiled> plans;
  };

  // Plan modes: bit 0 training, bit 1 recorded (forward + backward), bits 2..
  // which inputs need gradients.
  static constexpr uint64_t kTraining = 1, kRecorded = 2;

  std::shared_ptr<const Compiled> plan_for(const TensorT<T>* inputs, size_t count, uint64_t grad_mask) {
    thread_local exec::PlanKey key;
    key.shapes.clear();
    for (size_t k = 0; k < count; ++k) key.shapes.push_back(inputs[k].shape());
    key.mode = (autograd::is_training() ? kTraining : 0) | (grad_mask ? kRecorded | (grad_mask << 2) : 0);
    return state_->plans.get(key, [&] { return compile(key); });
  }

  /// Runs `plan`'s forward: the results into outs[0..num_results), then its
  /// state updates (published to their parameters), then the saved values
  /// (recorded plans); the parameter values read are appended to
  /// `values_used` when given.
  void run_plan(const Compiled& plan, const TensorT<T>* inputs, size_t count, TensorT<T>* outs,
                std::vector<TensorT<T>>* values_used) const {
    thread_local std::vector<const T*> input_ptrs, param_ptrs;
    thread_local std::vector<TensorT<T>> param_values;
    input_ptrs.clear();
    for (size_t k = 0; k < count; ++k) input_ptrs.push_back(inputs[k].data());
    // One generation of the parameters, bound under one lock and held alive
    // for the call: a load publishing new values meanwhile does not reach it.
    struct Release {
      std::vector<TensorT<T>>& values;
      ~Release() { values.clear(); }
    } release{param_values};
    param_values.clear();
    detail::ParameterAccess::read_values<T>(plan.params, param_values);
    param_ptrs.clear();
    for (const TensorT<T>& v : param_values) param_ptrs.push_back(v.data());
    plan.exe->run(input_ptrs.data(), param_ptrs.data(), outs);
    if (values_used) values_used->insert(values_used->end(), param_values.begin(), param_values.end());
    if (plan.num_states) {
      std::vector<std::pair<ParameterT<T>*, TensorT<T>>> updates;
      for (int k = 0; k < plan.num_states; ++k)
        updates.emplace_back(plan.updated[static_cast<size_t>(k)].get(), outs[plan.num_results + k]);
      detail::ParameterAccess::publish(updates, "a running-statistics update");
    }
  }

  /// Inside autograd::record(), whether this call goes on the tape: an input
  /// or a parameter needs gradients.
  bool records(const TensorT<T>* inputs, size_t count) const {
    if (!autograd::is_recording()) return false;
    for (size_t k = 0; k < count; ++k)
      if (autograd::detail::needs_grad(inputs[k])) return true;
    bool any = false;
    this->visit_params([&](const ParameterT<T>* p) {
      any = any || detail::ParameterAccess::grad_meta(*p)->req != autograd::GradReq::null;
    });
    return any;
  }

  /// One hybridized call on the tape: its backward replays the backward plan.
  struct CallNode final : autograd::NodeT<T> {
    std::shared_ptr<const Compiled> plan;
    std::vector<TensorT<T>> saved, inputs_used, params_used;

    void backward(const std::vector<TensorT<T>>& grad_outputs, std::vector<TensorT<T>>& grad_inputs) override {
      run_plan(grad_outputs, grad_inputs, nullptr);
    }
    // Each parameter's gradient goes out as soon as the plan has computed it.
    void backward_early(const std::vector<TensorT<T>>& grad_outputs, std::vector<TensorT<T>>& grad_inputs,
                        const std::function<void(size_t, const TensorT<T>&)>& early) override {
      run_plan(grad_outputs, grad_inputs, &early);
    }
    void run_plan(const std::vector<TensorT<T>>& grad_outputs, std::vector<TensorT<T>>& grad_inputs,
                  const std::function<void(size_t, const TensorT<T>&)>* early) {
      const Compiled& c = *plan;
      std::vector<TensorT<T>> heads(grad_outputs.size());
      std::vector<const T*> in_ptrs, param_ptrs;
      for (const autograd::BackwardInput& b : c.backward_inputs) {
        if (b.kind == autograd::BackwardInput::saved) {
          in_ptrs.push_back(saved[static_cast<size_t>(b.index)].data());
        } else if (b.kind == autograd::BackwardInput::forward_input) {
          in_ptrs.push_back(inputs_used[static_cast<size_t>(b.index)].data());
        } else {
          TensorT<T>& h = heads[static_cast<size_t>(b.index)];
          h = grad_outputs[static_cast<size_t>(b.index)];
          if (!h.defined()) h = zeros<T>(c.traced.nodes[c.traced.outputs[b.index]].shape);
          in_ptrs.push_back(h.data());
        }
      }
      for (size_t k : c.backward_param_slots) param_ptrs.push_back(params_used[k].data());
      std::vector<TensorT<T>> grads(c.backward->graph().outputs.size());
      if (early) {
        const std::function<void(size_t)> ready = [&](size_t j) { (*early)(c.grad_slots[j], grads[j]); };
        c.backward->run(in_ptrs.data(), param_ptrs.data(), grads.data(), &ready);
      } else {
        c.backward->run(in_ptrs.data(), param_ptrs.data(), grads.data());
      }
      grad_inputs.assign(this->inputs.size(), TensorT<T>());
      if (!early)
        for (size_t j = 0; j < grads.size(); ++j) grad_inputs[c.grad_slots[j]] = std::move(grads[j]);
    }
    void release() override {
      saved.clear();
      inputs_used.clear();
      params_used.clear();
      this->released = true;
    }
    std::string describe() const override { return plan->name; }
  };

  std::vector<TensorT<T>> call_recorded(const TensorT<T>* inputs, size_t count) {
    uint64_t mask = 0;
    for (size_t k = 0; k < count; ++k)
      if (autograd::detail::needs_grad(inputs[k])) mask |= uint64_t(1) << k;
    if (count > 60) throw Error(this->error_context() + "a recorded call takes at most 60 inputs");
    mask |= uint64_t(1) << count;  // never 0: parameters are differentiated
    const std::shared_ptr<const Compiled> plan = plan_for(inputs, count, mask);
    auto node = std::make_shared<CallNode>();
    node->plan = plan;
    std::vector<TensorT<T>> outs(plan->exe->graph().outputs.size());
    node->params_used.reserve(plan->all_params.size());
    node->inputs.reserve(count + plan->all_params.size());
    node->inputs_used.reserve(count);
    {
      // The backward reads the parameter values the forward used (one pinned generation).
      const PinnedParameters<T> pinned = this->pin_parameters();
      run_plan(*plan, inputs, count, outs.data(), nullptr);
      detail::ParameterAccess::read_values<T>(plan->all_params, node->params_used, true);
    }
    for (size_t k = 0; k < count; ++k) {
      node->inputs_used.push_back(inputs[k].detach());
      const auto& meta = hybrid::detail::TensorAccess::meta(inputs[k]);
      node->inputs.push_back(meta && meta->needs_grad() ? meta : nullptr);
    }
    for (const auto& p : plan->all_params) {
      const auto& meta = detail::ParameterAccess::grad_meta(*p);
      node->inputs.push_back(meta->req != autograd::GradReq::null ? meta : nullptr);
    }
    node->saved.assign(std::make_move_iterator(outs.begin() + plan->num_results + plan->num_states),
                       std::make_move_iterator(outs.end()));
    outs.resize(static_cast<size_t>(plan->num_results));
    node->num_outputs = plan->num_results;
    for (size_t j = 0; j < outs.size(); ++j) {
      auto meta = std::make_shared<autograd::MetaT<T>>();
      meta->producer = node;
      meta->output_index = static_cast<int>(j);
      hybrid::detail::TensorAccess::set_meta(outs[j], std::move(meta));
    }
    return outs;
  }

  std::shared_ptr<const Compiled> compile(const exec::PlanKey& key) {
    std::unordered_map<const void*, std::string> names;
    std::unordered_map<std::string, std::shared_ptr<ParameterT<T>>> by_name;
    auto c = std::make_shared<Compiled>();
    for (const auto& p : this->collect_params()) {
      names[p.get()] = p->name();
      by_name[p->name()] = p;
      c->all_params.push_back(p);
    }
    // Read after the cache noted its generation: a hybridize() from here on
    // makes the cache drop this plan once compiled.
    c->options = hybridize_options();
    {
      // The forward is traced in the plan's mode, not recorded.
      auto mode = (key.mode & kTraining) ? autograd::train_mode() : autograd::predict_mode();
      auto not_recorded = autograd::pause(autograd::is_training());
      c->traced = trace::trace_graph_many<T>(
          [this](const std::vector<TensorT<T>>& in) { return this->forward_many(in); }, key.shapes, std::move(names));
    }
    c->num_results = static_cast<int>(c->traced.outputs.size());
    c->name = this->error_context();
    c->name.resize(c->name.size() - 2);  // without the ": "
    // The plan's own mode: batch_norm and dropout become what they mean in it.
    passes::LoweredGraph<T> lowered = passes::lower_mode(c->traced, (key.mode & kTraining) != 0);
    c->num_states = static_cast<int>(lowered.updated_params.size());
    for (const std::string& name : lowered.updated_params) c->updated.push_back(by_name.at(name));
    const graph::Graph<T>& g = lowered.graph;
    if (!(key.mode & kRecorded)) {
      c->exe = std::make_unique<exec::Executable<T>>(passes::optimize(g, c->options), c->options.plan_memory);
    } else {
      // Differentiate with respect to the inputs that need gradients and
      // every parameter the forward uses (others get zero).
      std::vector<int> wrt;
      const std::vector<int> input_vars = g.variables(graph::VarKind::input);
      for (size_t k = 0; k < input_vars.size(); ++k)
        if ((key.mode >> (2 + k)) & 1) {
          wrt.push_back(input_vars[k]);
          c->grad_slots.push_back(k);
        }
      std::unordered_map<std::string, int> param_var;
      for (int v : g.variables(graph::VarKind::param)) param_var[g.nodes[v].name] = v;
      std::unordered_map<std::string, size_t> param_slot;
      for (size_t k = 0; k < c->all_params.size(); ++k) {
        param_slot[c->all_params[k]->name()] = k;
        auto it = param_var.find(c->all_params[k]->name());
        if (it == param_var.end()) continue;  // not used by the forward: no gradient
        wrt.push_back(it->second);
        c->grad_slots.push_back(input_vars.size() + k);
      }
      autograd::BackwardSplit<T> split = autograd::split_backward(g, wrt, c->num_results);
      c->exe = std::make_unique<exec::Executable<T>>(passes::optimize(split.forward, c->options), c->options.plan_memory);
      c->backward =
          std::make_unique<exec::Executable<T>>(passes::optimize(split.backward, c->options), c->options.plan_memory);
      c->backward_inputs = split.inputs;
      for (int v : c->backward->param_nodes())
        c->backward_param_slots.push_back(param_slot.at(c->backward->graph().nodes[v].name));
    }
    for (int v : c->exe->param_nodes()) c->params.push_back(by_name.at(c->exe->graph().nodes[v].name));
    return c;
  }

  std::shared_ptr<const Compiled> last_plan(const char* what) const {
    std::shared_ptr<const Compiled> plan = state_->plans.last();
    if (!plan)
      throw Error(this->error_context() + what + "() needs a compiled graph: call hybridize() and run the block once " +
                  "on an input first (as in Gluon)");
    return plan;  // held by the caller: a concurrent hybridize() may drop it from the cache
  }

  std::unique_ptr<State> state_ = std::make_unique<State>();
};

using HybridBlock = HybridBlockT<float>;

}  // namespace hybrid::nn
