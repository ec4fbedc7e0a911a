#pragma once
// The graph under construction while an ONNX model is imported, and the
// values flowing through it.
//
// A value is either a node of the hybrid graph (a run-time tensor) or known
// at import (a constant, an initializer, anything computed from those: the
// Shape/Gather/Concat chains PyTorch writes for reshapes). Symbolic
// dimensions (a batch) are built at extent 1; to know which numbers depend
// on them, every value is also carried at an alternate extent (kAltExtent):
// a graph node keeps its shape there, an import-time value its contents
// there. Where the two differ, the number depends on the batch: a reshape
// target element becomes -1, and anything hybrid's ops cannot express
// (a batch-dependent constant used at run time, two batch-dependent extents
// in one reshape other than ones kept in place) is refused instead of being
// baked in at batch 1.
#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "../api/creation.hpp"
#include "../api/dispatch.hpp"
#include "../graph/graph.hpp"

namespace hybrid::onnx::detail {

inline constexpr int64_t kAltExtent = 3;  // not 1 or 2, so it never looks broadcastable or like a pair
/// With several symbolic dimensions, each name may get its own alternate
/// extent, a distinct prime: a product of symbolic extents (times a
/// constant) then has one value there, so equal numbers mean the same
/// dimensions and a reshape that keeps them in place can be recognized.
inline constexpr int64_t kAltExtents[] = {3, 5, 7, 11, 13, 17, 19, 23};
inline constexpr int kMaxDistinctSymbols = 8;
/// The most elements a value computed at import may have: folding is for
/// shapes and small constants, and a crafted file must not make it allocate
/// without bound.
inline constexpr int64_t kMaxFoldedElements = int64_t{1} << 22;
/// The most nodes a reshape with several symbolic extents may be rebuilt from.
inline constexpr int kMaxRebuiltNodes = 256;

/// An error in one node; the importer prefixes the file and the node.
struct NodeError : Error {
  explicit NodeError(const std::string& what) : Error(what) {}
};

struct Value {
  int node = -1;                 // a graph node, or -1: known at import
  Shape alt;                     // node: its shape at the alternate extent
  TensorT<double> c, c_alt;      // known at import: the value, and at the alternate extent
  bool integer = false;          // an integer or bool ONNX type (shapes, indices, masks)
  bool whole = false;            // a float type holding integers cast from one (Cast(ArgMax) and back)
  std::string param;             // a float initializer: becomes this parameter when used at run time
  std::shared_ptr<int> emitted;  // known at import: its graph node once used at run time
  bool defined() const { return node >= 0 || c.defined(); }
  bool known() const { return node < 0 && c.defined(); }

  static Value constant(TensorT<double> v, TensorT<double> v_alt, bool integer) {
    Value r;
    r.c = std::move(v);
    r.c_alt = std::move(v_alt);
    r.integer = integer;
    r.emitted = std::make_shared<int>(-1);
    return r;
  }
  static Value constant(const TensorT<double>& v, bool integer) { return constant(v, v, integer); }
};

inline bool same_values(const TensorT<double>& a, const TensorT<double>& b) {
  if (a.shape() != b.shape()) return false;
  const double* x = a.data();
  const double* y = b.data();
  for (int64_t i = 0; i < a.size(); ++i)
    if (!(x[i] == y[i]) && !(std::isnan(x[i]) && std::isnan(y[i]))) return false;
  return true;
}

template <class T>
TensorT<T> to_tensor(const TensorT<double>& v) {
  TensorT<T> t = TensorT<T>::empty(v.shape());
  const double* src = v.data();
  T* dst = t.data();
  for (int64_t i = 0; i < v.size(); ++i) dst[i] = static_cast<T>(src[i]);
  return t;
}

template <class T>
class GraphBuilder {
 public:
  graph::Graph<T> g;
  std::vector<Shape> alt;  // per node: its shape at the alternate extent
  std::unordered_map<std::string, TensorT<T>> params;
  std::string label;       // the ONNX node being mapped, as graph labels
  // Several symbolic dimensions, all at one alternate extent: equal numbers
  // may then be different dimensions (a reshape may swap them).
  bool ambiguous_symbols = false;

  Shape shape(const Value& v) const { return v.node >= 0 ? g.nodes[static_cast<size_t>(v.node)].shape : v.c.shape(); }
  Shape alt_shape(const Value& v) const { return v.node >= 0 ? alt[static_cast<size_t>(v.node)] : v.c_alt.shape(); }
  int rank(const Value& v) const { return shape(v).size(); }
  /// Graph node `i` as a value.
  Value node_value(int i) const {
    Value v;
    v.node = i;
    v.alt = alt[static_cast<size_t>(i)];
    return v;
  }

