#pragma once
// Kernels that draw from the library's generator (core/random.hpp) when they
// run, so a plan replays new random numbers on every call, in the same
// order as the eager ops would draw them.
#include "../core/random.hpp"
#include "../ops/kernel_args.hpp"

namespace hybrid::kernels {

/// dropout_mask: 0 with probability rate, else 1 / (1 - rate); the input
/// gives only the shape. One uniform draw per element, in order.
template <class T>
void dropout_mask_kernel(const KernelArgs<T>& k) {
  const double rate = k.attrs.rate;
  const T keep = static_cast<T>(1.0 / (1.0 - rate));
  auto& g = random::detail::generator();
  std::lock_guard<std::mutex> lock(g.mutex);
  const int64_t n = numel(k.out_shape);
  for (int64_t i = 0; i < n; ++i) k.out[i] = random::detail::unit(g.engine) < rate ? T(0) : keep;
}

}  // namespace hybrid::kernels
