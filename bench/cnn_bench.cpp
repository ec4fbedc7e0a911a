// Benchmarks of the book's convolutional models: LeNet inference and
// training steps, eager and hybridized, against libtorch (one thread) when
// it is built with HYBRID_WITH_TORCH; and what folding BatchNorm into the
// preceding convolution gives a Conv-BN-ReLU stack in predict mode.
//
//   build/bench/cnn_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <hybrid/hybrid.hpp>
#include <map>
#include <string>

#include "bench_support.hpp"
#include "median_collector.hpp"

#ifdef HYBRID_HAVE_TORCH
#include <torch/torch.h>
#endif

namespace {

using namespace hybrid;

/// d2l's LeNet with ReLU and max pooling.
nn::HybridSequential lenet() {
  random::seed(0);
  nn::HybridSequential net;
  net.add(nn::Conv2D(6, 5, 1, 2, 1, 1, "relu"), nn::MaxPool2D(2, 2), nn::Conv2D(16, 5, 1, 0, 1, 1, "relu"),
          nn::MaxPool2D(2, 2), nn::Dense(120, "relu"), nn::Dense(84, "relu"), nn::Dense(10));
  net.initialize(nn::init::Xavier());
  (void)net(zeros<float>({1, 1, 28, 28}));  // deferred shapes
  return net;
}

/// Multiply-adds × 2 of one LeNet forward per image.
double lenet_flops() {
  const double conv1 = 6.0 * 28 * 28 * 25, conv2 = 16.0 * 10 * 10 * 6 * 25;
  const double dense = 400.0 * 120 + 120 * 84 + 84 * 10;
  return 2 * (conv1 + conv2 + dense);
}

struct Batch {
  Tensor x, labels;
  explicit Batch(int n) {
    random::seed(2);
    x = random::uniform<float>({n, 1, 28, 28});
    std::vector<float> l(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) l[static_cast<size_t>(i)] = static_cast<float>(i % 10);
    labels = from_vector<float>(l, {n});
  }
};

void rate(benchmark::State& state, double flops_per_iteration) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops_per_iteration * static_cast<double>(state.iterations()) / 1e9,
                                                 benchmark::Counter::kIsRate);
}

/// range(0) batch, range(1) 0 eager / 1 hybridized.
void BM_lenet_predict(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  auto net = lenet();
  if (state.range(1)) net.hybridize();
  const Batch data(batch);
  (void)net(data.x);
  for (auto _ : state) benchmark::DoNotOptimize(net(data.x).data());
  rate(state, lenet_flops() * batch);
}

/// One training step: record, forward, loss, backward, SGD update.
void BM_lenet_train(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  auto net = lenet();
  nn::loss::SoftmaxCrossEntropyLoss loss;
  if (state.range(1)) {
    net.hybridize();
    loss.hybridize();
  }
  nn::Trainer trainer(net.collect_params(), "sgd", {{"learning_rate", 0.01}});
  const Batch data(batch);
  bench::train_step(net, loss, trainer, data.x, data.labels);
  for (auto _ : state) benchmark::DoNotOptimize(bench::train_step(net, loss, trainer, data.x, data.labels).data());
  rate(state, 3 * lenet_flops() * batch);
}

/// The hybridized training step with its kernels on range(1) threads; real
/// time, and the whole process's CPU time per step (cpu_all_us). At batch 1
/// and 2 the convolutions' gradients split inside each image.
void BM_lenet_train_pool(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  const bench::ThreadCountScope threads(state.range(1));
  auto net = lenet();
  nn::loss::SoftmaxCrossEntropyLoss loss;
  net.hybridize();
  loss.hybridize();
  nn::Trainer trainer(net.collect_params(), "sgd", {{"learning_rate", 0.01}});
  const Batch data(batch);
  bench::train_step(net, loss, trainer, data.x, data.labels);
  const bench::ProcessCpu cpu;
  for (auto _ : state) benchmark::DoNotOptimize(bench::train_step(net, loss, trainer, data.x, data.labels).data());
  cpu.report(state);
  rate(state, 3 * lenet_flops() * batch);
}

#ifdef HYBRID_HAVE_TORCH
torch::nn::Sequential torch_lenet() {
  namespace tn = torch::nn;
  return tn::Sequential(tn::Conv2d(tn::Conv2dOptions(1, 6, 5).padding(2)), tn::ReLU(), tn::MaxPool2d(2),
                        tn::Conv2d(tn::Conv2dOptions(6, 16, 5)), tn::ReLU(), tn::MaxPool2d(2), tn::Flatten(),
                        tn::Linear(400, 120), tn::ReLU(), tn::Linear(120, 84), tn::ReLU(), tn::Linear(84, 10));
}

void BM_lenet_predict_torch(benchmark::State& state) {
  torch::set_num_threads(1);
  torch::NoGradGuard no_grad;
  const int batch = static_cast<int>(state.range(0));
  auto net = torch_lenet();
  net->eval();
  const torch::Tensor x = torch::rand({batch, 1, 28, 28});
  for (auto _ : state) benchmark::DoNotOptimize(net->forward(x).data_ptr());
  rate(state, lenet_flops() * batch);
}

