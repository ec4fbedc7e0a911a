// Results do not depend on the thread count: outputs and gradients are
// bit-identical (memcmp) for 1, 2, 3 and 8 threads, eager and hybridized.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>

#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "../support/models.hpp"

namespace nn = hybrid::nn;
using hybrid::Tensor;

namespace {

const int kThreadCounts[] = {1, 2, 3, 8};

/// Restores the thread count when a test ends, however it ends.
struct ThreadCountGuard {
  int saved = hybrid::get_num_threads();
  ~ThreadCountGuard() { hybrid::set_num_threads(saved); }
};

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<size_t>(hybrid::numel(a.shape()))) == 0;
}

/// f() under each thread count, each compared bit for bit with 1 thread's.
template <class F>
void check_same_for_all_counts(F f) {
  ThreadCountGuard guard;
  hybrid::set_num_threads(1);
  const Tensor reference = f().clone();
  for (int n : kThreadCounts) {
    hybrid::set_num_threads(n);
    INFO("threads: " << n);
    for (int run = 0; run < 2; ++run) CHECK(same_bits(f(), reference));
  }
}

void check_forward(nn::HybridSequential& net, const Tensor& x) {
  check_same_for_all_counts([&] { return net(x); });
}

}  // namespace

TEST_CASE("threads: the seed MLP's output is bit-identical for any thread count", "[threads][determinism]") {
  hybrid::random::seed(11);
  // 64 rows: the chapter's batch; 300: several row blocks, the last one short.
  const Tensor x = hybrid::random::normal({64, 512}), wide = hybrid::random::normal({300, 512});
  nn::HybridSequential net = testing::seed_mlp<float>();
  SECTION("eager") {
    check_forward(net, x);
    check_forward(net, wide);
  }
  SECTION("hybridized") {
    net.hybridize();
    check_forward(net, x);
    check_forward(net, wide);
  }
}

TEST_CASE("threads: each parallel kernel is bit-identical for any thread count", "[threads][determinism]") {
  hybrid::random::seed(14);
  const Tensor a = hybrid::random::normal({300, 256}), b = hybrid::random::normal({256, 96});
  const Tensor batched = hybrid::random::normal({12, 40, 64}), rhs = hybrid::random::normal({64, 48});
  const Tensor big = hybrid::random::normal({513, 1031}), row = hybrid::random::normal({1031});
  const Tensor images = hybrid::random::normal({9, 6, 20, 20}), w = hybrid::random::normal({8, 3, 3, 3});
  const Tensor planes = hybrid::random::normal({16, 16, 48, 48});  // enough planes to split
  SECTION("matmul: row blocks and batches") {
    check_same_for_all_counts([&] { return hybrid::matmul(a, b); });
    check_same_for_all_counts([&] { return hybrid::matmul(batched, rhs); });
  }
  SECTION("elementwise, fused by broadcasting") {
    check_same_for_all_counts([&] { return hybrid::tanh(big * row + 1.5f); });
  }
  SECTION("reductions over each axis, softmax") {
    check_same_for_all_counts([&] { return hybrid::sum(big, 0); });
    check_same_for_all_counts([&] { return hybrid::sum(big, 1); });
    check_same_for_all_counts([&] { return hybrid::max(big, 0); });
    check_same_for_all_counts([&] { return hybrid::mean(big); });
    check_same_for_all_counts([&] { return hybrid::sum(planes, std::vector<int64_t>{0, 2, 3}); });
    check_same_for_all_counts([&] { return hybrid::max(planes, std::vector<int64_t>{1, 3}); });
    check_same_for_all_counts([&] { return hybrid::sum(planes, std::vector<int64_t>{0, 2}); });
    check_same_for_all_counts([&] { return hybrid::softmax(big, 1); });
    check_same_for_all_counts([&] { return hybrid::log_softmax(big, 0); });
  }
  SECTION("grouped convolution and pooling") {
    check_same_for_all_counts([&] { return hybrid::conv2d(images, w, Tensor(), {1, 1}, {1, 1}, {1, 1}, 2); });
    // Batch 1: split over blocks of output channels, with the bias and relu epilogue.
    const Tensor one = hybrid::random::normal({1, 16, 24, 24}), w64 = hybrid::random::normal({64, 16, 3, 3});
    const Tensor b64 = hybrid::random::normal({64});
    auto single = [&] { return hybrid::conv2d(one, w64, b64, {1, 1}, {1, 1}, {1, 1}, 1, hybrid::OpCode::relu); };
    check_same_for_all_counts(single);
    // The channel split computes what the image split does, up to rounding.
    ThreadCountGuard guard;
    hybrid::set_num_threads(3);
    const Tensor pair = hybrid::conv2d(hybrid::concat({one, one}), w64, b64, {1, 1}, {1, 1}, {1, 1}, 1,
                                       hybrid::OpCode::relu);
    CHECK(hybrid::allclose(single(), hybrid::slice(pair, 0, 0, 1), 1e-5, 1e-5));
    check_same_for_all_counts([&] { return hybrid::max_pool2d(planes, {2, 2}); });
    check_same_for_all_counts([&] { return hybrid::avg_pool2d(planes, {3, 3}, {2, 2}); });
    check_same_for_all_counts([&] { return hybrid::global_avg_pool2d(planes); });
  }
}

