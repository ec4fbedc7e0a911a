#pragma once
// ONNX export: the graph a hybridized block traced on its last call (the
// graph hybrid's own export writes: portable ops, fused nodes as their
// members) as an ONNX model. Parameters become initializers named as the
// block's parameters; constants become initializers too; the graph's inputs
// and outputs have the symbolic dimension "batch" on axis 0 (outputs where
// axis 0 still is the batch), every other extent fixed. Mode-dependent ops
// are written in their predict form: batch_norm uses the running
// statistics, dropout is the identity. docs/onnx.md lists what each op
// becomes.
#include <algorithm>
#include <string>
#include <vector>

#include "../io/graph_json.hpp"
#include "../nn/hybrid_block.hpp"
#include "export_ops.hpp"
#include "model_file.hpp"

namespace hybrid::onnx {

namespace detail {

inline void check_opset(int opset) {
  if (opset < kMinOpset || opset > kMaxOpset)
    throw Error("onnx::export_model: opset " + std::to_string(opset) + " is not supported; choose one from " +
                std::to_string(kMinOpset) + " to " + std::to_string(kMaxOpset));
}

template <class T>
void value_info(::onnx::ValueInfoProto* v, const std::string& name, const Shape& shape, bool batch) {
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(elem_type<T>());
  auto* s = t->mutable_shape();
  for (int d = 0; d < shape.size(); ++d) {
    auto* dim = s->add_dim();
    if (d == 0 && batch) {
      dim->set_dim_param("batch");
    } else {
      dim->set_dim_value(shape[d]);
    }
  }
}

}  // namespace detail

/// The ONNX model of a portable graph (as HybridBlockT::portable_graph
/// gives it): `param_values` holds one tensor per parameter variable, in
/// graph order. Throws Error, before writing anything, listing every node
/// whose op has no ONNX form (op and node label).
template <class T>
::onnx::ModelProto to_onnx(const graph::Graph<T>& g, const std::vector<TensorT<T>>& param_values, int opset = 17) {
  detail::check_opset(opset);
  std::string unsupported;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const OpCode op = g.nodes[i].op;
    if (op == OpCode::variable || op == OpCode::constant || detail::exportable(op)) continue;
    const std::string label = g.nodes[i].name.empty() ? std::string(op_def(op).name) + std::to_string(i)
                                                      : g.nodes[i].name;
    unsupported += std::string(unsupported.empty() ? "" : ", ") + op_def(op).name + " (node '" + label + "')";
  }
  if (!unsupported.empty())
    throw Error("onnx::export_model: these nodes have no ONNX form: " + unsupported +
                " (internal and random ops only appear in backward or train-mode graphs)");
  const std::vector<int> params = g.variables(graph::VarKind::param);
  if (params.size() != param_values.size())
    throw Error("onnx::export_model: the graph has " + std::to_string(params.size()) + " parameters, given " +
                std::to_string(param_values.size()) + " values");
  if (g.outputs.empty()) throw Error("onnx::export_model: the graph has no outputs");

  ::onnx::ModelProto model;
  model.set_ir_version(kIrVersion);
  model.set_producer_name("hybrid");
  model.set_producer_version(io::kProducerVersion);
  auto* op_set = model.add_opset_import();
  op_set->set_domain("");
  op_set->set_version(opset);
  ::onnx::GraphProto* graph = model.mutable_graph();
  graph->set_name("hybrid");

  detail::Emitter<T> e(g, opset, graph);
  e.batch_.assign(g.nodes.size(), false);
  const std::vector<int> inputs = g.variables(graph::VarKind::input);
  // Heads take the names "output" (one) or "output0", "output1", … where
  // they are op nodes of their own; a variable, a constant or a repeated
  // head gets an Identity node.
  std::vector<std::string> names(g.nodes.size());
  std::vector<std::string> head_names;
  std::vector<bool> named(g.nodes.size(), false);
  for (size_t k = 0; k < g.outputs.size(); ++k) {
    const std::string name = e.fresh(g.outputs.size() == 1 ? "output" : "output" + std::to_string(k));
    head_names.push_back(name);
    const int h = g.outputs[k];
    if (!has_trait(g.nodes[h].op, kSource) && !named[h]) {
      names[h] = name;
      named[h] = true;
    }
  }
  size_t next_param = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const graph::Node<T>& n = g.nodes[i];
    if (n.op == OpCode::variable) {
      names[i] = n.name;
      if (n.var_kind == graph::VarKind::param) {
        e.tensor(param_values[next_param], n.name);
        if (param_values[next_param].shape() != n.shape)
          throw Error("onnx::export_model: parameter '" + n.name + "' has shape " +
                      to_string(param_values[next_param].shape()) + ", the graph expects " + to_string(n.shape));
        ++next_param;
      } else {
        // Every input whose axis 0 has the first input's extent shares the symbolic batch.
        const Shape& first = g.nodes[inputs[0]].shape;
        e.batch_[i] = n.shape.size() > 0 && first.size() > 0 && n.shape[0] == first[0];
        detail::value_info<T>(graph->add_input(), n.name, n.shape, e.batch_[i]);
      }
      continue;
    }
    if (names[i].empty()) names[i] = e.fresh(n.op == OpCode::constant ? "constant" + std::to_string(i)
                                                                       : op_def(n.op).name + std::to_string(i));
    if (n.op == OpCode::constant) {
      e.tensor(n.value, names[i]);
      continue;
    }
    std::vector<std::string> in;
    for (int k : n.inputs) in.push_back(names[static_cast<size_t>(k)]);
    e.emit_node(static_cast<int>(i), in, names[i]);
  }
  for (size_t k = 0; k < g.outputs.size(); ++k) {
    const int h = g.outputs[k];
    if (names[h] != head_names[k]) e.node("Identity", {names[h]}, head_names[k]);
    detail::value_info<T>(graph->add_output(), head_names[k], g.nodes[h].shape, e.batch_[h]);
  }
  return model;
}

/// Writes the graph `block` traced on its last hybridized call to `path` as
/// an ONNX model at `opset` (13 to 17). A block that was never hybridized
/// and called, an unsupported opset or op, or a path that cannot be written
/// is an Error; nothing is left at `path` then.
template <class T>
void export_model(const nn::HybridBlockT<T>& block, const std::string& path, int opset = 17) {
  detail::check_opset(opset);
  const typename nn::HybridBlockT<T>::PortableGraph p = block.portable_graph("onnx::export_model");
  write_model_file(to_onnx(p.graph, p.param_values, opset), path);
}

}  // namespace hybrid::onnx
