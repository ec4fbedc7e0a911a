#pragma once
// SymbolBlockT<T>: a block made from an exported graph file and its params,
// with none of the model's source code. Its forward interprets the graph
// node by node through the op table, so it runs eagerly, inlines into an
// enclosing trace, and — hybridized, as imports() returns it — is traced once
// per input signature, re-optimized and replayed like any HybridBlock. Shapes
// are re-inferred for each signature, so a graph traced at batch 1 runs at
// any batch size its ops allow. Its own trace mirrors the file node for node
// (inputs keep their names, constants their places), so exporting a
// SymbolBlock writes the files it was loaded from again.
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "batch_norm.hpp"
#include "hybrid_block.hpp"
#include "../io/graph_json.hpp"
#include "../io/safetensors.hpp"

namespace hybrid::nn {

template <class T>
class SymbolBlockT : public HybridBlockT<T> {
 public:
  /// Loads `symbol_file` (prefix-symbol.json) and `params_file`
  /// (prefix-NNNN.params); `input_names` are the graph inputs in call order.
  /// A file that is malformed or does not fit the call — input names that
  /// are not the graph's inputs, parameters
  /// that do not match the graph — is FormatError naming that file. A path
  /// that cannot be read, or `input_names` naming one input twice, is Error.
  static std::shared_ptr<SymbolBlockT> imports(const std::string& symbol_file,
                                               const std::vector<std::string>& input_names,
                                               const std::string& params_file) {
    auto block = std::shared_ptr<SymbolBlockT>(new SymbolBlockT(io::load_graph<T>(symbol_file), input_names, symbol_file));
    block->load_params(params_file);
    block->hybridize();
    return block;
  }

  /// A block over a graph built in memory (by an importer of another
  /// format): `params` holds a value for every parameter variable of `g`,
  /// by name; `source` names the origin in error messages. Checked as
  /// imports() checks files: a missing, extra or misshapen parameter is
  /// FormatError naming `source`.
  static std::shared_ptr<SymbolBlockT> from_graph(graph::Graph<T> g, const std::vector<std::string>& input_names,
                                                  const std::unordered_map<std::string, TensorT<T>>& params,
                                                  const std::string& source) {
    auto block = std::shared_ptr<SymbolBlockT>(new SymbolBlockT(std::move(g), input_names, source));
    std::string problems;
    for (const auto& p : block->params_) {
      auto it = params.find(p->name());
      if (it == params.end()) problems += "\n  missing: '" + p->name() + "' " + to_string(p->shape());
      else if (it->second.shape() != p->shape())
        problems += "\n  mismatched: '" + p->name() + "' is " + to_string(it->second.shape()) + ", the graph needs " +
                    to_string(p->shape());
    }
    for (const auto& [name, value] : params)
      if (!block->has_param(name)) problems += "\n  unexpected: '" + name + "'";
    if (!problems.empty()) throw FormatError(source + ": parameters do not match the graph:" + problems);
    for (const auto& p : block->params_) p->set_data(params.at(p->name()).clone());
    block->hybridize();
    return block;
  }

  using HybridBlockT<T>::operator();

  TensorT<T> forward(const TensorT<T>& x) override { return this->single_output(forward_many({x}), "forward"); }

  TensorT<T> operator()(const TensorT<T>& x) override {
    if (!x.defined()) throw Error("SymbolBlock: called with an undefined tensor");
    const CompiledCall guard(this, this->runs_compiled(x));
    return HybridBlockT<T>::operator()(x);
  }

  /// Calls a graph with several inputs, in the order given to imports(),
  /// and one output (call() returns several).
  TensorT<T> operator()(const std::vector<TensorT<T>>& inputs) {
    return this->single_output(this->call(inputs), "the graph");
  }

  std::string type_name() const override { return "SymbolBlock"; }
  /// The graph as loaded.
  const graph::Graph<T>& graph() const { return graph_; }
  const std::vector<std::string>& input_names() const { return input_names_; }
  /// The shapes the inputs had when the graph was traced, in call order.
  std::vector<Shape> input_shapes() const {
    std::vector<Shape> shapes(input_names_.size());
    for (const auto& [node, slot] : input_slot_) shapes[static_cast<size_t>(slot)] = graph_.nodes[node].shape;
    return shapes;
  }
  /// Graphviz DOT / one line per node of the graph as loaded (no call needed).
  std::string loaded_graph_dot() const { return graph::to_dot(graph_); }
  std::string loaded_graph_text() const { return graph::to_text(graph_); }
  /// DOT of the compiled graph that ran last or, before any hybridized call,
  /// of the graph as loaded.
  std::string graph_dot() const { return this->cached_plans() ? HybridBlockT<T>::graph_dot() : loaded_graph_dot(); }

