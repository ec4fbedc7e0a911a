#pragma once
// onnx::import_model<T>(path): an ONNX model (as PyTorch exports it) as a
// hybridized SymbolBlock. The model is checked whole before anything is
// built: opsets, every node's op type (all unsupported nodes reported in one
// FormatError), dangling inputs, cycles, initializers. Then the nodes, in
// topological order, go through the mapping table (import_ops.hpp);
// computations the ONNX graph does on shapes are folded at import
// (import_graph.hpp explains how symbolic dimensions stay dynamic).
// Every failure is FormatError naming the file; nothing outlives a failed
// import.
#include <algorithm>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <onnx/onnx_pb.h>

#include "../nn/symbol_block.hpp"
#include "import_graph.hpp"
#include "import_ops.hpp"
#include "model_file.hpp"
#include "tensor_proto.hpp"

namespace hybrid::onnx {

namespace detail {

inline std::string node_label(const ::onnx::NodeProto& n, size_t index) {
  return n.name().empty() ? "#" + std::to_string(index) : "'" + n.name() + "'";
}

inline bool is_default_domain(const std::string& d) { return d.empty() || d == "ai.onnx"; }

/// The nodes in an order where each comes after the producers of its
/// inputs (ONNX requires it; a file out of order is sorted). Dangling
/// inputs and cycles are FormatError.
inline std::vector<int> topological_order(const ::onnx::GraphProto& g, const std::unordered_set<std::string>& sources,
                                          const std::string& source) {
  const int n = g.node_size();
  std::unordered_map<std::string, int> producer;
  for (int i = 0; i < n; ++i)
    for (const auto& o : g.node(i).output()) {
      if (o.empty()) continue;
      if (sources.count(o) || !producer.emplace(o, i).second)
        throw FormatError(source + ": the value '" + o + "' is produced twice (node " +
                          node_label(g.node(i), static_cast<size_t>(i)) + " " + g.node(i).op_type() + ")");
    }
  std::string dangling;
  std::vector<std::vector<int>> users(static_cast<size_t>(n));
  std::vector<int> pending(static_cast<size_t>(n), 0);
  for (int i = 0; i < n; ++i)
    for (const auto& in : g.node(i).input()) {
      if (in.empty() || sources.count(in)) continue;
      auto it = producer.find(in);
      if (it == producer.end()) {
        dangling += "\n  node " + node_label(g.node(i), static_cast<size_t>(i)) + " (" + g.node(i).op_type() +
                    ") reads '" + in + "'";
        continue;
      }
      users[static_cast<size_t>(it->second)].push_back(i);
      ++pending[static_cast<size_t>(i)];
    }
  for (const auto& o : g.output())
    if (!sources.count(o.name()) && !producer.count(o.name()))
      dangling += "\n  graph output '" + o.name() + "'";
  if (!dangling.empty())
    throw FormatError(source + ": inputs that no node, graph input or initializer produces:" + dangling);
  std::vector<int> order, ready;
  for (int i = n - 1; i >= 0; --i)
    if (pending[static_cast<size_t>(i)] == 0) ready.push_back(i);
  while (!ready.empty()) {
    const int i = ready.back();
    ready.pop_back();
    order.push_back(i);
    for (int u : users[static_cast<size_t>(i)])
      if (--pending[static_cast<size_t>(u)] == 0) ready.push_back(u);
  }
  if (static_cast<int>(order.size()) != n) {
    std::string cycle;
    for (int i = 0; i < n; ++i)
      if (pending[static_cast<size_t>(i)] > 0)
        cycle += "\n  " + g.node(i).op_type() + " " + node_label(g.node(i), static_cast<size_t>(i));
    throw FormatError(source + ": the graph has a cycle through these nodes:" + cycle);
  }
  return order;
}

/// The key of a symbolic dimension: its name, or one of its own if unnamed.
inline std::string symbol_key(const ::onnx::TensorShapeProto_Dimension& d, const std::string& input, int axis) {
  return d.has_dim_param() && !d.dim_param().empty() ? "=" + d.dim_param() : "?" + input + "#" + std::to_string(axis);
}

/// The number of distinct symbolic dimensions of the graph's inputs.
inline size_t symbol_count(const ::onnx::GraphProto& g) {
  std::unordered_set<std::string> inits, keys;
  for (const auto& t : g.initializer()) inits.insert(t.name());
  for (const auto& in : g.input()) {
    if (inits.count(in.name()) || !in.type().has_tensor_type() || !in.type().tensor_type().has_shape()) continue;
    const auto& dims = in.type().tensor_type().shape().dim();
    for (int k = 0; k < dims.size(); ++k)
      if (!dims[k].has_dim_value()) keys.insert(symbol_key(dims[k], in.name(), k));
  }
  return keys.size();
}

/// Builds the block from a parsed model; `source` names it in errors.
/// `distinct_symbols`: each symbolic dimension at its own alternate extent.
template <class T>
std::shared_ptr<nn::SymbolBlockT<T>> build_model(const ::onnx::ModelProto& model, const std::string& source,
                                                 bool distinct_symbols) {
  if (!model.has_graph()) throw FormatError(source + ": the ONNX model has no graph");
  const ::onnx::GraphProto& g = model.graph();

  std::unordered_map<std::string, int64_t> opsets;
  for (const auto& o : model.opset_import()) opsets[o.domain() == "ai.onnx" ? "" : o.domain()] = o.version();
  const int64_t opset = opsets.count("") ? opsets.at("") : 0;

  // Every node whose op type, domain or opset has no mapping, in one error.
  std::string unsupported;
  int unsupported_count = 0;
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& n = g.node(i);
    const bool default_domain = is_default_domain(n.domain());
    if (default_domain && find_mapping<T>(n.op_type(), opset)) continue;
    ++unsupported_count;
    const std::string domain = default_domain ? "ai.onnx" : n.domain();
    const auto it = opsets.find(default_domain ? "" : n.domain());
    unsupported += "\n  " + n.op_type() + " " + node_label(n, static_cast<size_t>(i)) + " (domain " + domain +
                   ", opset " + (it == opsets.end() ? std::string("not imported") : std::to_string(it->second)) + ")";
  }
  if (unsupported_count)
    throw FormatError(source + ": " + std::to_string(unsupported_count) +
                      " unsupported ONNX node(s) (supported: the default domain at opsets 13-17, see docs/onnx.md):" +
                      unsupported);

