#pragma once
// operator<< for tensors: values (abbreviated like NumPy past 1000 elements)
// for an eager tensor; the symbol's name, shape and dtype for a traced one.
#include <iomanip>
#include <ostream>
#include <sstream>

#include "../trace/trace_state.hpp"

namespace hybrid {

namespace detail {
template <class T>
void print_values(std::ostream& os, const T* v, const Shape& s, int dim, int64_t offset, bool abbreviate,
                  int indent) {
  if (dim == s.size()) {
    os << v[offset];
    return;
  }
  const int64_t n = s[dim];
  int64_t inner = 1;
  for (int d = dim + 1; d < s.size(); ++d) inner *= s[d];
  constexpr int64_t kEdge = 3;
  os << '[';
  for (int64_t i = 0; i < n; ++i) {
    if (abbreviate && n > 2 * kEdge && i == kEdge) {
      os << "...";
      i = n - kEdge - 1;
      os << (dim + 1 == s.size() ? ", " : ",\n" + std::string(static_cast<size_t>(indent + 1), ' '));
      continue;
    }
    print_values(os, v, s, dim + 1, offset + i * inner, abbreviate, indent + 1);
    if (i + 1 < n) os << (dim + 1 == s.size() ? ", " : ",\n" + std::string(static_cast<size_t>(indent + 1), ' '));
  }
  os << ']';
}
}  // namespace detail

template <class T>
std::ostream& operator<<(std::ostream& os, const TensorT<T>& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  if (t.is_traced()) {
    const auto& state = detail::TensorAccess::trace(t);
    const int node = detail::TensorAccess::node(t);
    const auto& n = state->graph.nodes[node];
    std::string name = n.op == OpCode::variable ? n.name : std::string(op_def(n.op).name) + std::to_string(node);
    return os << "<symbol " << name << ": shape=" << t.shape() << ", dtype=" << to_string(t.dtype()) << ">";
  }
  std::ostringstream body;
  body << std::setprecision(std::is_same_v<T, float> ? 6 : 10);
  detail::print_values(body, t.data(), t.shape(), 0, 0, t.size() > 1000, 7);
  return os << "tensor(" << body.str() << ", shape=" << t.shape() << ", dtype=" << to_string(t.dtype()) << ')';
}

}  // namespace hybrid
