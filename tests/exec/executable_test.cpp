// The executor: memory planning, allocation-free replays, concurrent runs.
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <hybrid/exec/executable.hpp>
#include <hybrid/hybrid.hpp>
#include <hybrid/passes/pipeline.hpp>
#include <hybrid/trace/trace_function.hpp>
#include <new>
#include <thread>

#include "../allocation_counter.hpp"

using namespace hybrid;

namespace {
template <class T>
graph::Graph<T> chain_graph(const Shape& shape) {
  return trace::trace_graph<T>(
      [](const TensorT<T>& x) {
        TensorT<T> a = exp(x), b = a * x, c = sum(b, 1, true), d = b - c, e = softmax(d, 1);
        return log_softmax(e * T(3), 0);
      },
      shape);
}
}  // namespace

TEST_CASE("memory planning reuses dead buffers and runs in place", "[exec]") {
  auto g = passes::optimize(chain_graph<float>({64, 32}), HybridizeOptions{});
  HybridizeOptions no_fuse;
  no_fuse.fuse = false;
  auto unfused = passes::optimize(chain_graph<float>({64, 32}), no_fuse);
  exec::Executable<float> planned(unfused, true), naive(unfused, false);
  CHECK(planned.arena_bytes() < naive.arena_bytes());
  CHECK(planned.in_place_steps() > 0);
  CHECK(naive.in_place_steps() == 0);
  exec::Executable<float> fused(g, true);
  CHECK(fused.arena_bytes() <= planned.arena_bytes());
}

TEST_CASE("a replay allocates nothing but its outputs", "[exec]") {
  auto g = passes::optimize(chain_graph<float>({16, 700}), HybridizeOptions{});
  exec::Executable<float> ex(g, true);
  auto x = random::normal<float>({16, 700});
  const float* in[1] = {x.data()};
  Tensor y[1];
  ex.run(in, nullptr, y);  // the first run creates the arena
  const Tensor first = y[0].clone();
  const long before = testing::allocations();
  for (int i = 0; i < 50; ++i) ex.run(in, nullptr, y);
  const long per_run = (testing::allocations() - before) / 50;
  CHECK(per_run <= 2);  // the output tensor: its storage and its control block
  CHECK(allclose(y[0], first, 0, 0));
}

TEMPLATE_TEST_CASE("concurrent runs agree with single-threaded runs", "[exec]", float, double) {
  using T = TestType;
  auto g = passes::optimize(chain_graph<T>({8, 300}), HybridizeOptions{});
  exec::Executable<T> ex(g, true);
  std::vector<TensorT<T>> xs, expected;
  for (int t = 0; t < 8; ++t) {
    xs.push_back(random::normal<T>({8, 300}));
    const T* in[1] = {xs.back().data()};
    TensorT<T> y[1];
    ex.run(in, nullptr, y);
    expected.push_back(y[0]);
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int r = 0; r < 40; ++r) {
        const T* in[1] = {xs[t].data()};
        TensorT<T> y[1];
        ex.run(in, nullptr, y);
        if (!allclose(y[0], expected[t], 0, 0)) ++mismatches;
      }
    });
  for (auto& th : threads) th.join();
  CHECK(mismatches == 0);
}