  Value input(const std::string& name, const Shape& s, const Shape& s_alt, bool integer) {
    Value v;
    v.node = g.add_variable(name, s, graph::VarKind::input);
    alt.push_back(s_alt);
    v.alt = s_alt;
    v.integer = integer;
    return v;
  }

  /// The graph node holding `v`: a parameter for a float initializer, a
  /// constant for another import-time value (which must not depend on the batch).
  int emit(const Value& v) {
    if (v.node >= 0) return v.node;
    if (!v.c.defined()) throw NodeError("uses a value that was never produced");
    if (*v.emitted >= 0) return *v.emitted;
    int node;
    if (!v.param.empty()) {
      auto it = param_nodes_.find(v.param);
      if (it != param_nodes_.end()) return *v.emitted = it->second;
      node = g.add_variable(v.param, v.c.shape(), graph::VarKind::param);
      alt.push_back(v.c.shape());
      params.emplace(v.param, to_tensor<T>(v.c));
      param_nodes_[v.param] = node;
    } else if (same_values(v.c, v.c_alt)) {
      node = g.add_constant(to_tensor<T>(v.c));
      alt.push_back(v.c.shape());
    } else {
      // A filled tensor whose shape follows the batch (ConstantOfShape of
      // Shape(x)): extent 1 there, and op() checks that broadcasting gives
      // what the full tensor would at another batch size.
      const Shape reduced = broadcastable_form(v);
      node = g.add_constant(full<T>(reduced, static_cast<T>(v.c.size() ? v.c.data()[0] : 0)));
      alt.push_back(reduced);
    }
    return *v.emitted = node;
  }

  /// Applies `op`: folded at import when every input is known there and
  /// none is a parameter, else appended to the graph.
  Value op(OpCode code, const std::vector<Value>& in, Attrs attrs = {}) {
    bool fold = true, integer = true;
    for (const auto& v : in) {
      fold = fold && v.known() && v.param.empty();
      integer = integer && v.integer;
    }
    if (code == OpCode::greater || code == OpCode::less || code == OpCode::equal) integer = true;
    if (fold) {
      std::vector<Shape> shapes;
      for (const auto& v : in) shapes.push_back(v.c_alt.shape());
      Attrs probe = attrs;
      const Shape out = infer_shape(code, shapes.data(), static_cast<int>(shapes.size()), probe);
      if (checked_numel(out) > kMaxFoldedElements)
        throw NodeError("computing this at import would make " + std::to_string(checked_numel(out)) +
                        " elements; at most " + std::to_string(kMaxFoldedElements) + " are folded");
      std::vector<const TensorT<double>*> a, b;
      for (const auto& v : in) {
        a.push_back(&v.c);
        b.push_back(&v.c_alt);
      }
      TensorT<double> r = ops::apply<double>(code, a.data(), static_cast<int>(a.size()), attrs);
      TensorT<double> r_alt = ops::apply<double>(code, b.data(), static_cast<int>(b.size()), attrs);
      if (integer && code == OpCode::div) {  // ONNX integer division truncates
        for (auto* t : {&r, &r_alt})
          for (int64_t i = 0; i < t->size(); ++i) t->data()[i] = std::trunc(t->data()[i]);
      }
      return Value::constant(std::move(r), std::move(r_alt), integer);
    }
    std::vector<int> idx;
    std::vector<Shape> alts, true_alts;  // true: a batch-shaped fill at its full shape
    bool reduced = false;
    for (const auto& v : in) {
      idx.push_back(emit(v));
      alts.push_back(alt[static_cast<size_t>(idx.back())]);
      true_alts.push_back(v.known() ? v.c_alt.shape() : alts.back());
      reduced = reduced || true_alts.back() != alts.back();
    }
    Attrs alt_attrs = attrs;
    Value r;
    r.node = g.add_op(code, idx, std::move(attrs));  // adds nothing when it throws
    g.nodes[static_cast<size_t>(r.node)].name = label;
    // alt stays in step with the nodes even when this node is refused below:
    // the walk goes on to report other refusals.
    alt.emplace_back();
    try {
      r.alt = infer_shape(code, alts.data(), static_cast<int>(alts.size()), alt_attrs);
    } catch (const Error& e) {
      throw NodeError(std::string("builds a ") + op_def(code).name +
                      " that only works at the traced batch size (at another one: " + e.what() + ")");
    }
    if (reduced) {
      // Only elementwise ops see a uniform fill the same at extent 1 as in full.
      bool same = false;
      if (has_trait(code, kElementwise)) {
        Attrs probe = alt_attrs;
        try {
          same = infer_shape(code, true_alts.data(), static_cast<int>(true_alts.size()), probe) == r.alt;
        } catch (const Error&) {
        }
      }
      if (!same)
        throw NodeError(std::string(op_def(code).name) +
                        " is given a filled tensor whose shape follows the batch, and does not broadcast it to the "
                        "same result at other batch sizes");
    }
    alt.back() = r.alt;
    r.integer = integer;
    return r;
  }

