#pragma once
// Executable: an optimized graph compiled into a flat list of kernel calls
// over precomputed shapes and arena offsets. run() binds inputs, parameters
// and fresh output tensors, then calls the same kernels eager mode uses.
// A replay allocates nothing but its outputs; concurrent runs each take
// their own arena from a pool.
#include <algorithm>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../graph/print.hpp"
#include "memory_plan.hpp"

namespace hybrid::exec {

template <class T>
class Executable {
 public:
  Executable(graph::Graph<T> g, bool reuse_memory) : graph_(std::move(g)) {
    const int n = static_cast<int>(graph_.nodes.size());
    inputs_ = graph_.variables(graph::VarKind::input);
    params_ = graph_.variables(graph::VarKind::param);
    std::vector<char> is_output(static_cast<size_t>(n), 0), in_arena(static_cast<size_t>(n), 0);
    for (int o : graph_.outputs) is_output[o] = 1;
    for (int i = 0; i < n; ++i) in_arena[i] = !has_trait(graph_.nodes[i].op, kSource) && !is_output[i];
    memory_ = plan_memory(graph_, in_arena, reuse_memory);
    for (int i = 0; i < n; ++i) {
      const graph::Node<T>& node = graph_.nodes[i];
      if (has_trait(node.op, kSource)) continue;
      Step s{op_def(node.op).template kernel<T>(), node.op, static_cast<int>(args_.size()),
             static_cast<int>(node.inputs.size()), i};
      for (int in : node.inputs) {
        args_.push_back(in);
        arg_shapes_.push_back(graph_.nodes[in].shape);
      }
      max_args_ = std::max(max_args_, s.n_args);
      scratch_elements_ = std::max(scratch_elements_, scratch_elements(node.op, node.attrs, arg_shapes_.data() + s.first_arg,
                                                                        s.n_args, node.shape));
      steps_.push_back(s);
    }
    // The step after which each output computed in place is final.
    for (size_t k = 0; k < graph_.outputs.size(); ++k) {
      if (!direct_output(k)) continue;
      for (size_t j = 0; j < steps_.size(); ++j)
        if (steps_[j].node == graph_.outputs[k]) ready_after_.push_back({j, k});
    }
    std::sort(ready_after_.begin(), ready_after_.end());
    pool_.reserve(16);
  }

  const graph::Graph<T>& graph() const { return graph_; }
  const std::vector<int>& input_nodes() const { return inputs_; }
  const std::vector<int>& param_nodes() const { return params_; }
  int64_t arena_bytes() const { return memory_.arena_bytes; }
  int in_place_steps() const { return memory_.in_place_steps; }

  /// The op names of the steps, in execution order.
  std::vector<std::string> op_names() const {
    std::vector<std::string> names;
    for (const Step& s : steps_) names.push_back(op_def(s.op).name);
    return names;
  }

  /// Runs the plan. inputs[k] / params[k] point at data of the shapes of
  /// input_nodes()[k] / param_nodes()[k]; outputs[k] receives output k.
  /// `ready`, when given, is called with k as soon as outputs[k] holds its
  /// final values (right after the step computing it, or at the end).
  void run(const T* const* inputs, const T* const* params, TensorT<T>* outputs,
           const std::function<void(size_t)>* ready = nullptr) const {
    std::unique_ptr<Context> ctx = acquire();
    for (size_t k = 0; k < inputs_.size(); ++k) ctx->ptr[inputs_[k]] = const_cast<T*>(inputs[k]);
    for (size_t k = 0; k < params_.size(); ++k) ctx->ptr[params_[k]] = const_cast<T*>(params[k]);
    const size_t n_out = graph_.outputs.size();
    // An output computed by a step is written in place; others are copied at the end.
    for (size_t k = 0; k < n_out; ++k) {
      const int o = graph_.outputs[k];
      outputs[k] = TensorT<T>::empty(graph_.nodes[o].shape);
      if (!direct_output(k)) continue;
      ctx->ptr[o] = outputs[k].data();
    }
    size_t next_ready = 0;
    for (size_t j = 0; j < steps_.size(); ++j) {
      const Step& s = steps_[j];
      for (int a = 0; a < s.n_args; ++a) ctx->args[a] = ctx->ptr[args_[s.first_arg + a]];
      const graph::Node<T>& node = graph_.nodes[s.node];
      s.kernel(KernelArgs<T>{s.op, ctx->args.data(), &arg_shapes_[s.first_arg], s.n_args, ctx->ptr[s.node],
                             node.shape, node.attrs, static_cast<T*>(ctx->scratch.get())});
      if (ready)
        for (; next_ready < ready_after_.size() && ready_after_[next_ready].first == j; ++next_ready)
          (*ready)(ready_after_[next_ready].second);
    }
    for (size_t k = 0; k < n_out; ++k) {
      if (direct_output(k)) continue;
      const T* src = ctx->ptr[graph_.outputs[k]];
      std::copy(src, src + outputs[k].size(), outputs[k].data());
    }
    release(std::move(ctx));
    if (ready)
      for (size_t k = 0; k < n_out; ++k)
        if (!direct_output(k)) (*ready)(k);
  }

 private:
  struct Step {
    KernelFn<T> kernel;
    OpCode op;
    int first_arg, n_args;
    int node;
  };
  struct Context {
    std::unique_ptr<void, AlignedFree> arena;
    std::unique_ptr<void, AlignedFree> scratch;  // kernels' working memory, sized for the largest step
    std::vector<T*> ptr;         // per node: where its value is during this run
    std::vector<const T*> args;  // scratch: one step's input pointers
  };

  bool direct_output(size_t k) const {
    const int o = graph_.outputs[k];
    if (has_trait(graph_.nodes[o].op, kSource)) return false;
    for (size_t j = 0; j < k; ++j)
      if (graph_.outputs[j] == o) return false;
    return true;
  }

  std::unique_ptr<Context> acquire() const {
    {
      std::lock_guard<std::mutex> lock(pool_mutex_);
      if (!pool_.empty()) {
        std::unique_ptr<Context> c = std::move(pool_.back());
        pool_.pop_back();
        return c;
      }
    }
    auto c = std::make_unique<Context>();
    c->arena = aligned_alloc_bytes(static_cast<size_t>(memory_.arena_bytes));
    if (scratch_elements_) c->scratch = aligned_alloc_bytes(sizeof(T) * static_cast<size_t>(scratch_elements_));
    c->ptr.assign(graph_.nodes.size(), nullptr);
    c->args.assign(static_cast<size_t>(std::max(max_args_, 1)), nullptr);
    char* base = static_cast<char*>(c->arena.get());
    for (size_t i = 0; i < graph_.nodes.size(); ++i) {
      if (memory_.offset[i] >= 0) c->ptr[i] = reinterpret_cast<T*>(base + memory_.offset[i]);
      if (graph_.nodes[i].op == OpCode::constant) c->ptr[i] = const_cast<T*>(graph_.nodes[i].value.data());
    }
    return c;
  }

  void release(std::unique_ptr<Context> c) const {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    pool_.push_back(std::move(c));
  }

  graph::Graph<T> graph_;
  std::vector<int> inputs_, params_;
  MemoryPlan memory_;
  std::vector<Step> steps_;
  std::vector<std::pair<size_t, size_t>> ready_after_;  // (step, output) for outputs computed in place
  std::vector<int> args_;
  std::vector<Shape> arg_shapes_;
  int max_args_ = 0;
  int64_t scratch_elements_ = 0;
  mutable std::mutex pool_mutex_;
  mutable std::vector<std::unique_ptr<Context>> pool_;
};

}  // namespace hybrid::exec
