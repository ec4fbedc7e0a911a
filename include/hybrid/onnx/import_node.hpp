#pragma once
// One ONNX node being mapped (NodeContext: its inputs as values, its
// attributes) and the small helpers every op mapper uses.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

#include "import_graph.hpp"
#include "tensor_proto.hpp"

namespace hybrid::onnx::detail {

/// One ONNX node being mapped: its inputs as values, its attributes.
template <class T>
struct NodeContext {
  const ::onnx::NodeProto& node;
  int64_t opset;
  GraphBuilder<T>& b;
  std::vector<Value> in;   // undefined where the input is omitted ("")
  std::vector<Value> out;  // filled by the mapper, one per ONNX output

  size_t inputs() const { return in.size(); }
  bool has(size_t i) const { return i < in.size() && in[i].defined(); }
  const Value& input(size_t i) const {
    if (!has(i)) throw NodeError("input " + std::to_string(i) + " is missing");
    return in[i];
  }
  const ::onnx::AttributeProto* attr(const char* name) const {
    for (const auto& a : node.attribute())
      if (a.name() == name) return &a;
    return nullptr;
  }
  int64_t attr_int(const char* name, int64_t fallback) const {
    const auto* a = attr(name);
    return a ? a->i() : fallback;
  }
  double attr_float(const char* name, double fallback) const {
    const auto* a = attr(name);
    return a ? static_cast<double>(a->f()) : fallback;
  }
  std::vector<int64_t> attr_ints(const char* name, std::vector<int64_t> fallback = {}) const {
    const auto* a = attr(name);
    return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : fallback;
  }
  std::string attr_string(const char* name, std::string fallback) const {
    const auto* a = attr(name);
    return a ? a->s() : fallback;
  }
  /// Input `i` as numbers known at import that do not depend on the batch.
  std::vector<double> known(size_t i, const char* what) const {
    const Value& v = input(i);
    if (!v.known())
      throw NodeError(std::string(what) + " (input " + std::to_string(i) +
                      ") must be a constant, an initializer or computed from shapes; it is computed at run time");
    if (!same_values(v.c, v.c_alt))
      throw NodeError(std::string(what) + " (input " + std::to_string(i) + ") depends on the batch size");
    return v.c.to_vector();
  }
  void set(Value v) { out.push_back(std::move(v)); }
};

inline int64_t to_int(double v) {  // INT64_MAX/MIN as doubles land outside int64: clamp
  if (std::isnan(v)) throw NodeError("NaN where an integer is needed");
  if (v >= 9.2e18) return std::numeric_limits<int64_t>::max();
  if (v <= -9.2e18) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

inline int64_t norm_axis(int64_t axis, int rank, const char* what) {
  if (axis < -rank || axis >= rank)
    throw NodeError(std::string(what) + " " + std::to_string(axis) + " is out of range for rank " +
                    std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

/// Bound on window attributes (kernel, strides, dilations, pads), so the
/// importer's own arithmetic on them cannot overflow.
inline constexpr int64_t kMaxWindow = int64_t{1} << 30;

// ---- helpers shared by mappers ---------------------------------------------------------------

template <class T>
Value scalar_const(double v) {
  return Value::constant(from_vector<double>({v}, Shape{}), false);
}

template <class T>
std::vector<int64_t> axes_of(NodeContext<T>& c, size_t input) {
  std::vector<int64_t> axes;
  if (c.has(input)) {
    for (double v : c.known(input, "axes")) axes.push_back(to_int(v));
  } else {
    axes = c.attr_ints("axes");
  }
  return axes;
}

}  // namespace hybrid::onnx::detail
