#pragma once
// The graph IR: nodes in topological order (every input index is smaller than
// the node's own), one output per node. Variables are graph inputs and
// parameters, bound at run time; constants carry their value.
#include <string>
#include <vector>

#include "../core/tensor.hpp"
#include "../table/op_table.hpp"

namespace hybrid::graph {

enum class VarKind { input, param };

template <class T>
struct Node {
  OpCode op = OpCode::constant;
  std::vector<int> inputs;
  Attrs attrs;
  Shape shape;
  std::string name;         // variables: their name; others: a readable label
  VarKind var_kind = VarKind::input;
  TensorT<T> value;         // constants: the value
};

template <class T>
struct Graph {
  std::vector<Node<T>> nodes;
  std::vector<int> outputs;

  int add(Node<T> n) {
    nodes.push_back(std::move(n));
    return static_cast<int>(nodes.size()) - 1;
  }

  /// Appends an op node, inferring its shape through the op table.
  int add_op(OpCode op, std::vector<int> inputs, Attrs attrs) {
    Shape in_shapes[Shape::kMaxDims * 4];
    std::vector<Shape> many;
    const Shape* shapes = in_shapes;
    if (inputs.size() > std::size(in_shapes)) {
      for (int i : inputs) many.push_back(nodes[i].shape);
      shapes = many.data();
    } else {
      for (size_t i = 0; i < inputs.size(); ++i) in_shapes[i] = nodes[inputs[i]].shape;
    }
    Node<T> n;
    n.op = op;
    round_reals<T>(op_def(op).attrs, attrs);  // the graph holds the values its kernels use
    n.shape = infer_shape(op, shapes, static_cast<int>(inputs.size()), attrs);
    n.attrs = std::move(attrs);
    n.inputs = std::move(inputs);
    return add(std::move(n));
  }

  int add_constant(TensorT<T> value) {
    Node<T> n;
    n.op = OpCode::constant;
    n.shape = value.shape();
    n.value = std::move(value);
    return add(std::move(n));
  }

  int add_variable(std::string name, const Shape& shape, VarKind kind) {
    Node<T> n;
    n.op = OpCode::variable;
    n.name = std::move(name);
    n.shape = shape;
    n.var_kind = kind;
    return add(std::move(n));
  }

  /// Indices of variables of one kind, in graph order.
  std::vector<int> variables(VarKind kind) const {
    std::vector<int> v;
    for (int i = 0; i < static_cast<int>(nodes.size()); ++i)
      if (nodes[i].op == OpCode::variable && nodes[i].var_kind == kind) v.push_back(i);
    return v;
  }
};

}  // namespace hybrid::graph