TEST_CASE("threads: LeNet's output is bit-identical for any thread count", "[threads][determinism]") {
  hybrid::random::seed(12);
  const Tensor x = hybrid::random::normal({16, 1, 28, 28});
  nn::HybridSequential net = testing::lenet<float>();
  SECTION("eager") { check_forward(net, x); }
  SECTION("hybridized") {
    net.hybridize();
    check_forward(net, x);
  }
}

TEST_CASE("threads: a hybridized training step's gradients are bit-identical", "[threads][determinism]") {
  ThreadCountGuard guard;
  hybrid::random::seed(13);
  const Tensor x = hybrid::random::normal({16, 1, 28, 28});
  std::vector<float> label_values(16);
  for (size_t i = 0; i < label_values.size(); ++i) label_values[i] = static_cast<float>(i % 10);
  const Tensor labels = hybrid::from_vector<float>(label_values, {16});
  nn::HybridSequential net = testing::lenet<float>();
  nn::loss::SoftmaxCrossEntropyLoss loss;
  net.hybridize();
  loss.hybridize();
  const auto params = net.collect_params();

  auto gradients = [&] {
    Tensor l;
    {
      auto rec = hybrid::autograd::record();
      l = loss(net(x), labels);
    }
    l.backward();
    std::vector<Tensor> grads;
    for (const auto& p : params) grads.push_back(p->grad().clone());
    grads.push_back(l.clone());
    return grads;
  };
  hybrid::set_num_threads(1);
  const std::vector<Tensor> reference = gradients();
  for (int n : kThreadCounts) {
    hybrid::set_num_threads(n);
    const std::vector<Tensor> grads = gradients();
    REQUIRE(grads.size() == reference.size());
    for (size_t i = 0; i < grads.size(); ++i) {
      INFO("threads: " << n << ", gradient " << i);
      CHECK(same_bits(grads[i], reference[i]));
    }
  }
}

TEST_CASE("threads: optimizer updates are bit-identical for any thread count", "[threads][determinism]") {
  ThreadCountGuard guard;
  // Large enough for several blocks (SGD's are 65,536 elements, Adam's 21,845).
  const int64_t n = 300'001;
  std::vector<float> w0(static_cast<size_t>(n)), g(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    w0[static_cast<size_t>(i)] = std::sin(0.001f * static_cast<float>(i));
    g[static_cast<size_t>(i)] = std::cos(0.003f * static_cast<float>(i)) - 0.25f;
  }
  const std::vector<std::pair<std::string, hybrid::optim::Options>> cases = {
      {"sgd", {{"learning_rate", 0.1}, {"wd", 0.01}}},
      {"sgd", {{"learning_rate", 0.1}, {"momentum", 0.9}, {"clip_gradient", 0.5}}},
      {"adam", {{"learning_rate", 0.01}, {"wd", 0.001}}},
      {"adamw", {{"learning_rate", 0.01}}}};
  for (const auto& [name, options] : cases) {
    // Three updates of one parameter (its state carries over) under `threads`.
    auto updated = [&, &name = name, &options = options](int threads) {
      hybrid::set_num_threads(threads);
      auto opt = hybrid::optim::create(name, options);
      std::vector<float> w = w0;
      for (int step = 0; step < 3; ++step) opt->update(0, w.data(), g.data(), n, 0.5);
      return w;
    };
    const std::vector<float> reference = updated(1);
    CHECK(reference != w0);
    for (int threads : kThreadCounts) {
      INFO(name << ", threads: " << threads);
      const std::vector<float> w = updated(threads);
      CHECK(std::memcmp(w.data(), reference.data(), sizeof(float) * w.size()) == 0);
    }
  }
}
