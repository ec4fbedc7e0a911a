#pragma once
// The table printed by Block::summary(): one row per layer (its structural
// name, type and configuration, output shape, own parameter count) and the
// total. Collecting the rows is done in block.hpp with forward hooks.
#include <algorithm>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "../core/shape.hpp"

namespace hybrid::nn::detail {

struct SummaryRow {
  std::string name;    // structural path: "0", "hidden"
  std::string layer;   // type and configuration: "Dense(512 -> 256, relu)"
  Shape output;
  int64_t params = 0;  // the layer's own parameters
};

/// 164482 → "164,482".
inline std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

inline void print_summary(std::ostream& os, const std::vector<SummaryRow>& rows, int64_t total) {
  const std::string h_name = "Name", h_layer = "Layer", h_shape = "Output Shape", h_params = "Param #";
  size_t w_name = h_name.size(), w_layer = h_layer.size(), w_shape = h_shape.size(), w_params = h_params.size();
  for (const auto& r : rows) {
    w_name = std::max(w_name, r.name.size());
    w_layer = std::max(w_layer, r.layer.size());
    w_shape = std::max(w_shape, to_string(r.output).size());
    w_params = std::max(w_params, with_commas(r.params).size());
  }
  const size_t gap = 3, width = w_name + w_layer + w_shape + w_params + 3 * gap;
  auto left = [](const std::string& s, size_t w) { return s + std::string(w - s.size(), ' '); };
  auto right = [](const std::string& s, size_t w) { return std::string(w - s.size(), ' ') + s; };
  const std::string sep(gap, ' ');
  auto line = [&](const std::string& n, const std::string& l, const std::string& s, const std::string& p) {
    os << left(n, w_name) << sep << left(l, w_layer) << sep << left(s, w_shape) << sep << right(p, w_params)
       << '\n';
  };
  os << std::string(width, '-') << '\n';
  line(h_name, h_layer, h_shape, h_params);
  os << std::string(width, '=') << '\n';
  for (const auto& r : rows) line(r.name, r.layer, to_string(r.output), with_commas(r.params));
  os << std::string(width, '=') << '\n';
  os << "Total params: " << with_commas(total) << '\n';
  os << std::string(width, '-') << '\n';
}

}  // namespace hybrid::nn::detail
