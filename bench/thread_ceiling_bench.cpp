// What this host gives a second thread, measured with hybrid's own pool on
// work that needs no coordination: the ceiling for any kernel's 2-thread
// speed-up here. Each case splits a fixed amount of work into 8 equal,
// independent chunks and runs them on range(0) threads; the 1-thread time
// over the n-thread time is the best speed-up a kernel could reach.
//   compute: register-only multiply-adds (no memory traffic);
//   stream:  a sum over a private 16 MiB array per chunk (memory bandwidth);
//   gemm:    one 256×256×256 Eigen product per chunk (hybrid's GEMM kernel).
// On a virtual machine whose vCPUs share a physical core, or whose host is
// busy, compute scales below 2× and no kernel can do better.
#include <benchmark/benchmark.h>
#include <hybrid/core/thread_pool.hpp>

#include <Eigen/Core>
#include <cstdint>
#include <vector>

namespace {

constexpr int64_t kChunks = 8;

// Runs body(chunk) for the 8 chunks on `threads` threads, restoring the count.
template <class Body>
void run_chunks(benchmark::State& state, Body&& body) {
  const int saved = hybrid::get_num_threads();
  hybrid::set_num_threads(static_cast<int>(state.range(0)));
  for (auto _ : state) hybrid::parallel_chunks(kChunks, body);
  hybrid::set_num_threads(saved);
}

void BM_ceiling_compute(benchmark::State& state) {
  std::vector<float> sink(kChunks);
  run_chunks(state, [&](int64_t c) {
    // Eight independent chains keep the FMA units busy without touching memory.
    float a[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const float m = 0.999999f, k = 1e-7f * static_cast<float>(c + 1);
    for (int i = 0; i < 2'000'000; ++i)
      for (float& v : a) v = v * m + k;
    float s = 0;
    for (float v : a) s += v;
    sink[static_cast<size_t>(c)] = s;
  });
  benchmark::DoNotOptimize(sink.data());
}

void BM_ceiling_stream(benchmark::State& state) {
  std::vector<std::vector<float>> data(kChunks, std::vector<float>(size_t{4} << 20, 1.0f));
  std::vector<double> sink(kChunks);
  run_chunks(state, [&](int64_t c) {
    const std::vector<float>& d = data[static_cast<size_t>(c)];
    double s = 0;
    for (float v : d) s += v;
    sink[static_cast<size_t>(c)] = s;
  });
  benchmark::DoNotOptimize(sink.data());
}

void BM_ceiling_gemm(benchmark::State& state) {
  using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  std::vector<Matrix> a(kChunks, Matrix::Random(256, 256)), b(kChunks, Matrix::Random(256, 256)),
      c(kChunks, Matrix(256, 256));
  run_chunks(state, [&](int64_t i) {
    const auto k = static_cast<size_t>(i);
    c[k].noalias() = a[k] * b[k];
  });
  benchmark::DoNotOptimize(c.data());
}

}  // namespace

BENCHMARK(BM_ceiling_compute)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ceiling_stream)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ceiling_gemm)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