 protected:
  std::vector<TensorT<T>> call_many(const std::vector<TensorT<T>>& inputs) override {
    check_input_count(inputs.size());
    bool compiled = true;
    for (const auto& x : inputs) {
      if (!x.defined()) throw Error("SymbolBlock: called with an undefined tensor");
      compiled = compiled && this->runs_compiled(x);
    }
    const CompiledCall guard(this, compiled);
    return HybridBlockT<T>::call_many(inputs);
  }

 public:
  /// Interprets the graph through the op table: eagerly, or into a trace.
  std::vector<TensorT<T>> forward_many(const std::vector<TensorT<T>>& inputs) override {
    check_input_count(inputs.size());
    trace::TraceState<T>* const state = trace::active_trace<T>();
    if (state && compiled_call() == this) {
      // This block's own trace: its input variables take the graph's names.
      for (size_t k = 0; k < inputs.size(); ++k)
        if (inputs[k].is_traced() && hybrid::detail::TensorAccess::trace(inputs[k]).get() == state) {
          graph::Node<T>& v = state->graph.nodes[static_cast<size_t>(hybrid::detail::TensorAccess::node(inputs[k]))];
          if (v.op == OpCode::variable && v.var_kind == graph::VarKind::input) v.name = input_names_[k];
        }
    }
    std::vector<TensorT<T>> values(graph_.nodes.size());
    std::vector<const TensorT<T>*> args;
    size_t next_param = 0;
    for (size_t i = 0; i < graph_.nodes.size(); ++i) {
      const graph::Node<T>& n = graph_.nodes[i];
      if (n.op == OpCode::variable) {
        values[i] = n.var_kind == graph::VarKind::input ? inputs[input_slot_.at(static_cast<int>(i))]
                                                        : params_[next_param++]->data();
      } else if (n.op == OpCode::constant) {
        // While tracing, the constant enters the trace here, where the file has it.
        values[i] = state ? hybrid::detail::traced_if_tracing(n.value.clone()) : n.value;
      } else if (n.op == OpCode::batch_norm) {
        run_batch_norm(n, values, values[i]);
      } else if (n.op == OpCode::dropout) {
        values[i] = dropout(values[n.inputs[0]], n.attrs.rate);
      } else {
        args.clear();
        for (int in : n.inputs) args.push_back(&values[in]);
        values[i] = ops::apply<T>(n.op, args.data(), static_cast<int>(args.size()), n.attrs);
      }
    }
    std::vector<TensorT<T>> outs;
    for (int o : graph_.outputs) {
      const TensorT<T>& out = values[static_cast<size_t>(o)];
      // An eager result that is a constant or a parameter must not alias it.
      outs.push_back(has_trait(graph_.nodes[static_cast<size_t>(o)].op, kSource) && !out.is_traced() ? out.clone() : out);
    }
    return outs;
  }

 private:
  /// The SymbolBlock whose compiled call runs on this thread, if any: only
  /// then is a trace this block's own (and not an enclosing block's).
  static const SymbolBlockT*& compiled_call() {
    thread_local const SymbolBlockT* current = nullptr;
    return current;
  }
  struct CompiledCall {
    CompiledCall(const SymbolBlockT* self, bool active) : saved(compiled_call()) {
      if (active) compiled_call() = self;
    }
    ~CompiledCall() { compiled_call() = saved; }
    CompiledCall(const CompiledCall&) = delete;
    CompiledCall& operator=(const CompiledCall&) = delete;
    const SymbolBlockT* saved;
  };

