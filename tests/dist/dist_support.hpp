#pragma once
// The model and data of the dist tests: a small MLP and deterministic
// batches that depend only on the step, the same on every process.
#include <hybrid/dist.hpp>

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace dist_testing {

constexpr int64_t kInputs = 8, kClasses = 4;

/// Dense(16, relu) → Dense(4), initialized from `seed`.
inline hybrid::nn::HybridSequential mlp(uint64_t seed) {
  namespace nn = hybrid::nn;
  nn::HybridSequential net;
  net.add(nn::Dense(16, "relu", true, kInputs), nn::Dense(kClasses, "", true, 16));
  hybrid::random::seed(seed);
  net.initialize(nn::init::Xavier());
  return net;
}

/// Rows [first, first + count) of step `step`'s batch of 64 samples.
inline std::pair<hybrid::Tensor, hybrid::Tensor> batch(int step, int64_t first, int64_t count) {
  std::mt19937_64 gen(1000 + static_cast<uint64_t>(step));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x, y;
  for (int64_t i = 0; i < 64; ++i) {
    float row_sum = 0;
    for (int64_t j = 0; j < kInputs; ++j) {
      const float v = normal(gen);
      row_sum += v * static_cast<float>(j % 3);
      if (i >= first && i < first + count) x.push_back(v);
    }
    const auto label = static_cast<float>((static_cast<int64_t>(row_sum * 2.0f) % kClasses + kClasses) % kClasses);
    if (i >= first && i < first + count) y.push_back(label);
  }
  return {hybrid::from_vector<float>(x, {count, kInputs}), hybrid::from_vector<float>(y, {count})};
}

}  // namespace dist_testing
