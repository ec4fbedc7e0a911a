#pragma once
// HybridBlockT<T>: a block whose forward uses only tensor operations, so it
// can be traced. After hybridize(), the first call for an input signature
// traces forward once into a graph, optimizes it and compiles a plan; later
// calls with that signature replay the plan and never run forward.
#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "../exec/plan_cache.hpp"
#include "../io/graph_json.hpp"
#include "../io/safetensors.hpp"
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

  /// Eager unless hybridized. Inside an enclosing trace the forward is
  /// inlined, so a hybridized model becomes one graph, not one per child.
  TensorT<T> operator()(const TensorT<T>& x) override {
    if (!runs_compiled(x)) {
      const PinnedParameters<T> pinned = this->pin_parameters();
      return this->run_forward_hooks(x, this->forward(x));
    }
    return this->run_forward_hooks(x, call_compiled(&x, 1));
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
  /// Bytes of intermediate memory the last plan uses per call.
  int64_t arena_bytes() const { return last_plan("arena_bytes")->exe->arena_bytes(); }
  /// How many signatures have a compiled plan (at most exec::PlanCache::kMaxPlans).
  size_t cached_plans() const { return state_->plans.size(); }

  /// Writes prefix-symbol.json (the graph, in portable ops) and
  /// prefix-NNNN.params (its parameters), from the last hybridized call.
  /// Safe while other threads call the block or load parameters: the
  /// parameters written are one generation.
  void export_model(const std::string& prefix, int epoch = 0) const {
    const std::shared_ptr<const Compiled> plan = last_plan("export_model");
    HybridizeOptions portable = plan->options;
    portable.fuse = false;  // fused nodes are executor-internal
    const graph::Graph<T> g = passes::optimize(plan->traced, portable);
    std::unordered_map<std::string, std::shared_ptr<ParameterT<T>>> by_name;
    for (const auto& p : this->collect_params()) by_name[p->name()] = p;
    const std::vector<int> variables = g.variables(graph::VarKind::param);
    std::vector<std::shared_ptr<ParameterT<T>>> used;
    for (int v : variables) used.push_back(by_name.at(g.nodes[v].name));
    std::vector<TensorT<T>> values;  // held alive while they are written
    detail::ParameterAccess::read_values<T>(used, values);
    std::vector<io::safetensors::Entry> entries;
    for (size_t k = 0; k < variables.size(); ++k)
      entries.push_back(io::safetensors::entry(g.nodes[variables[k]].name, values[k]));
    char suffix[32];
    std::snprintf(suffix, sizeof suffix, "-%04d.params", epoch);
    io::save_graph(g, prefix + "-symbol.json");
    io::safetensors::write(prefix + suffix, entries, {{"format", "hybrid-params"}});
  }

 protected:
  /// What a trace runs: forward on the one input (SymbolBlock takes several).
  virtual TensorT<T> forward_inputs(const std::vector<TensorT<T>>& inputs) { return this->forward(inputs[0]); }

  bool runs_compiled(const TensorT<T>& x) const {
    return is_hybridized() && !x.is_traced() && trace::active_trace<T>() == nullptr && !detail::eager_only();
  }

  /// Replays the plan for the inputs' signature, tracing and compiling it first if new.
  TensorT<T> call_compiled(const std::vector<TensorT<T>>& inputs) { return call_compiled(inputs.data(), inputs.size()); }

  TensorT<T> call_compiled(const TensorT<T>* inputs, size_t count) {
    // Per-thread scratch: a replay allocates nothing but its output.
    thread_local std::vector<Shape> signature;
    thread_local std::vector<const T*> input_ptrs, param_ptrs;
    thread_local std::vector<TensorT<T>> param_values;
    signature.clear();
    input_ptrs.clear();
    for (size_t k = 0; k < count; ++k) {
      const TensorT<T>& x = inputs[k];
      if (!x.defined()) throw Error(this->error_context() + "called with an undefined tensor");
      signature.push_back(x.shape());
      input_ptrs.push_back(x.data());
    }
    const std::shared_ptr<const Compiled> plan = state_->plans.get(signature, [&] { return compile(signature); });
    // One generation of the parameters, bound under one lock and held alive
    // for the call: a load publishing new values meanwhile does not reach it.
    struct Release {
      std::vector<TensorT<T>>& values;
      ~Release() { values.clear(); }
    } release{param_values};
    param_values.clear();
    detail::ParameterAccess::read_values<T>(plan->params, param_values);
    param_ptrs.clear();
    for (const TensorT<T>& v : param_values) param_ptrs.push_back(v.data());
    TensorT<T> out[1];
    plan->exe->run(input_ptrs.data(), param_ptrs.data(), out);
    return out[0];
  }

 private:
  struct Compiled {
    graph::Graph<T> traced;                              // as recorded: what export starts from
    HybridizeOptions options;                            // what it was optimized with
    std::unique_ptr<exec::Executable<T>> exe;            // optimized and planned
    std::vector<std::shared_ptr<ParameterT<T>>> params;  // bound to exe's parameter variables, in order
  };

  // Behind a pointer: it holds a mutex and an atomic, and blocks must stay movable.
  struct State {
    std::atomic<bool> active{false};
    std::mutex mutex;  // guards options; hybridize() also clears the plans under it
    HybridizeOptions options;
    exec::PlanCache<T, Compiled> plans;
  };

  std::shared_ptr<const Compiled> compile(const std::vector<Shape>& signature) {
    std::unordered_map<const void*, std::string> names;
    std::unordered_map<std::string, std::shared_ptr<ParameterT<T>>> by_name;
    for (const auto& p : this->collect_params()) {
      names[p.get()] = p->name();
      by_name[p->name()] = p;
    }
    auto c = std::make_shared<Compiled>();
    // Read after the cache noted its generation: a hybridize() from here on
    // makes the cache drop this plan once compiled.
    c->options = hybridize_options();
    c->traced = trace::trace_graph<T>([this](const std::vector<TensorT<T>>& in) { return forward_inputs(in); },
                                      signature, std::move(names));
    c->exe = std::make_unique<exec::Executable<T>>(passes::optimize(c->traced, c->options), c->options.plan_memory);
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