  GraphBuilder<T> b;
  b.ambiguous_symbols = !distinct_symbols && symbol_count(g) >= 2;
  std::unordered_map<std::string, int64_t> symbols;  // symbol key → alternate extent
  std::unordered_map<std::string, Value> values;
  std::unordered_set<std::string> sources;

  for (const auto& init : g.initializer()) {
    const std::string what = "initializer '" + init.name() + "'";
    if (init.name().empty()) throw FormatError(source + ": an initializer has no name");
    HostTensor t;
    try {
      t = decode_tensor(init, what);
    } catch (const FormatError& e) {
      throw FormatError(source + ": " + e.what());
    }
    Value v = Value::constant(t.value, t.integer);
    if (!t.integer) v.param = init.name();  // a float initializer used at run time is a parameter
    if (!values.emplace(init.name(), std::move(v)).second)
      throw FormatError(source + ": two initializers are named '" + init.name() + "'");
    sources.insert(init.name());
  }
  if (g.sparse_initializer_size()) throw FormatError(source + ": sparse initializers are not supported");

  std::vector<std::string> input_names;
  for (const auto& in : g.input()) {
    if (values.count(in.name())) continue;  // an initializer also listed as an input (IR < 4): a constant
    const std::string what = source + ": graph input '" + in.name() + "'";
    if (in.name().empty()) throw FormatError(source + ": a graph input has no name");
    if (!in.type().has_tensor_type()) throw FormatError(what + " is not a tensor");
    const auto& tt = in.type().tensor_type();
    if (!is_float_type(tt.elem_type()) && !is_integer_type(tt.elem_type()))
      throw FormatError(what + " has the unsupported element type " + elem_type_name(tt.elem_type()));
    if (!tt.has_shape()) throw FormatError(what + " has no shape (unknown rank); hybrid needs the rank");
    if (tt.shape().dim_size() > Shape::kMaxDims)
      throw FormatError(what + " has more than " + std::to_string(Shape::kMaxDims) + " dimensions");
    Shape s, s_alt;
    for (int k = 0; k < tt.shape().dim_size(); ++k) {
      const auto& d = tt.shape().dim(k);
      if (d.has_dim_value()) {
        if (d.dim_value() < 0 || d.dim_value() > (int64_t{1} << 32))
          throw FormatError(what + " has the extent " + std::to_string(d.dim_value()));
        s.push_back(d.dim_value());
        s_alt.push_back(d.dim_value());
      } else {  // symbolic (dim_param) or unknown: built at 1, runs at any extent
        s.push_back(1);
        int64_t alt = kAltExtent;
        if (distinct_symbols) {
          const size_t next = symbols.size();
          auto it = symbols.emplace(symbol_key(d, in.name(), k), 0).first;
          if (it->second == 0) it->second = kAltExtents[std::min<size_t>(next, kMaxDistinctSymbols - 1)];
          alt = it->second;
        }
        s_alt.push_back(alt);
      }
    }
    if (!sources.insert(in.name()).second) throw FormatError(what + " is listed twice");
    values[in.name()] = b.input(in.name(), s, s_alt, is_integer_type(tt.elem_type()));
    input_names.push_back(in.name());
  }
  if (g.output_size() == 0) throw FormatError(source + ": the graph has no outputs");

