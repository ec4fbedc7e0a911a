// Imported ONNX models against the same models written with hybrid's
// layers: the PyTorch-exported LeNet (ReLU, max pooling) and seed MLP
// (512-256-128-2) from tests/onnx/fixtures/, each hybridized, with the
// native model holding the imported weights (checked to compute the same
// outputs before timing). The target: imported / native <= 1.05.
//
//   build/bench/onnx_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <hybrid/hybrid.hpp>
#include <hybrid/onnx/import.hpp>
#include <map>
#include <string>

#include "median_collector.hpp"

namespace {

namespace nn = hybrid::nn;
using hybrid::Tensor;

const std::string kFixtures = std::string(HYBRID_SOURCE_DIR) + "/tests/onnx/fixtures/";

struct Pair {
  std::shared_ptr<nn::SymbolBlock> imported;
  nn::HybridSequential native;
};

/// Copies the imported parameters, in order, into `native` (same shapes, same layout).
void copy_weights(const nn::SymbolBlock& from, nn::HybridSequential& to, const Tensor& probe) {
  (void)to(probe);  // deferred shapes
  const auto src = from.collect_params();
  const auto dst = to.collect_params();
  if (src.size() != dst.size()) {
    std::fprintf(stderr, "onnx_bench: %zu imported parameters, %zu native\n", src.size(), dst.size());
    std::exit(1);
  }
  auto s = src.begin();
  for (auto d = dst.begin(); d != dst.end(); ++d, ++s) (*d)->set_data((*s)->data().clone());
}

void check_same(Pair& p, const Tensor& x) {
  const Tensor a = (*p.imported)(x), b = p.native(x);
  double worst = 0;
  for (int64_t i = 0; i < a.size(); ++i) worst = std::max(worst, static_cast<double>(std::fabs(a.data()[i] - b.data()[i])));
  if (a.shape() != b.shape() || worst > 1e-5) {
    std::fprintf(stderr, "onnx_bench: the native model differs from the imported one (%g)\n", worst);
    std::exit(1);
  }
}

Pair& lenet() {
  static Pair p = [] {
    Pair r;
    r.imported = hybrid::onnx::import_model<float>(kFixtures + "lenet_relu_maxpool/model.onnx");
    r.native.add(nn::Conv2D(6, 5, 1, 2, 1, 1, "relu"), nn::MaxPool2D(2, 2), nn::Conv2D(16, 5, 1, 0, 1, 1, "relu"),
                 nn::MaxPool2D(2, 2), nn::Dense(120, "relu"), nn::Dense(84, "relu"), nn::Dense(10));
    r.native.initialize();
    const Tensor probe = hybrid::random::uniform<float>({2, 1, 28, 28});
    copy_weights(*r.imported, r.native, probe);
    r.native.hybridize();
    check_same(r, probe);
    return r;
  }();
  return p;
}

Pair& mlp() {
  static Pair p = [] {
    Pair r;
    r.imported = hybrid::onnx::import_model<float>(kFixtures + "mlp/model.onnx");
    r.native.add(nn::Dense(256, "relu"), nn::Dense(128, "relu"), nn::Dense(2));
    r.native.initialize();
    const Tensor probe = hybrid::random::uniform<float>({2, 512});
    copy_weights(*r.imported, r.native, probe);
    r.native.hybridize();
    check_same(r, probe);
    return r;
  }();
  return p;
}

/// range(0) batch, range(1) 0 native / 1 imported.
template <Pair& (*Model)(), int... Dims>
void run(benchmark::State& state) {
  Pair& p = Model();
  hybrid::random::seed(2);
  const Tensor x = hybrid::random::uniform<float>({state.range(0), Dims...});
  const bool imported = state.range(1) == 1;
  for (auto _ : state) {
    Tensor y = imported ? (*p.imported)(x) : p.native(x);
    benchmark::DoNotOptimize(y.data());
  }
}

void BM_onnx_lenet(benchmark::State& state) { run<lenet, 1, 28, 28>(state); }
void BM_onnx_mlp(benchmark::State& state) { run<mlp, 512>(state); }

BENCHMARK(BM_onnx_lenet)->ArgsProduct({{1, 64}, {0, 1}})->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_onnx_mlp)->ArgsProduct({{1, 64}, {0, 1}})->Unit(benchmark::kMicrosecond)->UseRealTime();

void print_report(const std::map<std::string, double>& m) {
  auto get = [&](const std::string& name) {
    auto it = m.find(name);
    return it == m.end() ? -1.0 : it->second;
  };
  std::printf("\n== Medians, hybridized; imported / native (target <= 1.05) ==\n");
  for (const char* model : {"lenet", "mlp"})
    for (int batch : {1, 64}) {
      const std::string b = std::string("BM_onnx_") + model + "/" + std::to_string(batch);
      const double native = get(b + "/0/real_time"), imported = get(b + "/1/real_time");
      if (native < 0 || imported < 0) continue;
      std::printf("  %-6s batch %-3d native %9.1f us  imported %9.1f us  %5.3fx\n", model, batch, native, imported,
                  imported / native);
    }
}

}  // namespace

int main(int argc, char** argv) {
  if (std::getenv("ONNX_BENCH_GRAPHS")) {  // the compiled graphs side by side, to see what differs
    for (Pair* p : {&lenet(), &mlp()})
      std::printf("imported:\n%s\nnative:\n%s\n", p->imported->graph_text().c_str(), p->native.graph_text().c_str());
    return 0;
  }
  return run_benchmarks(argc, argv, print_report);
}
