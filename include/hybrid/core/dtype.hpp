#pragma once
// Element types. A tensor's dtype is its C++ element type; DType names it at run time.
#include <string>
#include <type_traits>

namespace hybrid {

enum class DType { float32, float64 };

inline std::string to_string(DType t) {
  switch (t) {
    case DType::float32: return "float32";
    case DType::float64: return "float64";
  }
  return "unknown";
}

template <class T>
constexpr DType dtype_of() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "hybrid tensors hold float or double");
  return std::is_same_v<T, float> ? DType::float32 : DType::float64;
}

}  // namespace hybrid