  // A node the mapping refuses is reported with every other refused node;
  // nodes downstream of it are skipped (their inputs do not exist).
  std::string refused;
  int refused_count = 0;
  std::unordered_set<std::string> poisoned;
  for (int i : topological_order(g, sources, source)) {
    const auto& n = g.node(i);
    bool skip = false;
    for (const auto& in : n.input()) skip = skip || poisoned.count(in);
    if (skip) {
      for (const auto& o : n.output()) poisoned.insert(o);
      continue;
    }
    NodeContext<T> c{n, opset, b, {}, {}};
    for (const auto& in : n.input()) {
      auto it = in.empty() ? values.end() : values.find(in);
      c.in.push_back(it == values.end() ? Value() : it->second);  // an unproduced optional output reads as missing
    }
    b.label = n.name().empty() ? n.op_type() : n.name();
    try {
      find_mapping<T>(n.op_type(), opset)->map(c);
    } catch (const Error& e) {
      ++refused_count;
      refused += "\n  node " + node_label(n, static_cast<size_t>(i)) + " (" + n.op_type() + ", opset " +
                 std::to_string(opset) + "): " + e.what();
      for (const auto& o : n.output()) poisoned.insert(o);
      continue;
    }
    for (size_t k = 0; k < c.out.size() && k < static_cast<size_t>(n.output_size()); ++k)
      if (!n.output(static_cast<int>(k)).empty()) values[n.output(static_cast<int>(k))] = std::move(c.out[k]);
    for (int k = static_cast<int>(c.out.size()); k < n.output_size(); ++k)
      if (!n.output(k).empty()) values.erase(n.output(k));
  }
  if (refused_count)
    throw FormatError(source + ": " + std::to_string(refused_count) + " node(s) cannot be imported:" + refused);

  for (const auto& o : g.output()) {
    auto it = values.find(o.name());
    if (it == values.end() || !it->second.defined())
      throw FormatError(source + ": the graph output '" + o.name() + "' is an output the importer does not produce");
    if (it->second.known() && !same_values(it->second.c, it->second.c_alt))
      throw FormatError(source + ": graph output '" + o.name() +
                        "' is computed at import from the symbolic (batch) dimensions; hybrid's graph cannot "
                        "compute it at run time");
    try {
      b.g.outputs.push_back(b.emit(it->second));
    } catch (const Error& e) {
      throw FormatError(source + ": graph output '" + o.name() + "': " + e.what());
    }
  }
  b.prune();
  return nn::SymbolBlockT<T>::from_graph(std::move(b.g), input_names, b.params, source);
}

/// Builds the block from a parsed model; `source` names it in errors. With
/// several symbolic dimensions, each name is first given its own alternate
/// extent, which tells them apart (so a reshape that keeps them in place is
/// rebuilt rather than refused). A model whose differently named
/// dimensions must be equal (PyTorch names each input's dynamic axes apart
/// unless told otherwise) fails that way, and is imported with one
/// alternate extent for all, as a model with one symbolic dimension is.
template <class T>
std::shared_ptr<nn::SymbolBlockT<T>> import_model_proto(const ::onnx::ModelProto& model, const std::string& source) {
  const size_t symbols = model.has_graph() ? symbol_count(model.graph()) : 0;
  if (symbols >= 2 && symbols <= static_cast<size_t>(kMaxDistinctSymbols)) {
    try {
      return build_model<T>(model, source, true);
    } catch (const FormatError&) {
    }
  }
  return build_model<T>(model, source, false);
}

}  // namespace detail

/// Imports the ONNX model in `path`; see the header comment and docs/onnx.md.
template <class T = float>
std::shared_ptr<nn::SymbolBlockT<T>> import_model(const std::string& path) {
  return detail::import_model_proto<T>(read_model_file(path), path);
}

/// Imports a model held in memory (`size` bytes of a serialized
/// ModelProto); `source` names it in errors.
template <class T = float>
std::shared_ptr<nn::SymbolBlockT<T>> import_model_bytes(const void* data, size_t size, const std::string& source) {
  if (size > static_cast<size_t>(std::numeric_limits<int>::max()))
    throw FormatError(source + ": larger than a protobuf message can be (2 GiB)");
  ::onnx::ModelProto model;
  if (!model.ParseFromArray(data, static_cast<int>(size)))
    throw FormatError(source + ": not an ONNX model (the protobuf ModelProto does not parse)");
  return detail::import_model_proto<T>(model, source);
}

}  // namespace hybrid::onnx
