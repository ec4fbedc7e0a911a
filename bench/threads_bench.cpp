// The kernels that split over the thread pool besides the forward products:
// normalization, embedding and its scatter-add, indexing and layout, and the
// convolution gradients at batch 1 (split inside the image), one kernel call
// each, and a training step of an embedding + LayerNorm model,
// each with 1 and 2 threads in the same run. Real time, with the whole
// process's CPU time per call (cpu_all_us) beside the caller's (CPU column):
// when the work splits, the caller's share falls to about half.
//
//   build/bench/threads_bench --benchmark_repetitions=3 --benchmark_enable_random_interleaving=true
//                             --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdio>
#include <functional>
#include <hybrid/hybrid.hpp>
#include <map>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "median_collector.hpp"

namespace {

using namespace hybrid;

/// Integer indices in [0, extent) stored as floats.
Tensor indices(const Shape& shape, int64_t extent) {
  std::vector<float> v(static_cast<size_t>(numel(shape)));
  uint64_t state = 12345;
  for (float& e : v) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    e = static_cast<float>((state >> 33) % static_cast<uint64_t>(extent));
  }
  return from_vector<float>(v, shape);
}

/// A 3×3 convolution's attributes, stride 1, padding 1; `shape`: the
/// gradient's (x's or the weight's).
Attrs conv3x3(const Shape& shape) {
  Attrs at;
  at.stride = Shape{1, 1};
  at.padding = Shape{1, 1};
  at.dilation = Shape{1, 1};
  at.shape = shape;
  return at;
}

struct KernelCase {
  const char* name;
  std::function<std::function<Tensor()>()> make;  // builds the inputs, returns the call
};

// Each case about 1–4 MB of output: well above the split threshold.
const std::vector<KernelCase>& kernel_cases() {
  static const std::vector<KernelCase> cases = {
      {"layer_norm (4096 x 512, last axis)",
       [] {
         random::seed(1);
         const Tensor x = random::normal({4096, 512}), g = random::normal({512}), b = random::normal({512});
         return std::function<Tensor()>([=] { return layer_norm(x, g, b, -1); });
       }},
      {"batch_norm, predict (32 x 64 x 28 x 28)",
       [] {
         random::seed(2);
         const Tensor x = random::normal({32, 64, 28, 28}), g = random::normal({64}), b = random::normal({64});
         const Tensor m = random::normal({64}), v = random::uniform<float>({64}, 0.5f, 2.0f);
         return std::function<Tensor()>([=] { return batch_norm(x, g, b, m, v, 1); });
       }},
      {"embedding (64 x 64 lookups of 256)",
       [] {
         random::seed(3);
         const Tensor w = random::normal({10000, 256}), idx = indices({64, 64}, 10000);
         return std::function<Tensor()>([=] { return embedding(idx, w); });
       }},
      {"embedding_backward (4096 rows of 256 into 10000)",
       [] {
         random::seed(4);
         const Tensor dy = random::normal({4096, 256}), idx = indices({4096}, 10000);
         return std::function<Tensor()>([=] {
           Attrs at;
           at.depth = 10000;
           return ops::apply<float>(OpCode::embedding_backward, {&idx, &dy}, at);
         });
       }},
      {"transpose (1024 x 1024, 2-D)",
       [] {
         random::seed(5);
         const Tensor x = random::normal({1024, 1024});
         return std::function<Tensor()>([=] { return transpose(x); });
       }},
      {"concat (2 x 512 x 1024 on axis 1)",
       [] {
         random::seed(6);
         const Tensor a = random::normal({512, 1024}), b = random::normal({512, 1024});
         return std::function<Tensor()>([=] { return concat({a, b}, 1); });
       }},
      {"conv2d_backward_data, batch 1 (64 -> 64, 3x3, 28x28)",
       [] {
         random::seed(9);
         const Tensor dy = random::normal({1, 64, 28, 28}), w = random::normal({64, 64, 3, 3});
         return std::function<Tensor()>(
             [=] { return ops::apply<float>(OpCode::conv2d_backward_data, {&dy, &w}, conv3x3({1, 64, 28, 28})); });
       }},
      {"conv2d_backward_weight, batch 1 (64 -> 64, 3x3, 28x28)",
       [] {
         random::seed(10);
         const Tensor x = random::normal({1, 64, 28, 28}), dy = random::normal({1, 64, 28, 28});
         return std::function<Tensor()>(
             [=] { return ops::apply<float>(OpCode::conv2d_backward_weight, {&x, &dy}, conv3x3({64, 64, 3, 3})); });
       }},
      {"take (rows of 256 by 8192 indices)",
       [] {
         random::seed(7);
         const Tensor x = random::normal({10000, 256}), idx = indices({8192}, 10000);
         return std::function<Tensor()>([=] { return take(x, idx, 0); });
       }},
  };
  return cases;
}

