// The benchmark suite. Every workload is measured against a hand-written
// Eigen implementation in the same binary (the speed of light), and the
// closing table reports medians as ratios against it, with the targets.
//
//   build/bench/hybrid_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <algorithm>
#include <atomic>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <hybrid/hybrid.hpp>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "median_collector.hpp"

#ifdef HYBRID_HAVE_TORCH
#include <torch/torch.h>
#endif

// ---- Heap allocations, counted through a replacement operator new --------
namespace {
std::atomic<long> g_allocations{0};
void* counted_alloc(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
}  // namespace
void* operator new(std::size_t n) { return counted_alloc(n); }
void* operator new[](std::size_t n) { return counted_alloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {

using namespace hybrid;
using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// ---- Models -------------------------------------------------------------------

/// The chapter's get_net(): 512 → 256 → 128 → 2, in_units given so no forward is needed to initialize.
nn::HybridSequential seed_mlp() {
  random::seed(0);
  nn::HybridSequential net;
  net.add(nn::Dense(256, "relu", true, 512), nn::Dense(128, "relu", true, 256), nn::Dense(2, "", true, 128));
  net.initialize();
  return net;
}

/// 16 layers of 64 units: per-node overhead dominates.
nn::HybridSequential deep_narrow_mlp() {
  random::seed(0);
  nn::HybridSequential net;
  for (int i = 0; i < 16; ++i) net.add(nn::Dense(64, "relu", true, 64));
  net.initialize();
  return net;
}

double mlp_flops(const nn::HybridSequential& net, int batch) {
  double f = 0;
  for (const auto& p : net.collect_params())
    if (p->shape().size() == 2) f += 2.0 * batch * static_cast<double>(p->size());
  return f;
}

/// The speed of light: the same Dense stack in plain Eigen, preallocated, noalias() products.
class HandwrittenMLP {
 public:
  HandwrittenMLP(const nn::HybridSequential& net, int batch) {
    const auto dict = net.collect_params();
    const std::vector<std::shared_ptr<nn::Parameter>> params(dict.begin(), dict.end());  // weight, bias, weight, …
    for (size_t i = 0; i + 1 < params.size(); i += 2) {
      const Tensor w = params[i]->data(), b = params[i + 1]->data();
      weights_.push_back(Eigen::Map<const RowMatrix>(w.data(), w.shape()[0], w.shape()[1]));
      biases_.push_back(Eigen::Map<const Eigen::RowVectorXf>(b.data(), b.size()));
      out_.emplace_back(batch, w.shape()[0]);
    }
  }
  const RowMatrix& run(const RowMatrix& x) {
    const size_t n = weights_.size();
    for (size_t l = 0; l < n; ++l) {
      RowMatrix& y = out_[l];
      y.noalias() = (l == 0 ? x : out_[l - 1]) * weights_[l].transpose();
      y.rowwise() += biases_[l];
      if (l + 1 < n || n > 3) y = y.cwiseMax(0.0f);  // the seed MLP's last layer has no activation
    }
    return out_.back();
  }

 private:
  std::vector<RowMatrix> weights_, out_;
  std::vector<Eigen::RowVectorXf> biases_;
};

void set_counters(benchmark::State& state, double flops, long allocations) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops * static_cast<double>(state.iterations()) / 1e9,
                                                 benchmark::Counter::kIsRate);
  state.counters["allocs/call"] = benchmark::Counter(static_cast<double>(allocations),
                                                     benchmark::Counter::kAvgIterations);
}

// ---- The seed MLP ---------------------------------------------------------------

void BM_mlp_handwritten(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  auto net = seed_mlp();
  HandwrittenMLP mlp(net, batch);
  random::seed(1);
  const Tensor x = random::normal<float>({batch, 512});
  const RowMatrix xm = Eigen::Map<const RowMatrix>(x.data(), batch, 512);
  const long before = g_allocations;
  for (auto _ : state) benchmark::DoNotOptimize(mlp.run(xm).data());
  set_counters(state, mlp_flops(net, batch), g_allocations - before);
}

void BM_mlp_eager(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  auto net = seed_mlp();
  random::seed(1);
  const Tensor x = random::normal<float>({batch, 512});
  const long before = g_allocations;
  for (auto _ : state) benchmark::DoNotOptimize(net(x).data());
  set_counters(state, mlp_flops(net, batch), g_allocations - before);
}

/// range(1) switches one pass off: 0 none, 1 folding, 2 CSE, 3 fusion, 4 memory planning.
HybridizeOptions options_without(int64_t pass) {
  HybridizeOptions o;
  if (pass == 1) o.fold_constants = false;
  if (pass == 2) o.eliminate_common = false;
  if (pass == 3) o.fuse = false;
  if (pass == 4) o.plan_memory = false;
  return o;
}

void BM_mlp_hybrid(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  auto net = seed_mlp();
  net.hybridize(true, options_without(state.range(1)));
  random::seed(1);
  const Tensor x = random::normal<float>({batch, 512});
  net(x);
  const long before = g_allocations;
  for (auto _ : state) benchmark::DoNotOptimize(net(x).data());
  set_counters(state, mlp_flops(net, batch), g_allocations - before);
  state.counters["arena_bytes"] = static_cast<double>(net.arena_bytes());
}

// Two callers at once on one hybridized block (throughput; they share the
// thread pool: a call that finds it busy runs on its caller alone).
void BM_mlp_hybrid_threads(benchmark::State& state) {
  // Thread 0 builds the shared block; every thread waits at the loop's start.
  static std::unique_ptr<nn::HybridSequential> net;
  if (state.thread_index() == 0) {
    net = std::make_unique<nn::HybridSequential>(seed_mlp());
    net->hybridize();
  }
  const int batch = static_cast<int>(state.range(0));
  random::seed(1 + state.thread_index());
  const Tensor x = random::normal<float>({batch, 512});
  for (auto _ : state) benchmark::DoNotOptimize((*net)(x).data());
  state.counters["calls/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_mlp_handwritten_threads(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  auto net = seed_mlp();
  HandwrittenMLP mlp(net, batch);
  random::seed(1 + state.thread_index());
  const Tensor x = random::normal<float>({batch, 512});
  const RowMatrix xm = Eigen::Map<const RowMatrix>(x.data(), batch, 512);
  for (auto _ : state) benchmark::DoNotOptimize(mlp.run(xm).data());
  state.counters["calls/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// One caller, its kernels split over range(1) threads (hybrid::set_num_threads);
// real time, since the workers' CPU time is not the caller's.
void BM_mlp_pool(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  const bench::ThreadCountScope threads(state.range(1));
  auto net = seed_mlp();
  net.hybridize();
  random::seed(1);
  const Tensor x = random::normal<float>({batch, 512});
  net(x);
  const long before = g_allocations;
  const bench::ProcessCpu cpu;
  for (auto _ : state) benchmark::DoNotOptimize(net(x).data());
  cpu.report(state);
  set_counters(state, mlp_flops(net, batch), g_allocations - before);
}

#ifdef HYBRID_HAVE_TORCH
void BM_mlp_torch(benchmark::State& state) {
  torch::set_num_threads(1);
  torch::NoGradGuard no_grad;
  const int batch = static_cast<int>(state.range(0));
  torch::nn::Sequential net(torch::nn::Linear(512, 256), torch::nn::ReLU(), torch::nn::Linear(256, 128),
                            torch::nn::ReLU(), torch::nn::Linear(128, 2));
  const torch::Tensor x = torch::randn({batch, 512});
  for (auto _ : state) benchmark::DoNotOptimize(net->forward(x).data_ptr());
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * batch * (512 * 256 + 256 * 128 + 128 * 2) * static_cast<double>(state.iterations()) / 1e9,
      benchmark::Counter::kIsRate);
}
#endif

// ---- First call: trace + passes + plan -------------------------------------------

void BM_mlp_first_call(benchmark::State& state) {
  auto net = seed_mlp();
  const Tensor x = random::normal<float>({1, 512});
  for (auto _ : state) {
    net.hybridize();  // clears the plan cache: the next call traces and compiles
    benchmark::DoNotOptimize(net(x).data());
  }
}

// ---- Deep narrow MLP --------------------------------------------------------------

void BM_deep_handwritten(benchmark::State& state) {
  auto net = deep_narrow_mlp();
  HandwrittenMLP mlp(net, 1);
  const RowMatrix x = RowMatrix::Random(1, 64);
  for (auto _ : state) benchmark::DoNotOptimize(mlp.run(x).data());
  set_counters(state, mlp_flops(net, 1), 0);
}

void BM_deep(benchmark::State& state) {
  auto net = deep_narrow_mlp();
  if (state.range(0)) net.hybridize();
  const Tensor x = random::normal<float>({1, 64});
  net(x);
  const long before = g_allocations;
  for (auto _ : state) benchmark::DoNotOptimize(net(x).data());
  set_counters(state, mlp_flops(net, 1), g_allocations - before);
}

// ---- Elementwise chains -------------------------------------------------------------

/// Op k of a chain: ×1.01, +0.5, tanh, ×x, sigmoid, repeating.
template <class V>
V chain_step(int k, const V& y, const V& x) {
  switch (k % 5) {
    case 0: return y * 1.01f;
    case 1: return y + 0.5f;
    case 2: return tanh(y);
    case 3: return y * x;
    default: return sigmoid(y);
  }
}

Tensor run_chain(int n, const Tensor& x) {
  Tensor y = x;
  for (int k = 0; k < n; ++k) y = chain_step(k, y, x);
  return y;
}

/// The speed of light for a chain: one pass over the data, each tile of 1024
/// elements put through every op while it sits in L1.
void handwritten_chain(int n, const float* x, float* out, int64_t size) {
  constexpr int64_t kTile = 1024;
  for (int64_t start = 0; start < size; start += kTile) {
    const int64_t len = std::min(kTile, size - start);
    Eigen::Map<const Eigen::ArrayXf> xs(x + start, len);
    Eigen::Map<Eigen::ArrayXf> y(out + start, len);
    y = xs;
    for (int k = 0; k < n; ++k) {
      switch (k % 5) {
        case 0: y *= 1.01f; break;
        case 1: y += 0.5f; break;
        case 2: y = y.tanh(); break;
        case 3: y *= xs; break;
        default: y = 1.0f / (1.0f + (-y).exp()); break;
      }
    }
  }
}

void BM_chain_handwritten(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const int64_t size = state.range(1);
  const Tensor x = random::normal<float>({size});
  Tensor out = zeros<float>({size});
  for (auto _ : state) {
    handwritten_chain(n, x.data(), out.data(), size);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * size * 8);
}

void BM_chain(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const int64_t size = state.range(1);
  nn::HybridLambda chain([n](const Tensor& x) { return run_chain(n, x); });
  if (state.range(2)) chain.hybridize();
  const Tensor x = random::normal<float>({size});
  chain(x);
  const long before = g_allocations;
  for (auto _ : state) benchmark::DoNotOptimize(chain(x).data());
  state.SetBytesProcessed(state.iterations() * size * 8);
  state.counters["allocs/call"] = benchmark::Counter(static_cast<double>(g_allocations - before),
                                                     benchmark::Counter::kAvgIterations);
}

// ---- Training step: 784 → 256 → 128 → 10, softmax cross-entropy, SGD ------------------

constexpr float kTrainLr = 0.05f;

nn::HybridSequential fashion_mlp() {
  random::seed(0);
  nn::HybridSequential net;
  net.add(nn::Dense(256, "relu", true, 784), nn::Dense(128, "relu", true, 256), nn::Dense(10, "", true, 128));
  net.initialize(nn::init::Xavier());
  return net;
}

struct TrainBatch {
  Tensor x, labels;
  explicit TrainBatch(int batch) {
    random::seed(2);
    x = random::uniform<float>({batch, 784});
    std::vector<float> l(static_cast<size_t>(batch));
    for (int i = 0; i < batch; ++i) l[static_cast<size_t>(i)] = static_cast<float>(i % 10);
    labels = from_vector<float>(l, {batch});
  }
};

double train_flops(int batch) { return 3 * 2.0 * batch * (784 * 256 + 256 * 128 + 128 * 10); }

/// The speed of light: one training step in plain Eigen with preallocated
/// buffers, noalias() products, the fused softmax-cross-entropy gradient
/// and a fused SGD update.
class HandwrittenTraining {
 public:
  HandwrittenTraining(const nn::HybridSequential& net, int batch) : batch_(batch) {
    for (const auto& p : net.collect_params()) {
      const Tensor v = p->data();
      if (p->shape().size() == 2) {
        w_.emplace_back(Eigen::Map<const RowMatrix>(v.data(), v.shape()[0], v.shape()[1]));
        dw_.emplace_back(v.shape()[0], v.shape()[1]);
        h_.emplace_back(batch, v.shape()[0]);
        dh_.emplace_back(batch, v.shape()[0]);
      } else {
        b_.emplace_back(Eigen::Map<const Eigen::RowVectorXf>(v.data(), v.size()));
        db_.emplace_back(v.size());
      }
    }
  }
  float step(const RowMatrix& x, const std::vector<int>& labels) {
    const size_t n = w_.size();
    for (size_t l = 0; l < n; ++l) {
      h_[l].noalias() = (l == 0 ? x : h_[l - 1]) * w_[l].transpose();
      h_[l].rowwise() += b_[l];
      if (l + 1 < n) h_[l] = h_[l].cwiseMax(0.0f);
    }
    // Softmax cross-entropy and its gradient, one pass per row.
    RowMatrix& d = dh_[n - 1];
    float loss = 0;
    for (int i = 0; i < batch_; ++i) {
      auto row = h_[n - 1].row(i);
      const float m = row.maxCoeff();
      d.row(i) = (row.array() - m).exp();
      const float s = d.row(i).sum();
      loss += std::log(s) + m - row(labels[static_cast<size_t>(i)]);
      d.row(i) /= s * static_cast<float>(batch_);
      d(i, labels[static_cast<size_t>(i)]) -= 1.0f / static_cast<float>(batch_);
    }
    for (size_t l = n; l-- > 0;) {
      dw_[l].noalias() = dh_[l].transpose() * (l == 0 ? x : h_[l - 1]);
      db_[l].noalias() = dh_[l].colwise().sum();
      if (l > 0) {
        dh_[l - 1].noalias() = dh_[l] * w_[l];
        dh_[l - 1] = (h_[l - 1].array() > 0.0f).select(dh_[l - 1], 0.0f);
      }
      w_[l].noalias() -= kTrainLr * dw_[l];
      b_[l].noalias() -= kTrainLr * db_[l];
    }
    return loss / static_cast<float>(batch_);
  }

 private:
  int batch_;
  std::vector<RowMatrix> w_, dw_, h_, dh_;
  std::vector<Eigen::RowVectorXf> b_, db_;
};

void BM_train_handwritten(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  auto net = fashion_mlp();
  HandwrittenTraining train(net, batch);
  const TrainBatch data(batch);
  const RowMatrix x = Eigen::Map<const RowMatrix>(data.x.data(), batch, 784);
  std::vector<int> labels;
  for (float l : data.labels.to_vector()) labels.push_back(static_cast<int>(l));
  const long before = g_allocations;
  for (auto _ : state) benchmark::DoNotOptimize(train.step(x, labels));
  set_counters(state, train_flops(batch), g_allocations - before);
}

/// range(1): 0 eager, 1 hybridized, 2 hybridized without memory planning.
void BM_train(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  auto net = fashion_mlp();
  nn::loss::SoftmaxCrossEntropyLoss loss;
  if (state.range(1)) {
    HybridizeOptions options;
    options.plan_memory = state.range(1) == 1;
    net.hybridize(true, options);
    loss.hybridize(true, options);
  }
  nn::Trainer trainer(net.collect_params(), "sgd", {{"learning_rate", kTrainLr}});
  const TrainBatch data(batch);
  bench::train_step(net, loss, trainer, data.x, data.labels);
  const long before = g_allocations;
  for (auto _ : state) benchmark::DoNotOptimize(bench::train_step(net, loss, trainer, data.x, data.labels).data());
  set_counters(state, train_flops(batch), g_allocations - before);
  if (state.range(1)) state.counters["arena_bytes"] = static_cast<double>(net.arena_bytes());
}

/// The hybridized training step with its kernels on range(1) threads; real
/// time, and the whole process's CPU time per step (cpu_all_us).
void BM_train_pool(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  const bench::ThreadCountScope threads(state.range(1));
  auto net = fashion_mlp();
  nn::loss::SoftmaxCrossEntropyLoss loss;
  net.hybridize();
  loss.hybridize();
  nn::Trainer trainer(net.collect_params(), "sgd", {{"learning_rate", kTrainLr}});
  const TrainBatch data(batch);
  bench::train_step(net, loss, trainer, data.x, data.labels);
  const long before = g_allocations;
  const bench::ProcessCpu cpu;
  for (auto _ : state) benchmark::DoNotOptimize(bench::train_step(net, loss, trainer, data.x, data.labels).data());
  cpu.report(state);
  set_counters(state, train_flops(batch), g_allocations - before);
}

#ifdef HYBRID_HAVE_TORCH
void BM_train_torch(benchmark::State& state) {
  torch::set_num_threads(1);
  const int batch = static_cast<int>(state.range(0));
  torch::nn::Sequential net(torch::nn::Linear(784, 256), torch::nn::ReLU(), torch::nn::Linear(256, 128),
                            torch::nn::ReLU(), torch::nn::Linear(128, 10));
  torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(kTrainLr));
  const torch::Tensor x = torch::rand({batch, 784});
  const torch::Tensor y = torch::arange(batch, torch::kLong).remainder(10);
  for (auto _ : state) {
    opt.zero_grad();
    torch::Tensor l = torch::nn::functional::cross_entropy(net->forward(x), y);
    l.backward();
    opt.step();
    benchmark::DoNotOptimize(l.data_ptr());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(train_flops(batch) * static_cast<double>(state.iterations()) / 1e9,
                                                 benchmark::Counter::kIsRate);
}
#endif

// ---- Loading files -------------------------------------------------------------------

/// A file under the temporary directory, written once and removed at exit.
class BenchFile {
 public:
  BenchFile(const std::string& name, const std::string& bytes)
      : path_((std::filesystem::temp_directory_path() / ("hybrid_bench_" + name)).string()) {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  ~BenchFile() { std::remove(path_.c_str()); }
  BenchFile(const BenchFile&) = delete;
  BenchFile& operator=(const BenchFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// A params file of n float32 tensors p0, p1, … of shape (1,).
std::string many_tensors_file(int n) {
  std::string header = "{";
  for (int i = 0; i < n; ++i)
    header.append(i ? "," : "").append("\"p" + std::to_string(i) + "\":{\"dtype\":\"F32\",\"shape\":[1],")
        .append("\"data_offsets\":[" + std::to_string(4 * i) + "," + std::to_string(4 * i + 4) + "]}");
  header += "}";
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[static_cast<size_t>(i)] = static_cast<char>(header.size() >> (8 * i));
  return bytes + header + std::string(4 * static_cast<size_t>(n), '\0');
}

/// A graph file of n nodes: an input and a chain of n - 1 relus.
std::string relu_chain_file(int n) {
  std::string nodes =
      R"({"op":"null","name":"data","attrs":{"kind":"input","shape":[1,8],"dtype":"float32"},"inputs":[]})";
  for (int i = 1; i < n; ++i)
    nodes.append(",{\"op\":\"relu\",\"name\":\"relu" + std::to_string(i) + "\",\"attrs\":{},\"inputs\":[[")
        .append(std::to_string(i - 1) + ",0,0]]}");
  return R"({"format":"hybrid-symbol","format_version":1,"dtype":"float32","nodes":[)" + nodes +
         R"(],"arg_nodes":[0],"heads":[[)" + std::to_string(n - 1) + ",0,0]]}";
}

/// load_parameters of a file with range(0) tensors into as many parameters.
void BM_load_params(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const BenchFile file("params_" + std::to_string(n), many_tensors_file(n));
  nn::ParameterDict params;
  for (int i = 0; i < n; ++i) params.add(std::make_shared<nn::Parameter>("p" + std::to_string(i), Shape{1}));
  for (auto _ : state) nn::load_parameters(params, file.path());
  state.SetItemsProcessed(state.iterations() * n);
}

/// load_graph of a file with range(0) nodes.
void BM_load_graph(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const BenchFile file("graph_" + std::to_string(n), relu_chain_file(n));
  for (auto _ : state) benchmark::DoNotOptimize(io::load_graph<float>(file.path()).nodes.data());
  state.SetItemsProcessed(state.iterations() * n);
}

void mlp_batches(benchmark::internal::Benchmark* b) {
  for (int batch : {1, 8, 64, 256}) b->Arg(batch);
}
void mlp_batches_and_passes(benchmark::internal::Benchmark* b) {
  for (int batch : {1, 8, 64, 256})
    for (int pass = 0; pass <= 4; ++pass) b->Args({batch, pass});
}
void chain_sizes(benchmark::internal::Benchmark* b, bool with_mode) {
  for (int n : {2, 5, 10})
    for (int64_t size : {1 << 10, 1 << 16, 1 << 20}) {
      if (with_mode) {
        b->Args({n, size, 0});
        b->Args({n, size, 1});
      } else {
        b->Args({n, size});
      }
    }
}

BENCHMARK(BM_mlp_handwritten)->Apply(mlp_batches)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_mlp_eager)->Apply(mlp_batches)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_mlp_hybrid)->Apply(mlp_batches_and_passes)->Unit(benchmark::kMicrosecond);
#ifdef HYBRID_HAVE_TORCH
BENCHMARK(BM_mlp_torch)->Apply(mlp_batches)->Unit(benchmark::kMicrosecond);
#endif
BENCHMARK(BM_mlp_handwritten_threads)->Arg(256)->Threads(1)->Threads(2)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_mlp_hybrid_threads)->Arg(256)->Threads(1)->Threads(2)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_mlp_pool)
    ->ArgsProduct({{1, 256, 1024}, {1, 2}})
    ->ArgNames({"batch", "threads"})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_mlp_first_call)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_deep_handwritten)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_deep)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_chain_handwritten)->Apply([](auto* b) { chain_sizes(b, false); })->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_chain)->Apply([](auto* b) { chain_sizes(b, true); })->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_train_handwritten)->Arg(64)->Arg(256)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_train)->Args({64, 0})->Args({64, 1})->Args({64, 2})->Args({256, 0})->Args({256, 1})->Args({256, 2})
    ->Unit(benchmark::kMicrosecond);
