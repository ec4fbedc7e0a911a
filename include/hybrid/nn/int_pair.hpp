#pragma once
// IntPair: a layer argument given as one integer (used for both spatial
// axes) or as a pair {h, w}, as Gluon's int-or-tuple arguments (kernel_size,
// pool_size, strides, padding, dilation).
#include <cstdint>
#include <string>

#include "../core/shape.hpp"

namespace hybrid::nn {

struct IntPair {
  int64_t h = 0, w = 0;

  IntPair(int64_t both) : h(both), w(both) {}  // NOLINT: implicit, so MaxPool2D(2) reads as Gluon's
  IntPair(int64_t h_, int64_t w_) : h(h_), w(w_) {}

  Shape shape() const { return Shape{h, w}; }
  bool square() const { return h == w; }
  /// "(2, 3)", as Gluon prints its tuples.
  std::string text() const { return "(" + std::to_string(h) + ", " + std::to_string(w) + ")"; }
  /// "3" when both are equal, else "3x5" (with `sep` between).
  std::string compact(const char* sep = "x") const {
    return square() ? std::to_string(h) : std::to_string(h) + sep + std::to_string(w);
  }
  bool operator==(const IntPair& o) const { return h == o.h && w == o.w; }
  bool operator!=(const IntPair& o) const { return !(*this == o); }
};

}  // namespace hybrid::nn
