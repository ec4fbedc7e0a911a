#pragma once
// IntPair: a layer argument given as one integer (used for both spatial
// axes) or as a pair {h, w}, as Gluon's kernel_size, strides and padding.
#include <cstdint>
#include <string>

#include "../core/errors.hpp"
#include "../core/shape.hpp"

namespace hybrid::nn {

struct IntPair {
  int64_t h = 0, w = 0;
  IntPair(int64_t both) : h(both), w(both) {}  // NOLINT: an int is the common spelling
  IntPair(int64_t h_, int64_t w_) : h(h_), w(w_) {}
  Shape shape() const { return Shape{h, w}; }
  bool square() const { return h == w; }
  /// "3" or "3x5".
  std::string text(const char* sep = "x") const {
    return square() ? std::to_string(h) : std::to_string(h) + sep + std::to_string(w);
  }
};

}  // namespace hybrid::nn
