#pragma once
// IntPair: a layer argument that is one int for both spatial axes or a pair
// {h, w}, as Gluon's int-or-tuple arguments (pool_size, strides, padding).
#include <cstdint>
#include <string>

#include "../core/shape.hpp"

namespace hybrid::nn {

struct IntPair {
  int64_t h, w;

  IntPair(int64_t both) : h(both), w(both) {}  // NOLINT: implicit, so MaxPool2D(2) reads as Gluon's
  IntPair(int64_t h_, int64_t w_) : h(h_), w(w_) {}

  Shape shape() const { return Shape{h, w}; }
  /// "(2, 3)", as Gluon prints its tuples.
  std::string text() const { return "(" + std::to_string(h) + ", " + std::to_string(w) + ")"; }
  bool operator==(const IntPair& o) const { return h == o.h && w == o.w; }
  bool operator!=(const IntPair& o) const { return !(*this == o); }
};

}  // namespace hybrid::nn