#ifdef HYBRID_HAVE_TORCH
BENCHMARK(BM_train_torch)->Arg(64)->Arg(256)->Unit(benchmark::kMicrosecond);
#endif
BENCHMARK(BM_train_pool)->Args({256, 1})->Args({256, 2})->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_load_params)->Arg(10'000)->Arg(100'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_load_graph)->Arg(10'000)->Arg(100'000)->Unit(benchmark::kMillisecond);

// ---- Convolution -----------------------------------------------------------------------
// conv2d's kernel (unfolding + GEMM + bias epilogue) on LeNet's and a ResNet
// stage's shapes, against Eigen's GEMM on the equivalent matrix product
// (M = O, K = C·kh·kw, N = batch·Ho·Wo), timed in the same run: the
// "of GEMM" counter is the fraction of the GEMM's speed the convolution gets.

struct ConvCase {
  int64_t n, c, h, w, o, k, pad;
  int64_t out() const { return h + 2 * pad - k + 1; }
  double flops() const { return 2.0 * n * o * out() * out() * c * k * k; }
};
const ConvCase kConvCases[] = {
    {64, 1, 28, 28, 6, 5, 2},    // LeNet conv1
    {64, 6, 14, 14, 16, 5, 0},   // LeNet conv2
    {64, 64, 28, 28, 64, 3, 1},  // ResNet stage, 28x28
    {64, 64, 14, 14, 64, 3, 1},  // ResNet stage, 14x14
};

