#pragma once
// What the benchmark binaries share besides their main (median_collector.hpp):
// a training step, a thread-count scope for the pool benchmarks, and the CPU
// time of the whole process per iteration, which beside the caller's CPU time
// (the CPU column) and the real time shows how the pool split the work.
#include <benchmark/benchmark.h>

#include <ctime>
#include <hybrid/hybrid.hpp>

namespace bench {

/// One training step: record, forward, loss, backward, trainer update.
/// Returns the loss (batch size: x's first extent).
template <class Net, class Loss>
hybrid::Tensor train_step(Net& net, Loss& loss, hybrid::nn::Trainer& trainer, const hybrid::Tensor& x,
                          const hybrid::Tensor& labels) {
  hybrid::Tensor l;
  {
    auto rec = hybrid::autograd::record();
    l = loss(net(x), labels);
  }
  l.backward();
  trainer.step(x.shape()[0]);
  return l;
}

/// The kernels' thread count for one benchmark, restored when it ends.
class ThreadCountScope {
 public:
  explicit ThreadCountScope(int64_t threads) { hybrid::set_num_threads(static_cast<int>(threads)); }
  ~ThreadCountScope() { hybrid::set_num_threads(saved_); }
  ThreadCountScope(const ThreadCountScope&) = delete;
  ThreadCountScope& operator=(const ThreadCountScope&) = delete;

 private:
  int saved_ = hybrid::get_num_threads();
};

/// CPU time of the whole process (the caller and every pool worker), read
/// when constructed and again by report(), which sets the counter
/// "cpu_all_us" to its growth per iteration. Construct it just before the
/// timed loop.
class ProcessCpu {
 public:
  ProcessCpu() : start_(now()) {}
  void report(benchmark::State& state) const {
    const double us = (now() - start_) * 1e6;
    state.counters["cpu_all_us"] = benchmark::Counter(us, benchmark::Counter::kAvgIterations);
  }

 private:
  static double now() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
  }
  double start_;
};

}  // namespace bench
