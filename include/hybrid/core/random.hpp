#pragma once
// Random tensors, deterministic after random::seed on any platform: the
// generator (mt19937_64) and the transforms (Box–Muller) are our own, not
// the standard library's implementation-defined distributions.
#include <cmath>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "errors.hpp"
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
/// An integer uniform in [0, bound), bound > 0, without modulo bias: draws
/// below the largest multiple of bound that fits are rejected.
inline uint64_t below(std::mt19937_64& e, uint64_t bound) {
  const uint64_t threshold = (0 - bound) % bound;  // 2^64 mod bound
  for (;;) {
    const uint64_t r = e();
    if (r >= threshold) return r % bound;
  }
}
}  // namespace detail

inline void seed(uint64_t s) {
  auto& g = detail::generator();
  std::lock_guard<std::mutex> lock(g.mutex);
  g.engine.seed(s);
}

/// The generator's state as text (the standard textual form of
/// std::mt19937_64: its 312 words and position), to save with a checkpoint
/// so that a resumed run draws what the uninterrupted one would have
/// (dropout masks, shuffles).
inline std::string state() {
  auto& g = detail::generator();
  std::ostringstream out;
  std::lock_guard<std::mutex> lock(g.mutex);
  out << g.engine;
  return out.str();
}

namespace detail {
/// `text` as a generator state; Error when it is not one (`what` names the caller).
inline std::mt19937_64 parse_state(const std::string& text, const std::string& what) {
  std::istringstream in(text);
  std::mt19937_64 engine;
  in >> engine;
  if (in.fail() || !(in >> std::ws).eof())
    throw Error(what + ": not a random generator state (expected the text of random::state(), got " +
                std::to_string(text.size()) + " characters)");
  return engine;
}
}  // namespace detail

/// Restores a state that state() returned; Error when `text` is not one (the
/// generator is then left as it was).
inline void set_state(const std::string& text) {
  const std::mt19937_64 engine = detail::parse_state(text, "random::set_state");
  auto& g = detail::generator();
  std::lock_guard<std::mutex> lock(g.mutex);
  g.engine = engine;
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

/// The integers 0..n-1 in a random order (Fisher–Yates), deterministic after
/// seed; each call draws a new order from the generator's sequence.
inline std::vector<int64_t> permutation(int64_t n) {
  std::vector<int64_t> order(static_cast<size_t>(n > 0 ? n : 0));
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  auto& g = detail::generator();
  std::lock_guard<std::mutex> lock(g.mutex);
  for (size_t i = order.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(detail::below(g.engine, i));
    std::swap(order[i - 1], order[j]);
  }
  return order;
}

}  // namespace hybrid::random