/// Seconds of this thread's CPU time that `f` takes, the best of 5 runs
/// (CPU time, as the benchmarks' own rates, so other processes on the
/// machine do not skew the ratio).
template <class F>
double best_cpu_seconds(F f) {
  double best = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    timespec t0{}, t1{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    f();
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    best = std::min(best, double(t1.tv_sec - t0.tv_sec) + 1e-9 * double(t1.tv_nsec - t0.tv_nsec));
  }
  return best;
}

/// GFLOP/s of Eigen's GEMM on (O × K) · (K × batch·Ho·Wo).
double conv_gemm_gflops(const ConvCase& c) {
  const int64_t m = c.o, k = c.c * c.k * c.k, n = c.n * c.out() * c.out();
  const RowMatrix a = RowMatrix::Random(m, k), b = RowMatrix::Random(k, n);
  RowMatrix y(m, n);
  const double s = best_cpu_seconds([&] {
    y.noalias() = a * b;
    benchmark::DoNotOptimize(y.data());
  });
  return 2.0 * m * k * n / s / 1e9;
}

void BM_conv_gemm(benchmark::State& state) {
  const ConvCase& c = kConvCases[state.range(0)];
  const int64_t m = c.o, k = c.c * c.k * c.k, n = c.n * c.out() * c.out();
  const RowMatrix a = RowMatrix::Random(m, k), b = RowMatrix::Random(k, n);
  RowMatrix y(m, n);
  for (auto _ : state) {
    y.noalias() = a * b;
    benchmark::DoNotOptimize(y.data());
  }
  set_counters(state, c.flops(), 0);
}