  /// The shape a batch-dependent import-time value takes in the graph: it
  /// must be one value throughout, with extent 1 where it follows the batch.
  static Shape broadcastable_form(const Value& v) {
    const auto refuse = [&](const std::string& why) {
      return NodeError("needs a tensor of shape " + to_string(v.c.shape()) +
                       " computed from the input's symbolic (batch) dimensions, " + why +
                       "; hybrid's graph cannot compute values at run time, and baking in batch 1 would be wrong "
                       "at other sizes");
    };
    const Shape s = v.c.shape(), s2 = v.c_alt.shape();
    if (s.size() != s2.size()) throw refuse("whose rank changes with them");
    Shape reduced = s;
    for (int i = 0; i < s.size(); ++i)
      if (s[i] != s2[i]) {
        if (s[i] != 1) throw refuse("with an extent that is not the batch itself");
        reduced[i] = 1;
      }
    if (s == s2) throw refuse("whose values depend on them");
    const auto uniform = [](const TensorT<double>& t) {
      for (int64_t i = 1; i < t.size(); ++i)
        if (!(t.data()[i] == t.data()[0])) return false;
      return true;
    };
    if (!uniform(v.c) || !uniform(v.c_alt) || (v.c.size() && v.c_alt.size() && !(v.c.data()[0] == v.c_alt.data()[0])))
      throw refuse("that is not one value throughout");
    return reduced;
  }

  /// `x` reshaped to `target` (and, at the alternate extent, `target_alt`):
  /// the one extent that depends on the batch becomes -1.
  Value reshape(const Value& x, const Shape& target, const Shape& target_alt) {
    if (target.size() != target_alt.size()) throw NodeError("reshape target rank depends on the batch size");
    Shape t = target;
    int dynamic = 0;
    for (int i = 0; i < t.size(); ++i)
      if (t[i] != target_alt[i]) {
        t[i] = -1;
        ++dynamic;
      }
    if (shape(x) == target && alt_shape(x) == target_alt && (dynamic <= 1 || !ambiguous_symbols)) return x;
    if (dynamic > 1) {
      Value r;
      if (!ambiguous_symbols && reshape_behind_prefix(x, target, target_alt, r)) return r;
      throw NodeError("reshapes " + symbolic_text(shape(x), alt_shape(x)) + " to " + symbolic_text(target, target_alt) +
                      ", " + std::to_string(dynamic) + " extents that depend on symbolic dimensions (shown as ?); "
                      "hybrid's reshape can infer only one (-1), and only symbolic extents kept in place ahead "
                      "of fixed ones can be rebuilt without a reshape");
    }
    Attrs a;
    a.shape = t;
    Value r = op(OpCode::reshape, {x}, a);
    if (alt_shape(r) != target_alt)
      throw NodeError("reshape to " + to_string(target) + " does not follow the batch size");
    return r;
  }

  /// A shape with "?" for the extents that depend on symbolic dimensions.
  static std::string symbolic_text(const Shape& s, const Shape& s_alt) {
    std::string t = "(";
    for (int i = 0; i < s.size(); ++i)
      t += (i ? ", " : "") + (s[i] == s_alt[i] ? std::to_string(s[i]) : std::string("?"));
    return t + (s.size() == 1 ? ",)" : ")");
  }