void BM_lenet_train_torch(benchmark::State& state) {
  torch::set_num_threads(1);
  const int batch = static_cast<int>(state.range(0));
  auto net = torch_lenet();
  torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.01));
  const torch::Tensor x = torch::rand({batch, 1, 28, 28});
  const torch::Tensor y = torch::arange(batch, torch::kLong).remainder(10);
  for (auto _ : state) {
    opt.zero_grad();
    torch::Tensor l = torch::nn::functional::cross_entropy(net->forward(x), y);
    l.backward();
    opt.step();
    benchmark::DoNotOptimize(l.data_ptr());
  }
  rate(state, 3 * lenet_flops() * batch);
}
#endif

/// Conv(3×3, 64 → 64) + BatchNorm + ReLU, twice, on (batch, 64, 14, 14),
/// hybridized in predict mode; range(1): 1 folds BatchNorm, 0 does not.
void BM_conv_bn_relu(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  random::seed(3);
  nn::HybridSequential net;
  for (int i = 0; i < 2; ++i) net.add(nn::Conv2D(64, 3, 1, 1, 1, 1, "", true, 64), nn::BatchNorm(), nn::Activation("relu"));
  net.initialize(nn::init::Xavier());
  const Tensor x = random::uniform<float>({batch, 64, 14, 14});
  (void)net(x);
  for (const auto& p : net.collect_params())  // statistics that are not the identity
    if (p->name().find("running_var") != std::string::npos) p->set_data(random::uniform<float>(p->shape(), 0.5f, 2.0f));
  HybridizeOptions options;
  options.fold_batch_norm = state.range(1) != 0;
  net.hybridize(true, options);
  (void)net(x);
  for (auto _ : state) benchmark::DoNotOptimize(net(x).data());
  rate(state, 2 * 2.0 * batch * 64 * 64 * 9 * 14 * 14);
}

void lenet_args(benchmark::internal::Benchmark* b, std::initializer_list<int> batches) {
  for (int batch : batches)
    for (int mode : {0, 1}) b->Args({batch, mode});
}

BENCHMARK(BM_lenet_predict)->Apply([](auto* b) { lenet_args(b, {1, 64}); })->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_lenet_train)->Apply([](auto* b) { lenet_args(b, {64, 256}); })->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_lenet_train_pool)
    ->ArgsProduct({{1, 2, 256}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
#ifdef HYBRID_HAVE_TORCH
BENCHMARK(BM_lenet_predict_torch)->Arg(1)->Arg(64)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_lenet_train_torch)->Arg(64)->Arg(256)->Unit(benchmark::kMicrosecond);
#endif
BENCHMARK(BM_conv_bn_relu)->Args({1, 0})->Args({1, 1})->Args({16, 0})->Args({16, 1})->Unit(benchmark::kMicrosecond);


void print_report(const std::map<std::string, double>& m) {
  auto get = [&](const std::string& name) {
    auto it = m.find(name);
    return it == m.end() ? -1.0 : it->second;
  };
  auto line = [&](const std::string& label, const std::string& name, const std::string& base) {
    const double t = get(name), b = get(base);
    if (t < 0) return;
    if (b < 0) std::printf("  %-40s %10.1f us\n", label.c_str(), t);
    else std::printf("  %-40s %10.1f us   %6.2fx\n", label.c_str(), t, t / b);
  };
  std::printf("\n== Medians; ratios against the hybridized run (libtorch: one thread) ==\n");
  for (const char* what : {"predict", "train"})
    for (int batch : {1, 64, 256}) {
      const std::string b = std::to_string(batch);
      const std::string base = std::string("BM_lenet_") + what + "/" + b + "/1";
      if (get(base) < 0) continue;
      std::printf("LeNet %s, batch %d\n", what, batch);
      line("hybridized", base, base);
      line("eager", std::string("BM_lenet_") + what + "/" + b + "/0", base);
      line("libtorch eager", std::string("BM_lenet_") + what + "_torch/" + b, base);
    }
  for (int batch : {1, 2, 256}) {
    const std::string b = std::to_string(batch);
    const double one = get("BM_lenet_train_pool/" + b + "/1/real_time"), two = get("BM_lenet_train_pool/" + b + "/2/real_time");
    if (one > 0 && two > 0)
      std::printf("LeNet hybridized training step, batch %d: 1 thread %.1f us, 2 threads %.1f us, %.2fx the throughput\n",
                  batch, one, two, one / two);
  }
  for (int batch : {1, 16}) {
    const std::string b = std::to_string(batch);
    std::printf("Conv-BN-ReLU x2 (64 channels, 14x14), predict, batch %d\n", batch);
    line("BatchNorm folded", "BM_conv_bn_relu/" + b + "/1", "BM_conv_bn_relu/" + b + "/1");
    line("BatchNorm not folded", "BM_conv_bn_relu/" + b + "/0", "BM_conv_bn_relu/" + b + "/1");
  }
}

}  // namespace

int main(int argc, char** argv) { return run_benchmarks(argc, argv, print_report); }
