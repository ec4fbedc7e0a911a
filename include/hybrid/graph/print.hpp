#pragma once
// Human-readable views of a graph: one line per node, and Graphviz DOT.
#include <sstream>
#include <string>

#include "graph.hpp"

namespace hybrid::graph {

/// "relu", "fused_elementwise[multiply,add,tanh]", "fully_connected+relu", "conv2d+relu".
template <class T>
std::string op_label(const Node<T>& n) {
  std::string s = op_def(n.op).name;
  if (n.op == OpCode::fused_elementwise && n.attrs.program) {
    s += '[';
    for (size_t i = 0; i < n.attrs.program->steps.size(); ++i)
      s += (i ? "," : "") + std::string(op_def(n.attrs.program->steps[i].op).name);
    s += ']';
  }
  if ((n.op == OpCode::fully_connected || n.op == OpCode::conv2d) && n.attrs.activation >= 0)
    s += std::string("+") + op_def(static_cast<OpCode>(n.attrs.activation)).name;
  return s;
}

/// One line per node: `%3 = fully_connected+relu(data, 0.weight, 0.bias) : (1, 256)`;
/// variables appear by name, other operands as %index.
template <class T>
std::string to_text(const Graph<T>& g) {
  std::ostringstream os;
  for (int i = 0; i < static_cast<int>(g.nodes.size()); ++i) {
    const Node<T>& n = g.nodes[i];
    os << '%' << i << " = ";
    if (n.op == OpCode::variable) {
      os << (n.var_kind == VarKind::input ? "input " : "param ") << n.name;
    } else if (n.op == OpCode::constant) {
      os << "constant";
      if (n.value.size() == 1) os << ' ' << n.value.data()[0];
    } else {
      os << op_label(n) << '(';
      for (size_t k = 0; k < n.inputs.size(); ++k) {
        const int in = n.inputs[k];
        os << (k ? ", " : "");
        if (g.nodes[in].op == OpCode::variable) os << g.nodes[in].name;
        else os << '%' << in;
      }
      os << ')';
    }
    os << " : " << n.shape << '\n';
  }
  os << "return";
  for (size_t k = 0; k < g.outputs.size(); ++k) os << (k ? ", %" : " %") << g.outputs[k];
  os << '\n';
  return os.str();
}

template <class T>
std::string to_dot(const Graph<T>& g) {
  std::ostringstream os;
  os << "digraph hybrid {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n";
  for (int i = 0; i < static_cast<int>(g.nodes.size()); ++i) {
    const Node<T>& n = g.nodes[i];
    std::string label, style;
    if (n.op == OpCode::variable) {
      label = n.name;
      style = n.var_kind == VarKind::input ? "shape=ellipse, style=filled, fillcolor=\"#cfe2f3\""
                                           : "shape=box, style=filled, fillcolor=\"#eeeeee\"";
    } else if (n.op == OpCode::constant) {
      label = "constant";
      if (n.value.size() == 1) {
        std::ostringstream v;
        v << n.value.data()[0];
        label += " " + v.str();
      }
      style = "shape=box, style=filled, fillcolor=\"#fff2cc\"";
    } else {
      label = op_label(n);
      style = "shape=box, style=\"rounded,filled\", fillcolor=\"#d9ead3\"";
    }
    os << "  n" << i << " [label=\"" << label << "\\n" << to_string(n.shape) << "\", " << style << "];\n";
    for (int in : n.inputs) os << "  n" << in << " -> n" << i << ";\n";
  }
  for (size_t k = 0; k < g.outputs.size(); ++k)
    os << "  out" << k << " [label=\"output" << k << "\", shape=plaintext];\n  n" << g.outputs[k] << " -> out" << k
       << ";\n";
  os << "}\n";
  return os.str();
}

}  // namespace hybrid::graph