  /// A reshape that keeps x's leading extents (the symbolic ones among
  /// them) in place and rearranges only fixed trailing ones, such as
  /// (batch, seq, 32) → (batch, seq, 4, 8) and back: built from take /
  /// concat (merging the trailing axes into one) and slice / stack
  /// (splitting it), which need no literal leading extents. False where
  /// the reshape is not of that form.
  bool reshape_behind_prefix(const Value& x, const Shape& target, const Shape& target_alt, Value& out) {
    const Shape s = shape(x), s2 = alt_shape(x);
    int p = 0;
    while (p < s.size() && p < target.size() && s[p] == target[p] && s2[p] == target_alt[p]) ++p;
    if (p == 0) return false;
    int64_t in_rest = 1, out_rest = 1;
    for (int i = p; i < s.size(); ++i) {
      if (s[i] != s2[i] || s[i] == 0) return false;
      in_rest *= s[i];
    }
    std::vector<int64_t> dims;
    for (int i = p; i < target.size(); ++i) {
      if (target[i] != target_alt[i] || target[i] == 0) return false;
      out_rest *= target[i];
      dims.push_back(target[i]);
    }
    if (in_rest != out_rest) return false;
    int budget = kMaxRebuiltNodes;
    auto spend = [&](int64_t n) {
      budget -= static_cast<int>(std::min<int64_t>(n, kMaxRebuiltNodes + 1));
      if (budget < 0)
        throw NodeError("reshapes to " + to_string(target) + ", which keeps the symbolic leading extents but would " +
                        "take more than " + std::to_string(kMaxRebuiltNodes) + " nodes to rebuild without a reshape");
    };
    auto index = [](int64_t j) { return Value::constant(from_vector<double>({static_cast<double>(j)}, Shape{}), true); };
    // Merge the trailing axes into one: (…, a, c) → a takes of (…, c), concatenated.
    Value v = x;
    if (s.size() == p) {
      Attrs a;
      a.axis = p;
      v = op(OpCode::stack, {v}, a);  // (…) → (…, 1)
    }
    while (rank(v) > p + 1) {
      const int r = rank(v);
      const int64_t n = shape(v)[r - 2];
      spend(n + 1);
      std::vector<Value> parts;
      Attrs t;
      t.axis = r - 2;
      for (int64_t j = 0; j < n; ++j) parts.push_back(op(OpCode::take, {v, index(j)}, t));
      Attrs cat;
      cat.axis = r - 2;
      v = parts.size() == 1 ? parts[0] : op(OpCode::concat, parts, cat);
    }
    // Split it into the target's trailing extents: slices of the last axis, stacked.
    std::function<Value(const Value&, size_t)> split = [&](const Value& w, size_t k) -> Value {
      if (k + 1 >= dims.size()) return w;
      int64_t q = 1;
      for (size_t i = k + 1; i < dims.size(); ++i) q *= dims[i];
      spend(dims[k] + 1);
      std::vector<Value> parts;
      for (int64_t j = 0; j < dims[k]; ++j) {
        Attrs sl;
        sl.axis = rank(w) - 1;
        sl.begin = j * q;
        sl.end = (j + 1) * q;
        parts.push_back(split(op(OpCode::slice, {w}, sl), k + 1));
      }
      Attrs st;
      st.axis = p;  // each part is (prefix…, dims[k+1]…)
      return op(OpCode::stack, parts, st);
    };
    if (dims.empty()) {
      Attrs t;
      t.axis = p;
      out = op(OpCode::take, {v, index(0)}, t);  // (…, 1) → (…)
    } else {
      out = split(v, 0);
    }
    return true;
  }

  /// Drops every node the outputs do not need (the members of a matched
  /// pattern, shape computations) and the parameters only they used.
  void prune() {
    std::vector<char> live(g.nodes.size(), 0);
    for (int o : g.outputs) live[static_cast<size_t>(o)] = 1;
    for (size_t i = g.nodes.size(); i-- > 0;)
      if (live[i] || (g.nodes[i].op == OpCode::variable && g.nodes[i].var_kind == graph::VarKind::input)) {
        live[i] = 1;
        for (int in : g.nodes[i].inputs) live[static_cast<size_t>(in)] = 1;
      }
    std::vector<int> remap(g.nodes.size(), -1);
    graph::Graph<T> out;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      if (!live[i]) {
        if (g.nodes[i].op == OpCode::variable) params.erase(g.nodes[i].name);
        continue;
      }
      graph::Node<T> n = std::move(g.nodes[i]);
      for (int& in : n.inputs) in = remap[static_cast<size_t>(in)];
      remap[i] = out.add(std::move(n));
    }
    for (int o : g.outputs) out.outputs.push_back(remap[static_cast<size_t>(o)]);
    g = std::move(out);
  }

 private:
  std::unordered_map<std::string, int> param_nodes_;
};

}  // namespace hybrid::onnx::detail