void BM_conv2d(benchmark::State& state) {
  using namespace hybrid;
  const ConvCase& c = kConvCases[state.range(0)];
  random::seed(1);
  const Tensor x = random::normal({c.n, c.c, c.h, c.w}), w = random::normal({c.o, c.c, c.k, c.k}),
               b = random::normal({c.o});
  Attrs at;
  at.padding = Shape{c.pad, c.pad};
  const Shape shapes[3] = {x.shape(), w.shape(), b.shape()};
  const float* in[3] = {x.data(), w.data(), b.data()};
  const Shape out_shape{c.n, c.o, c.out(), c.out()};
  Tensor y = Tensor::empty(out_shape);
  run_kernel<float>(OpCode::conv2d, in, shapes, 3, y.data(), out_shape, at);  // sizes the thread's scratch
  const long before = g_allocations;
  for (auto _ : state) {
    run_kernel<float>(OpCode::conv2d, in, shapes, 3, y.data(), out_shape, at);
    benchmark::DoNotOptimize(y.data());
  }
  set_counters(state, c.flops(), g_allocations - before);
  // The same product as one GEMM, and the convolution timed the same way.
  const double gemm = conv_gemm_gflops(c);
  const double conv = c.flops() / best_cpu_seconds([&] {
                        run_kernel<float>(OpCode::conv2d, in, shapes, 3, y.data(), out_shape, at);
                        benchmark::DoNotOptimize(y.data());
                      }) / 1e9;
  state.counters["GEMM GFLOP/s"] = gemm;
  state.counters["of GEMM"] = conv / gemm;
}