/// range(0): the case, range(1): threads.
void BM_kernel(benchmark::State& state) {
  const KernelCase& c = kernel_cases()[static_cast<size_t>(state.range(0))];
  state.SetLabel(c.name);
  const bench::ThreadCountScope threads(state.range(1));
  const std::function<Tensor()> call = c.make();
  (void)call();
  const bench::ProcessCpu cpu;
  for (auto _ : state) benchmark::DoNotOptimize(call().data());
  cpu.report(state);
}

/// Embedding(10000 → 256) → LayerNorm → Flatten → Dense(10) on (batch, 64)
/// token indices: per step an embedding gather and scatter-add and a
/// LayerNorm forward and backward over batch · 64 rows of 256.
void BM_embed_norm_train(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  const bench::ThreadCountScope threads(state.range(1));
  random::seed(8);
  nn::HybridSequential net;
  net.add(nn::Embedding(10000, 256), nn::LayerNorm(), nn::Flatten(), nn::Dense(10));
  net.initialize(nn::init::Xavier());
  nn::loss::SoftmaxCrossEntropyLoss loss;
  net.hybridize();
  loss.hybridize();
  nn::Trainer trainer(net.collect_params(), "sgd", {{"learning_rate", 0.01}});
  const Tensor x = indices({batch, 64}, 10000);
  std::vector<float> l(static_cast<size_t>(batch));
  for (int i = 0; i < batch; ++i) l[static_cast<size_t>(i)] = static_cast<float>(i % 10);
  const Tensor labels = from_vector<float>(l, {batch});
  bench::train_step(net, loss, trainer, x, labels);
  const bench::ProcessCpu cpu;
  for (auto _ : state) benchmark::DoNotOptimize(bench::train_step(net, loss, trainer, x, labels).data());
  cpu.report(state);
}

void kernel_args(benchmark::internal::Benchmark* b) {
  for (int64_t c = 0; c < static_cast<int64_t>(kernel_cases().size()); ++c)
    for (int64_t threads : {1, 2}) b->Args({c, threads});
}

BENCHMARK(BM_kernel)->Apply(kernel_args)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_embed_norm_train)->ArgsProduct({{1, 64}, {1, 2}})->UseRealTime()->Unit(benchmark::kMicrosecond);

void print_report(const std::map<std::string, double>& m) {
  auto get = [&](const std::string& name) {
    auto it = m.find(name);
    return it == m.end() ? -1.0 : it->second;
  };
  auto pair = [&](const std::string& label, const std::string& prefix) {
    const double one = get(prefix + "/1/real_time"), two = get(prefix + "/2/real_time");
    if (one > 0 && two > 0)
      std::printf("  %-52s 1 thread %9.1f us   2 threads %9.1f us   %5.2fx the throughput\n", label.c_str(), one, two,
                  one / two);
  };
  std::printf("\n== Medians, real time, 2 threads against 1 ==\n");
  for (size_t c = 0; c < kernel_cases().size(); ++c)
    pair(kernel_cases()[c].name, "BM_kernel/" + std::to_string(c));
  for (int batch : {1, 64})
    pair("embedding + LayerNorm training step, batch " + std::to_string(batch),
         "BM_embed_norm_train/" + std::to_string(batch));
}

}  // namespace

int main(int argc, char** argv) { return run_benchmarks(argc, argv, print_report); }
