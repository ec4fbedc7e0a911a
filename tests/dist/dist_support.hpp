#pragma once
// The model and data of the dist tests: a small MLP and deterministic
// batches that depend only on the step, the same on every process; the
// Context main.cpp creates, and a scope for its exchange settings.
#include <hybrid/dist.hpp>

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

/// Made by main.cpp around the Catch session.
extern hybrid::dist::Context* dist_context;

namespace dist_testing {

/// Sets overlap_backward and the bucket size for one scope (every process alike).
struct ExchangeScope {
  bool overlap;
  int64_t bytes;
  ExchangeScope(bool on, int64_t bucket_bytes)
      : overlap(dist_context->settings().overlap_backward), bytes(dist_context->settings().bucket_bytes) {
    dist_context->set_overlap_backward(on);
    dist_context->set_bucket_bytes(bucket_bytes);
    dist_context->reset_reduce_stats();
  }
  ExchangeScope(const ExchangeScope&) = delete;
  ExchangeScope& operator=(const ExchangeScope&) = delete;
  ~ExchangeScope() {
    dist_context->set_overlap_backward(overlap);
    dist_context->set_bucket_bytes(bytes);
  }
};

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

/// A LeNet-like net with BatchNorm after each hidden layer (running
/// statistics that every process updates from its own samples), for
/// 1 x 8 x 8 images: Conv(4, 3x3, pad 1)-BN-relu-pool, Conv(6, 3x3)-BN-relu,
/// Dense(12)-BN-relu, Dense(4).
inline hybrid::nn::HybridSequential lenet_bn(uint64_t seed) {
  namespace nn = hybrid::nn;
  nn::HybridSequential net;
  net.add(nn::Conv2D(4, 3, 1, 1, 1, 1, "", true, 1), nn::BatchNorm(1, 0.9, 1e-5, 4), nn::Activation("relu"), nn::MaxPool2D(2, 2),
          nn::Conv2D(6, 3, 1, 0, 1, 1, "", true, 4), nn::BatchNorm(1, 0.9, 1e-5, 6), nn::Activation("relu"), nn::Flatten(),
          nn::Dense(12, "", true, 24), nn::BatchNorm(1, 0.9, 1e-5, 12), nn::Activation("relu"), nn::Dense(kClasses, "", true, 12));
  hybrid::random::seed(seed);
  net.initialize(nn::init::Xavier());
  return net;
}

/// An MLP with Dropout, whose masks come from the library generator:
/// Dense(16, relu), Dropout(0.3), Dense(4).
inline hybrid::nn::HybridSequential mlp_dropout(uint64_t seed) {
  namespace nn = hybrid::nn;
  nn::HybridSequential net;
  net.add(nn::Dense(16, "relu", true, kInputs), nn::Dropout(0.3), nn::Dense(kClasses, "", true, 16));
  hybrid::random::seed(seed);
  net.initialize(nn::init::Xavier());
  return net;
}

/// Rows [first, first + count) of step `step`'s batch of 32 images of
/// 1 x 8 x 8 (values around 0.5 + label / 4, so the statistics are not
/// those of a centred input).
inline std::pair<hybrid::Tensor, hybrid::Tensor> images(int step, int64_t first, int64_t count) {
  std::mt19937_64 gen(5000 + static_cast<uint64_t>(step));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x, y;
  for (int64_t i = 0; i < 32; ++i) {
    const int64_t label = static_cast<int64_t>(gen() % kClasses);
    for (int64_t j = 0; j < 64; ++j) {
      const float v = 0.5f + 0.25f * static_cast<float>(label) + normal(gen) * (j % 8 == label ? 2.0f : 0.5f);
      if (i >= first && i < first + count) x.push_back(v);
    }
    if (i >= first && i < first + count) y.push_back(static_cast<float>(label));
  }
  return {hybrid::from_vector<float>(x, {count, 1, 8, 8}), hybrid::from_vector<float>(y, {count})};
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

/// This process's rows of step `step`'s 64-sample batch.
inline std::pair<hybrid::Tensor, hybrid::Tensor> my_part(int step) {
  const int64_t per = 64 / hybrid::dist::size();
  return batch(step, per * hybrid::dist::rank(), per);
}

inline std::vector<std::vector<float>> values_of(const hybrid::nn::ParameterDict& params) {
  std::vector<std::vector<float>> v;
  for (const auto& p : params) v.push_back(p->data().to_vector());
  return v;
}

/// One step on `batch`, with step(its size).
template <class Net, class Loss>
void train_step(Net& net, hybrid::nn::Trainer& trainer, Loss& loss, const std::pair<hybrid::Tensor, hybrid::Tensor>& batch) {
  hybrid::Tensor l;
  {
    auto rec = hybrid::autograd::record();
    l = loss(net(batch.first), batch.second);
  }
  l.backward();
  trainer.step(batch.second.size());
}

/// True when every parameter equals rank 0's bit for bit (compared through
/// a broadcast, independently of the reducer's hash check).
inline bool same_as_rank0(const hybrid::nn::ParameterDict& params) {
  bool same = true;
  for (const auto& p : params) {
    const hybrid::Tensor mine = p->data().clone();
    hybrid::Tensor root = mine.clone();
    hybrid::dist::broadcast(root, 0);
    same = same && mine.to_vector() == root.to_vector();
  }
  return same;
}

}  // namespace dist_testing