/// The alternative to unfolding for few input channels (LeNet's conv1 has
/// one): a direct loop where each weight tap adds a scaled input row segment
/// to an output row (stride 1, groups 1), then the bias. Kept here as the
/// point of comparison that decided against shipping it (see BM_conv2d_direct).
void direct_conv(const float* x, const float* w, const float* bias, float* y, const ConvCase& c) {
  const int64_t ho = c.out(), wo = c.out();
  for (int64_t n = 0; n < c.n; ++n)
    for (int64_t o = 0; o < c.o; ++o) {
      float* yp = y + (n * c.o + o) * ho * wo;
      std::fill(yp, yp + ho * wo, bias[o]);
      for (int64_t ch = 0; ch < c.c; ++ch) {
        const float* xp = x + (n * c.c + ch) * c.h * c.w;
        for (int64_t oh = 0; oh < ho; ++oh) {
          float* yr = yp + oh * wo;
          for (int64_t i = 0; i < c.k; ++i) {
            const int64_t ih = oh + i - c.pad;
            if (ih < 0 || ih >= c.h) continue;
            const float* xr = xp + ih * c.w;
            for (int64_t j = 0; j < c.k; ++j) {
              const float wv = w[((o * c.c + ch) * c.k + i) * c.k + j];
              const int64_t off = j - c.pad;
              const int64_t lo = std::max<int64_t>(0, -off), hi = std::min<int64_t>(wo, c.w - off);
              for (int64_t ow = lo; ow < hi; ++ow) yr[ow] += wv * xr[ow + off];
            }
          }
        }
      }
    }
}

