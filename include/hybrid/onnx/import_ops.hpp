#pragma once
// The ONNX → hybrid op mapping: one entry per ONNX op type (default domain),
// with the opsets it supports and the function that appends its hybrid
// nodes. This table is the one place that lists them; the mappers live in
// import_ops_elementwise.hpp, import_ops_nn.hpp and import_ops_shape.hpp.
// docs/onnx.md lists the same table for users; keep them together.
#include <functional>
#include <string>
#include <vector>

#include "import_node.hpp"
#include "import_ops_elementwise.hpp"
#include "import_ops_nn.hpp"
#include "import_ops_shape.hpp"

namespace hybrid::onnx::detail {

// ---- the table --------------------------------------------------------------------------------

template <class T>
struct OpMapping {
  const char* op_type;
  int64_t min_opset, max_opset;  // of the default domain
  std::function<void(NodeContext<T>&)> map;
};

/// Every ONNX op type the importer maps, with the opsets it accepts. Older
/// opsets changed semantics (Softmax's 2-D coercion before 13, attributes
/// that became inputs at 13), so 13 is the floor; 17 is the newest opset
/// PyTorch 1.13 writes and the one LayerNormalization first appears in.
template <class T>
const std::vector<OpMapping<T>>& op_mappings() {
  using C = NodeContext<T>;
  static const std::vector<OpMapping<T>> table = {
      {"Add", 13, 17, [](C& c) { map_binary(c, OpCode::add); }},
      {"Sub", 13, 17, [](C& c) { map_binary(c, OpCode::sub); }},
      {"Mul", 13, 17, [](C& c) { map_binary(c, OpCode::mul); }},
      {"Div", 13, 17, [](C& c) { map_binary(c, OpCode::div); }},
      {"Pow", 13, 17, map_pow<T>},
      {"Sqrt", 13, 17, [](C& c) { map_unary(c, OpCode::sqrt); }},
      {"Exp", 13, 17, [](C& c) { map_unary(c, OpCode::exp); }},
      {"Log", 13, 17, [](C& c) { map_unary(c, OpCode::log); }},
      {"Neg", 13, 17, [](C& c) { map_unary(c, OpCode::neg); }},
      {"Abs", 13, 17, [](C& c) { map_unary(c, OpCode::abs); }},
      {"Relu", 13, 17, [](C& c) { map_unary(c, OpCode::relu); }},
      {"Sigmoid", 13, 17, [](C& c) { map_unary(c, OpCode::sigmoid); }},
      {"Tanh", 13, 17, [](C& c) { map_unary(c, OpCode::tanh); }},
      {"Erf", 13, 17, [](C& c) { map_unary(c, OpCode::erf); }},
      {"Softplus", 13, 17, [](C& c) { map_unary(c, OpCode::softrelu); }},
      {"Reciprocal", 13, 17, map_reciprocal<T>},
      {"Max", 13, 17, [](C& c) { map_variadic(c, OpCode::maximum); }},
      {"Min", 13, 17, [](C& c) { map_variadic(c, OpCode::minimum); }},
      {"Clip", 13, 17, map_clip<T>},
      {"LeakyRelu", 13, 17, map_leaky_relu<T>},
      {"Softmax", 13, 17, [](C& c) { map_softmax(c, OpCode::softmax); }},
      {"LogSoftmax", 13, 17, [](C& c) { map_softmax(c, OpCode::log_softmax); }},
      {"Gemm", 13, 17, map_gemm<T>},
      {"MatMul", 13, 17, map_matmul<T>},
      {"Conv", 13, 17, map_conv<T>},
      {"MaxPool", 13, 17, [](C& c) { map_pool(c, OpCode::max_pool2d); }},
      {"AveragePool", 13, 17, [](C& c) { map_pool(c, OpCode::avg_pool2d); }},
      {"GlobalAveragePool", 13, 17, map_global_avg_pool<T>},
      {"BatchNormalization", 13, 17, map_batch_norm<T>},
      {"LayerNormalization", 17, 17, map_layer_norm<T>},
      {"Flatten", 13, 17, map_flatten<T>},
      {"Reshape", 13, 17, map_reshape<T>},
      {"Pad", 13, 17, map_pad<T>},
      {"Transpose", 13, 17, map_transpose<T>},
      {"Concat", 13, 17, map_concat<T>},
      {"Split", 13, 17, map_split<T>},
      {"Slice", 13, 17, map_slice<T>},
      {"Squeeze", 13, 17, map_squeeze<T>},
      {"Unsqueeze", 13, 17, map_unsqueeze<T>},
      {"Gather", 13, 17, map_gather<T>},
      {"GatherElements", 13, 17, map_gather_elements<T>},
      {"Expand", 13, 17, map_expand<T>},
      {"Constant", 13, 17, map_constant<T>},
      {"ConstantOfShape", 13, 17, map_constant_of_shape<T>},
      {"Shape", 13, 17, map_shape<T>},
      {"ReduceMean", 13, 17, [](C& c) { map_reduce(c, OpCode::mean); }},
      {"ReduceSum", 13, 17, [](C& c) { map_reduce(c, OpCode::sum); }},
      {"ReduceMax", 13, 17, [](C& c) { map_reduce(c, OpCode::max); }},
      {"Where", 13, 17, map_where<T>},
      {"Equal", 13, 17, [](C& c) { map_binary(c, OpCode::equal); }},
      {"Greater", 13, 17, [](C& c) { map_binary(c, OpCode::greater); }},
      {"Less", 13, 17, [](C& c) { map_binary(c, OpCode::less); }},
      {"Not", 13, 17, map_not<T>},
      {"ArgMax", 13, 17, map_argmax<T>},
      {"Identity", 13, 17, map_identity<T>},
      {"Dropout", 13, 17, map_dropout<T>},
      {"Cast", 13, 17, map_cast<T>},
  };
  return table;
}

template <class T>
const OpMapping<T>* find_mapping(const std::string& op_type, int64_t opset) {
  for (const auto& m : op_mappings<T>())
    if (op_type == m.op_type && opset >= m.min_opset && opset <= m.max_opset) return &m;
  return nullptr;
}

}  // namespace hybrid::onnx::detail