  SymbolBlockT(graph::Graph<T> g, std::vector<std::string> input_names, const std::string& source)
      : graph_(std::move(g)), input_names_(std::move(input_names)) {
    std::unordered_map<std::string, int> inputs;
    for (int v : graph_.variables(graph::VarKind::input)) inputs[graph_.nodes[v].name] = v;
    // A repeated name is wrong whatever the file holds; a name the graph
    // lacks, or a missing one, is a mismatch with the file.
    std::unordered_set<std::string> given;
    for (const auto& name : input_names_)
      if (!given.insert(name).second)
        throw Error("SymbolBlock::imports: the input name '" + name + "' is given twice");
    for (size_t k = 0; k < input_names_.size(); ++k) {
      auto it = inputs.find(input_names_[k]);
      if (it == inputs.end())
        throw FormatError(source + ": '" + input_names_[k] + "' is not an input of the graph; its inputs are: " +
                          names_of(inputs));
      input_slot_[it->second] = static_cast<int>(k);
    }
    if (given.size() != inputs.size())
      throw FormatError(source + ": the graph has inputs " + names_of(inputs) + " but " +
                        std::to_string(input_names_.size()) + " were named");
    for (int v : graph_.variables(graph::VarKind::param)) {
      param_of_node_[v] = params_.size();
      params_.push_back(this->register_parameter_path(graph_.nodes[v].name, graph_.nodes[v].shape));
    }
    // Running statistics are state, not weights: no gradient (as Gluon's aux states).
    for (const auto& n : graph_.nodes)
      if (n.op == OpCode::batch_norm)
        for (int k = 3; k < 5; ++k) {
          auto it = param_of_node_.find(n.inputs[static_cast<size_t>(k)]);
          if (it != param_of_node_.end()) params_[it->second]->set_grad_req("null");
        }
  }

  static std::string names_of(const std::unordered_map<std::string, int>& m) {
    std::vector<std::pair<int, std::string>> sorted;
    for (const auto& [name, node] : m) sorted.emplace_back(node, name);
    std::sort(sorted.begin(), sorted.end());
    std::string s;
    for (const auto& e : sorted) s += (s.empty() ? "'" : ", '") + e.second + "'";
    return s.empty() ? "none" : s;
  }

  /// batch_norm through its tensor function, so an eager train-mode call
  /// normalizes with the batch statistics and updates the running ones
  /// (when they are parameters), as the BatchNorm layer does.
  void run_batch_norm(const graph::Node<T>& n, const std::vector<TensorT<T>>& values, TensorT<T>& out) {
    BatchStatistics<T> batch;
    out = batch_norm(values[n.inputs[0]], values[n.inputs[1]], values[n.inputs[2]], values[n.inputs[3]],
                     values[n.inputs[4]], n.attrs.axis, n.attrs.epsilon, n.attrs.momentum, &batch);
    if (!batch.mean.defined()) return;  // predict mode or traced
    auto mean = param_of_node_.find(n.inputs[3]), var = param_of_node_.find(n.inputs[4]);
    if (mean == param_of_node_.end() || var == param_of_node_.end()) return;
    detail::update_running_statistics(*params_[mean->second], *params_[var->second], batch, n.attrs.momentum);
  }

  bool has_param(const std::string& name) const {
    for (const auto& p : params_)
      if (p->name() == name) return true;
    return false;
  }

  void check_input_count(size_t n) const {
    if (n != input_names_.size())
      throw Error("SymbolBlock: called with " + std::to_string(n) + " inputs; the graph takes " +
                  std::to_string(input_names_.size()));
  }

  /// Every parameter variable must be in the file with its shape and dtype, and nothing else.
  void load_params(const std::string& path) {
    const auto file = io::safetensors::read(path);
    std::string problems;
    std::unordered_set<std::string> wanted;
    for (const auto& p : params_) {
      wanted.insert(p->name());
      const auto* info = file.find(p->name());
      if (!info) problems += "\n  missing: '" + p->name() + "' " + to_string(p->shape());
      else if (info->shape != p->shape() || info->dtype != dtype_of<T>())
        problems += "\n  mismatched: '" + p->name() + "' is " + to_string(info->dtype) + " " + to_string(info->shape) +
                    " in the file, the graph needs " + to_string(dtype_of<T>()) + " " + to_string(p->shape());
    }
    for (const auto& t : file.tensors())
      if (!wanted.count(t.name)) problems += "\n  unexpected: '" + t.name + "'";
    if (!problems.empty()) throw FormatError(path + ": parameters do not match the graph:" + problems);
    for (const auto& p : params_) p->set_data(file.template tensor<T>(*file.find(p->name())));
  }

  graph::Graph<T> graph_;
  std::vector<std::string> input_names_;
  std::unordered_map<int, int> input_slot_;  // input variable node → position in the call
  std::vector<std::shared_ptr<ParameterT<T>>> params_;
  std::unordered_map<int, size_t> param_of_node_;  // parameter variable node → index in params_
};

using SymbolBlock = SymbolBlockT<float>;

}  // namespace hybrid::nn