void BM_conv2d_direct(benchmark::State& state) {
  using namespace hybrid;
  const ConvCase& c = kConvCases[state.range(0)];
  random::seed(1);
  const Tensor x = random::normal({c.n, c.c, c.h, c.w}), w = random::normal({c.o, c.c, c.k, c.k}),
               b = random::normal({c.o});
  Tensor y = Tensor::empty({c.n, c.o, c.out(), c.out()});
  for (auto _ : state) {
    direct_conv(x.data(), w.data(), b.data(), y.data(), c);
    benchmark::DoNotOptimize(y.data());
  }
  set_counters(state, c.flops(), 0);
  // The same numbers as the library's kernel.
  Attrs at;
  at.padding = Shape{c.pad, c.pad};
  if (!allclose(y, conv2d(x, w, b, {1, 1}, at.padding), 1e-4, 1e-4)) state.SkipWithError("direct conv differs");
}

BENCHMARK(BM_conv_gemm)->DenseRange(0, 3)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_conv2d)->DenseRange(0, 3)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_conv2d_direct)->DenseRange(0, 1)->Unit(benchmark::kMicrosecond);

// ---- The closing table ----------------------------------------------------------------


void print_report(const std::map<std::string, double>& m) {
  auto get = [&](const std::string& name) {
    auto it = m.find(name);
    return it == m.end() ? -1.0 : it->second;
  };
  auto ratio_line = [&](const std::string& label, const std::string& name, const std::string& base) {
    const double t = get(name), b = get(base);
    if (t < 0 || b < 0) return -1.0;
    std::printf("  %-44s %10.2f us   %6.2fx\n", label.c_str(), t, t / b);
    return t / b;
  };
  std::printf("\n== Medians, as ratios against the hand-written Eigen baseline ==\n");
  std::map<std::string, double> r;
  const char* pass_names[] = {"all passes", "no folding", "no CSE", "no fusion", "no memory plan"};
  for (int batch : {1, 8, 64, 256}) {
    const std::string b = std::to_string(batch);
    std::printf("seed MLP, batch %d\n", batch);
    ratio_line("hand-written", "BM_mlp_handwritten/" + b, "BM_mlp_handwritten/" + b);
    r["eager/" + b] = ratio_line("eager", "BM_mlp_eager/" + b, "BM_mlp_handwritten/" + b);
    for (int pass = 0; pass <= 4; ++pass)
      r["hybrid/" + b + "/" + std::to_string(pass)] =
          ratio_line(std::string("hybridized, ") + pass_names[pass], "BM_mlp_hybrid/" + b + "/" + std::to_string(pass),
                     "BM_mlp_handwritten/" + b);
    ratio_line("libtorch eager (1 thread)", "BM_mlp_torch/" + b, "BM_mlp_handwritten/" + b);
  }
  std::printf("deep narrow MLP (16 x 64), batch 1\n");
  ratio_line("eager", "BM_deep/0", "BM_deep_handwritten");
  ratio_line("hybridized", "BM_deep/1", "BM_deep_handwritten");
  std::printf("elementwise chains (eager / hybridized, each against one hand-written pass)\n");
  for (int n : {2, 5, 10})
    for (int64_t size : {1 << 10, 1 << 16, 1 << 20}) {
      const std::string a = std::to_string(n) + "/" + std::to_string(size);
      const double eager = get("BM_chain/" + a + "/0"), hyb = get("BM_chain/" + a + "/1");
      const double hand = get("BM_chain_handwritten/" + a);
      if (eager < 0 || hyb < 0 || hand < 0) continue;
      std::printf("  %2d ops x %8lld floats   eager %6.2fx   hybridized %6.2fx   eager/hybridized %5.2fx\n", n,
                  static_cast<long long>(size), eager / hand, hyb / hand, eager / hyb);
      if (n == 5 && size == (1 << 20)) r["chain_speedup"] = eager / hyb;
    }
  for (int batch : {64, 256}) {
    const std::string b = std::to_string(batch);
    std::printf("training step of the 784-256-128-10 MLP (record + forward + loss + backward + SGD step), batch %d\n",
                batch);
    ratio_line("hand-written", "BM_train_handwritten/" + b, "BM_train_handwritten/" + b);
    r["train_eager/" + b] = ratio_line("eager", "BM_train/" + b + "/0", "BM_train_handwritten/" + b);
    r["train_hybrid/" + b] = ratio_line("hybridized", "BM_train/" + b + "/1", "BM_train_handwritten/" + b);
    ratio_line("hybridized, no memory plan", "BM_train/" + b + "/2", "BM_train_handwritten/" + b);
    ratio_line("libtorch eager (1 thread)", "BM_train_torch/" + b, "BM_train_handwritten/" + b);
  }
  if (get("BM_train_pool/256/1/real_time") > 0 && get("BM_train_pool/256/2/real_time") > 0)
    std::printf("hybridized training step, batch 256: 1 thread %.1f us, 2 threads %.1f us, %.2fx the throughput\n",
                get("BM_train_pool/256/1/real_time"), get("BM_train_pool/256/2/real_time"),
                get("BM_train_pool/256/1/real_time") / get("BM_train_pool/256/2/real_time"));
  std::printf("conv2d, batch 64, float (time against Eigen's GEMM on the equivalent O x K x N*Ho*Wo product)\n");
  const char* conv_names[] = {"LeNet conv1, 1->6 5x5 pad 2, 28x28", "LeNet conv2, 6->16 5x5, 14x14",
                              "ResNet 64->64 3x3 pad 1, 28x28", "ResNet 64->64 3x3 pad 1, 14x14"};
  for (int i = 0; i < 4; ++i) {
    const std::string a = std::to_string(i);
    ratio_line(std::string(conv_names[i]) + ", im2col", "BM_conv2d/" + a, "BM_conv_gemm/" + a);
    ratio_line(std::string(conv_names[i]) + ", direct loop", "BM_conv2d_direct/" + a, "BM_conv_gemm/" + a);
  }
  const double first = get("BM_mlp_first_call");
  if (first >= 0) std::printf("first hybridized call of the seed MLP (trace + passes + plan + run): %.1f us\n", first);
  for (const char* what : {"params", "graph"})
    for (int n : {10'000, 100'000}) {
      const double ms = get(std::string("BM_load_") + what + "/" + std::to_string(n));
      if (ms >= 0)
        std::printf("loading a %s file of %6d entries: %8.1f ms (%.2f us per entry)\n", what, n, ms, 1000 * ms / n);
    }

  std::printf("\n== Targets (a report of this run, not a test) ==\n");
  auto target = [](const char* what, double value, double limit, bool at_most) {
    if (value < 0) return;
    const bool met = at_most ? value <= limit : value >= limit;
    std::printf("  [%s] %-52s %7.3f (%s %.2f)\n", met ? " met " : "MISSED", what, value, at_most ? "<=" : ">=", limit);
  };
  target("seed MLP batch 1, hybridized / hand-written", r["hybrid/1/0"], 1.10, true);
  target("seed MLP batch 1, eager / hand-written", r["eager/1"], 1.5, true);
  target("seed MLP batch 64, hybridized / hand-written", r["hybrid/64/0"], 1.05, true);
  target("seed MLP batch 256, hybridized / hand-written", r["hybrid/256/0"], 1.05, true);
  target("5-op chain on 1M floats, eager time / hybridized time", r.count("chain_speedup") ? r["chain_speedup"] : -1, 3.0,
         false);
  for (const char* b : {"64", "256"}) {
    target((std::string("training step batch ") + b + ", hybridized / hand-written").c_str(),
           r["train_hybrid/" + std::string(b)], 1.15, true);
    target((std::string("training step batch ") + b + ", eager / hand-written").c_str(),
           r["train_eager/" + std::string(b)], 1.5, true);
  }
  target("first hybridized call of the seed MLP, ms", first < 0 ? -1 : first / 1000.0, 1.0, true);
}

}  // namespace

int main(int argc, char** argv) { return run_benchmarks(argc, argv, print_report); }
