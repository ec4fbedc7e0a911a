#pragma once
// Random tensors, deterministic after random::seed on any platform: the
// generator (mt19937_64) and the transforms (Box–Muller) are our own, not
// the standard library's implementation-defined distributions.
#include <cmath>
#include <mutex>
#include <random>

#include "tensor.hpp"

namespace hybrid::random {

namespace detail {
struct Generator {
  std::mutex mutex;
  std::mt19937_64 engine{42};
};
inline Generator& generator() {
  static Generator g;
  return g;
}
/// A double uniform in [0, 1) from 53 random bits.
inline double unit(std::mt19937_64& e) { return static_cast<double>(e() >> 11) * 0x1.0p-53; }
}  // namespace detail

inline void seed(uint64_t s) {
  auto& g = detail::generator();
  std::lock_guard<std::mutex> lock(g.mutex);
  g.engine.seed(s);
}

template <class T = float>
TensorT<T> uniform(const Shape& shape, T low = 0, T high = 1) {
  TensorT<T> t = TensorT<T>::empty(shape);
  auto& g = detail::generator();
  std::lock_guard<std::mutex> lock(g.mutex);
  T* v = t.data();
  for (int64_t i = 0; i < t.size(); ++i)
    v[i] = static_cast<T>(low + (high - low) * detail::unit(g.engine));
  return t;
}

template <class T = float>
TensorT<T> normal(const Shape& shape, T mean = 0, T stddev = 1) {
  TensorT<T> t = TensorT<T>::empty(shape);
  auto& g = detail::generator();
  std::lock_guard<std::mutex> lock(g.mutex);
  T* v = t.data();
  const double two_pi = 6.283185307179586476925286766559;
  for (int64_t i = 0; i < t.size(); i += 2) {
    const double u1 = 1.0 - detail::unit(g.engine);  // (0, 1]: log is finite
    const double u2 = detail::unit(g.engine);
    const double r = std::sqrt(-2.0 * std::log(u1));
    v[i] = static_cast<T>(mean + stddev * r * std::cos(two_pi * u2));
    if (i + 1 < t.size()) v[i + 1] = static_cast<T>(mean + stddev * r * std::sin(two_pi * u2));
  }
  return t;
}

}  // namespace hybrid::random
