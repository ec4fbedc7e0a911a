#pragma once
// The one size rule every shape read from a file obeys, in both readers.
#include <cstdint>
#include <limits>

#include "../core/shape.hpp"

namespace hybrid::io {

/// True when the product of `s`'s non-zero extents, times `element_bytes`,
/// fits in int64. Then no element count, byte size, stride or flattened
/// extent of a tensor of that shape overflows — even in an empty tensor,
/// whose zero extent hides the others from its element count.
inline bool byte_size_fits(const Shape& s, int64_t element_bytes) {
  int64_t bytes = element_bytes;
  for (int64_t d : s)
    if (d > 0) {
      if (bytes > std::numeric_limits<int64_t>::max() / d) return false;
      bytes *= d;
    }
  return true;
}

}  // namespace hybrid::io
