#pragma once
// The graph file (prefix-symbol.json): a graph in the portable op set, laid
// out like MXNet's symbol JSON (nodes with op/name/attrs/inputs triples,
// arg_nodes, heads). docs/FORMAT.md specifies it. Reading validates
// everything before trusting it: a bad file raises FormatError naming the
// file and the node, never a crash or an allocation sized by unchecked input;
// a path that cannot be read is Error. Reading is linear in the file's size.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <unordered_set>
#include <vector>

#include "../graph/graph.hpp"
#include "extents.hpp"
#include "json_reader.hpp"

namespace hybrid::io {

inline constexpr int kGraphFormatVersion = 1;
inline constexpr const char* kProducerVersion = "0.1.0";

using ordered_json = nlohmann::ordered_json;

namespace detail {

/// The reader's JSON: objects in std::map, so lookups stay logarithmic
/// however many keys a hostile file puts in one object.
using json_in = nlohmann::json;

/// Graph files nest five levels deep (the top-level object is level 1);
/// anything deeper than this is rejected before a DOM is built, so no later
/// recursion (printing, comparing) can exhaust the stack.
inline constexpr int kMaxJsonDepth = 64;

inline int64_t as_int(const json_in& v) {
  if (!v.is_number_integer()) throw std::string("expects an integer");
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    throw std::string("has an integer out of range: " + v.dump());
  return v.get<int64_t>();
}
inline bool as_bool(const json_in& v) {
  if (!v.is_boolean()) throw std::string("expects true or false");
  return v.get<bool>();
}
inline Shape as_shape(const json_in& v, bool allow_minus_one) {
  if (!v.is_array()) throw std::string("expects an array of integers");
  if (v.size() > static_cast<size_t>(Shape::kMaxDims))
    throw std::string("has more than " + std::to_string(Shape::kMaxDims) + " dimensions");
  Shape s;
  for (const auto& d : v) {
    const int64_t x = as_int(d);
    if (x < (allow_minus_one ? -1 : 0)) throw std::string("has a negative dimension");
    s.push_back(x);
  }
  return s;
}
/// An array of at most 8 integers (axes may be negative).
inline Shape as_axes(const json_in& v) {
  if (v.size() > static_cast<size_t>(Shape::kMaxDims))
    throw std::string("has more than " + std::to_string(Shape::kMaxDims) + " axes");
  Shape s;
  for (const auto& d : v) s.push_back(as_int(d));
  return s;
}
inline ordered_json shape_json(const Shape& s) { return ordered_json(s.to_vector()); }

/// Rejects a shape whose non-zero extents, times the element size, multiply
/// past int64: a zero extent makes the element count 0, but strides,
/// flattened feature counts and byte sizes still multiply the other extents.
template <class T>
void check_extents(const Shape& s) {
  if (!byte_size_fits(s, static_cast<int64_t>(sizeof(T))))
    throw std::string("shape " + to_string(s) + ": its size in bytes (" + std::to_string(sizeof(T)) +
                      " per element, counting only non-zero extents) overflows int64");
}

/// Non-finite values are strings: JSON has no NaN or infinity.
template <class T>
ordered_json value_json(T v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return static_cast<double>(v);
}
template <class T>
T value_from_json(const json_in& j) {
  if (j.is_number()) {
    const double v = j.get<double>();
    if (std::isfinite(v) && std::fabs(v) > static_cast<double>(std::numeric_limits<T>::max()))
      throw std::string("has a value out of range for " + to_string(dtype_of<T>()) + ": " + j.dump());
    return static_cast<T>(v);
  }
  if (j.is_string()) {
    const std::string s = j.get<std::string>();
    if (s == "nan") return std::numeric_limits<T>::quiet_NaN();
    if (s == "inf") return std::numeric_limits<T>::infinity();
    if (s == "-inf") return -std::numeric_limits<T>::infinity();
  }
  throw std::string("has a value that is not a number");
}

/// Writes one attribute field in its type's encoding (FORMAT.md 1.7).
inline ordered_json write_attr(const AttrDesc& d, const Attrs& a) {
  switch (d.type) {
    case AttrType::integer: return a.*d.integer;
    case AttrType::boolean: return a.*d.boolean;
    case AttrType::real: return value_json(a.*d.real);
    case AttrType::extents:
    case AttrType::indices: return shape_json(a.*d.list);
    case AttrType::axes: {
      const Shape& axes = a.*d.list;
      if (axes.empty()) return nullptr;
      if (axes.size() == 1) return axes[0];
      return shape_json(axes);
    }
    case AttrType::activation:
      return a.*d.integer < 0 ? std::string() : std::string(op_def(static_cast<OpCode>(a.*d.integer)).name);
  }
  return nullptr;
}

/// Reads one attribute field in its type's encoding; throws std::string on a
/// bad value. Real values must be in range for the graph's element type T.
template <class T>
void read_attr(const AttrDesc& d, const json_in& j, Attrs& a) {
  switch (d.type) {
    case AttrType::integer: a.*d.integer = as_int(j); return;
    case AttrType::boolean: a.*d.boolean = as_bool(j); return;
    case AttrType::real: a.*d.real = static_cast<double>(value_from_json<T>(j)); return;
    case AttrType::extents: a.*d.list = as_shape(j, true); return;
    case AttrType::indices: a.*d.list = as_shape(j, false); return;
    case AttrType::axes:
      if (j.is_null()) a.*d.list = Shape{};
      else if (j.is_array()) {
        if (j.empty()) throw std::string("expects null, an integer or a non-empty array of integers");
        a.*d.list = as_axes(j);
      } else a.*d.list = Shape{as_int(j)};
      return;
    case AttrType::activation: {
      if (!j.is_string()) throw std::string("expects an activation name");
      const std::string name = j.get<std::string>();
      OpCode op;
      if (name.empty()) a.*d.integer = -1;
      else if (op_from_name(name, op) && has_trait(op, kActivation)) a.*d.integer = static_cast<int64_t>(op);
      else throw std::string("names no activation: '" + name + "'");
      return;
    }
  }
}

}  // namespace detail

/// The graph as JSON text; byte-for-byte the same for the same graph.
template <class T>
std::string graph_to_json(const graph::Graph<T>& g) {
  ordered_json nodes = ordered_json::array(), arg_nodes = ordered_json::array(), heads = ordered_json::array();
  for (int i = 0; i < static_cast<int>(g.nodes.size()); ++i) {
    const graph::Node<T>& n = g.nodes[i];
    if (has_trait(n.op, kInternal))
      throw Error(std::string("export: node ") + std::to_string(i) + " is " + op_def(n.op).name +
                  ", which has no portable form");
    ordered_json node;
    node["op"] = op_def(n.op).name;
    node["name"] = n.op == OpCode::variable ? n.name : std::string(op_def(n.op).name) + std::to_string(i);
    ordered_json attrs = ordered_json::object();
    if (n.op == OpCode::variable) {
      attrs["kind"] = n.var_kind == graph::VarKind::input ? "input" : "param";
      attrs["shape"] = detail::shape_json(n.shape);
      attrs["dtype"] = to_string(dtype_of<T>());
      arg_nodes.push_back(i);
    } else if (n.op == OpCode::constant) {
      attrs["shape"] = detail::shape_json(n.shape);
      ordered_json values = ordered_json::array();
      for (int64_t k = 0; k < n.value.size(); ++k) values.push_back(detail::value_json(n.value.data()[k]));
      attrs["value"] = std::move(values);
    }
    for (const AttrDesc& d : kAttrDescs)
      if (op_def(n.op).attrs & d.field) attrs[d.key] = detail::write_attr(d, n.attrs);
    node["attrs"] = std::move(attrs);
    ordered_json inputs = ordered_json::array();
    for (int in : n.inputs) inputs.push_back({in, 0, 0});
    node["inputs"] = std::move(inputs);
    nodes.push_back(std::move(node));
  }
  for (int o : g.outputs) heads.push_back({o, 0, 0});
  ordered_json doc;
  doc["format"] = "hybrid-symbol";
  doc["format_version"] = kGraphFormatVersion;
  doc["producer"] = {{"name", "hybrid"}, {"version", kProducerVersion}};
  doc["dtype"] = to_string(dtype_of<T>());
  doc["nodes"] = std::move(nodes);
  doc["arg_nodes"] = std::move(arg_nodes);
  doc["heads"] = std::move(heads);
  return doc.dump(1) + "\n";
}

/// Parses and validates a graph file's text; `source` names it in errors.
/// Every problem is a FormatError naming `source` and the key or node at
/// fault; nothing is allocated beyond what the text itself accounts for.
template <class T>
graph::Graph<T> graph_from_json(const std::string& text, const std::string& source) {
  using detail::json_in;
  auto fail = [&](const std::string& where, const std::string& what) -> void {
    throw FormatError(source + ": " + where + (where.empty() ? "" : ": ") + what);
  };
  // Strict JSON first: no byte-order mark, no repeated key, no deep nesting.
  const json_in doc = read_strict_json(text.data(), text.data() + text.size(), detail::kMaxJsonDepth, source + ": ");
  if (!doc.is_object()) fail("", "the top level is not a JSON object");
  auto require = [&](const json_in& obj, const char* key, const std::string& where) -> const json_in& {
    if (!obj.is_object()) fail(where, "is not a JSON object");
    if (!obj.contains(key)) fail(where, std::string("missing key '") + key + "'");
    return obj.at(key);
  };
  const json_in& format = require(doc, "format", "");
  if (format != "hybrid-symbol") fail("format", "must be \"hybrid-symbol\", got " + format.dump());
  const json_in& version = require(doc, "format_version", "");
  if (!version.is_number_integer() || version != kGraphFormatVersion)
    fail("format_version", "unsupported version " + version.dump() + " (this reader knows " +
                               std::to_string(kGraphFormatVersion) + ")");
  const json_in& dtype = require(doc, "dtype", "");
  if (!dtype.is_string() || dtype.get<std::string>() != to_string(dtype_of<T>()))
    fail("dtype", "the graph holds " + dtype.dump() + " but is loaded as " + to_string(dtype_of<T>()));
  const json_in& nodes = require(doc, "nodes", "");
  if (!nodes.is_array()) fail("nodes", "is not an array");
  if (nodes.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
    fail("nodes", "has more nodes than fit an int");

  graph::Graph<T> g;
  std::unordered_set<std::string> variable_names;
  // A reference [node, output, version] to a node before `limit`.
  auto node_ref = [&](const json_in& ref, int limit, const std::string& where) {
    if (!ref.is_array() || ref.size() != 3 || !ref[0].is_number_integer() || !ref[1].is_number_integer() ||
        !ref[2].is_number_integer())
      fail(where, "is not a [node, output, version] triple of integers, got " + ref.dump());
    if (ref[0].is_number_unsigned() ? ref[0].get<uint64_t>() >= static_cast<uint64_t>(limit)
                                    : (ref[0].get<int64_t>() < 0 || ref[0].get<int64_t>() >= limit))
      fail(where, "refers to node " + ref[0].dump() +
                      (ref[0].get<int64_t>() < 0 && !ref[0].is_number_unsigned()
                           ? ""
                           : ", which does not come before it (" + std::to_string(limit) +
                                 " nodes precede it; references must point backwards, so cycles are impossible)"));
    if (ref[1] != 0) fail(where, "refers to output " + ref[1].dump() + "; every op has one output");
    if (ref[2] != 0) fail(where, "has version " + ref[2].dump() + "; versions are always 0");
    return static_cast<int>(ref[0].get<int64_t>());
  };
  for (size_t i = 0; i < nodes.size(); ++i) {
    const std::string where = "nodes[" + std::to_string(i) + "]";
    const json_in& jn = nodes[i];
    const json_in& jop = require(jn, "op", where);
    const json_in& jname = require(jn, "name", where);
    const json_in& jattrs = require(jn, "attrs", where);
    const json_in& jinputs = require(jn, "inputs", where);
    if (!jop.is_string() || !jname.is_string() || !jattrs.is_object() || !jinputs.is_array())
      fail(where, "op and name must be strings, attrs an object, inputs an array");
    OpCode op;
    if (!op_from_name(jop.get<std::string>(), op) || has_trait(op, kInternal))
      fail(where, "unknown op '" + jop.get<std::string>() + "'");
    const OpDef& def = op_def(op);
    const std::string name = jname.get<std::string>();
    const std::string at = where + " (" + def.name + " '" + name + "')";
    try {
      // Attributes: exactly the ones the op reads (plus the source fields).
      std::vector<std::string> required;  // in descriptor order, for a deterministic message
      for (const AttrDesc& d : kAttrDescs)
        if (def.attrs & d.field) required.push_back(d.key);
      if (op == OpCode::variable) required = {"kind", "shape", "dtype"};
      if (op == OpCode::constant) required = {"shape", "value"};
      for (auto it = jattrs.begin(); it != jattrs.end(); ++it)
        if (std::find(required.begin(), required.end(), it.key()) == required.end())
          throw std::string("unexpected attribute '" + it.key() + "'");
      for (const std::string& key : required)  // every attribute the op reads is required
        if (!jattrs.contains(key)) throw "missing attribute '" + key + "'";
      if (has_trait(op, kSource) && !jinputs.empty())
        throw std::string("a source node has no inputs, got " + std::to_string(jinputs.size()));
      if (op == OpCode::variable) {
        const json_in& kind = jattrs.at("kind");
        if (kind != "input" && kind != "param") throw std::string("attribute kind must be \"input\" or \"param\"");
        if (jattrs.at("dtype") != to_string(dtype_of<T>()))
          throw std::string("dtype " + jattrs.at("dtype").dump() + " differs from the graph's");
        if (name.empty()) throw std::string("a variable needs a non-empty name");
        Shape shape;
        try {
          shape = detail::as_shape(jattrs.at("shape"), false);
        } catch (const std::string& e) {
          throw "attribute 'shape' " + e;
        }
        checked_numel(shape, "variable");
        detail::check_extents<T>(shape);
        if (!variable_names.insert(name).second) throw std::string("duplicate variable name '" + name + "'");
        g.add_variable(name, shape, kind == "input" ? graph::VarKind::input : graph::VarKind::param);
        continue;
      }
      if (op == OpCode::constant) {
        Shape shape;
        try {
          shape = detail::as_shape(jattrs.at("shape"), false);
        } catch (const std::string& e) {
          throw "attribute 'shape' " + e;
        }
        const int64_t n = checked_numel(shape, "constant");
        detail::check_extents<T>(shape);
        const json_in& values = jattrs.at("value");
        if (!values.is_array() || static_cast<int64_t>(values.size()) != n)
          throw std::string("value must be an array of " + std::to_string(n) + " numbers for shape " + to_string(shape));
        TensorT<T> value = TensorT<T>::empty(shape);  // n is bounded by the file's own length
        for (int64_t k = 0; k < n; ++k) {
          try {
            value.data()[k] = detail::value_from_json<T>(values[static_cast<size_t>(k)]);
          } catch (const std::string& e) {
            throw "attribute 'value' [" + std::to_string(k) + "] " + e;
          }
        }
        g.add_constant(std::move(value));
        continue;
      }
      Attrs attrs;
      for (const AttrDesc& d : kAttrDescs)
        if (def.attrs & d.field) {
          try {
            detail::read_attr<T>(d, jattrs.at(d.key), attrs);
          } catch (const std::string& e) {
            throw std::string("attribute '") + d.key + "' " + e;
          }
        }
      std::vector<int> inputs;
      for (size_t k = 0; k < jinputs.size(); ++k)
        inputs.push_back(node_ref(jinputs[k], static_cast<int>(i), at + ": inputs[" + std::to_string(k) + "]"));
      if (op == OpCode::concat && !inputs.empty()) {
        // The shape rule sums the extents along the axis: check that the sum fits first.
        const Shape& first = g.nodes[inputs[0]].shape;
        const int axis = normalize_axis(attrs.axis, first.size(), def.name);
        int64_t total = 0;
        for (int in : inputs) {
          const Shape& s = g.nodes[in].shape;
          const int64_t extent = axis < s.size() ? s[axis] : 0;
          if (extent > std::numeric_limits<int64_t>::max() - total)
            throw std::string("the concatenated extent along axis " + std::to_string(axis) + " overflows");
          total += extent;
        }
      }
      const int id = g.add_op(op, std::move(inputs), std::move(attrs));  // validates arity and shapes
      detail::check_extents<T>(g.nodes[id].shape);
    } catch (const std::string& what) {
      fail(at, what);
    } catch (const FormatError&) {
      throw;
    } catch (const Error& e) {
      fail(at, e.what());
    }
  }
  const json_in& heads = require(doc, "heads", "");
  if (!heads.is_array() || heads.empty()) fail("heads", "must be a non-empty array");
  for (size_t k = 0; k < heads.size(); ++k)
    g.outputs.push_back(node_ref(heads[k], static_cast<int>(g.nodes.size()), "heads[" + std::to_string(k) + "]"));
  const json_in& args = require(doc, "arg_nodes", "");
  std::vector<int> expected;
  for (int i = 0; i < static_cast<int>(g.nodes.size()); ++i)
    if (g.nodes[i].op == OpCode::variable) expected.push_back(i);
  if (!args.is_array() || args != json_in(expected))
    fail("arg_nodes", "must list the variable nodes in order: " + json_in(expected).dump());
  return g;
}

/// A file's bytes. A path that is no readable regular file is the caller's
/// mistake (Error), not a bad file (FormatError).
inline std::string read_text_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw Error("cannot read '" + path + "': no such regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open '" + path + "' for reading");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

template <class T>
graph::Graph<T> load_graph(const std::string& path) {
  return graph_from_json<T>(read_text_file(path), path);
}

template <class T>
void save_graph(const graph::Graph<T>& g, const std::string& path) {
  const std::string text = graph_to_json(g);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out || !out.write(text.data(), static_cast<std::streamsize>(text.size())))
    throw Error("export: cannot write " + path);
}

}  // namespace hybrid::io
