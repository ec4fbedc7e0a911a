// The thread pool: a partition fixed by the range and grain, exceptions that
// reach the caller, nested calls inline, concurrent callers, and the
// thread-count setting.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

using hybrid::get_num_threads;
using hybrid::parallel_for;
using hybrid::set_num_threads;

namespace {

/// Restores the thread count when a test ends, however it ends.
struct ThreadCountGuard {
  int saved = get_num_threads();
  ~ThreadCountGuard() { set_num_threads(saved); }
};

std::set<std::pair<int64_t, int64_t>> chunks_of(int64_t begin, int64_t end, int64_t grain) {
  std::mutex m;
  std::set<std::pair<int64_t, int64_t>> chunks;
  parallel_for(begin, end, grain, [&](int64_t lo, int64_t hi) {
    std::lock_guard<std::mutex> lock(m);
    chunks.insert({lo, hi});
  });
  return chunks;
}

}  // namespace

TEST_CASE("thread pool: the partition depends only on the range and the grain", "[core][threads]") {
  ThreadCountGuard guard;
  for (auto [begin, end, grain] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {0, 1000, 7}, {5, 9, 1}, {0, 100000, 1}, {-3, 17, 4}, {0, 10, 100}, {0, 1, 1}}) {
    set_num_threads(1);
    const auto reference = chunks_of(begin, end, grain);
    // The chunks tile the range exactly, each at least `grain` long unless it is the only one.
    int64_t at = begin;
    for (auto [lo, hi] : reference) {
      CHECK(lo == at);
      CHECK(hi > lo);
      if (reference.size() > 1) CHECK(hi - lo >= grain);
      at = hi;
    }
    CHECK(at == end);
    CHECK(static_cast<int64_t>(reference.size()) == hybrid::threads::chunk_count(end - begin, grain));
    for (int n : {2, 3, 8}) {
      set_num_threads(n);
      CHECK(chunks_of(begin, end, grain) == reference);
    }
  }
  CHECK(chunks_of(4, 4, 1).empty());
  CHECK(hybrid::threads::chunk_count(1 << 20, 1) == hybrid::threads::kMaxChunks);
}

TEST_CASE("thread pool: work below the grain runs inline on the caller", "[core][threads]") {
  ThreadCountGuard guard;
  set_num_threads(4);
  const auto caller = std::this_thread::get_id();
  std::thread::id ran_on;
  int calls = 0;
  parallel_for(0, 10, 64, [&](int64_t lo, int64_t hi) {
    ran_on = std::this_thread::get_id();
    ++calls;
    CHECK(lo == 0);
    CHECK(hi == 10);
  });
  CHECK(calls == 1);
  CHECK(ran_on == caller);
}

TEST_CASE("thread pool: every item runs once, on several threads", "[core][threads]") {
  ThreadCountGuard guard;
  set_num_threads(3);
  std::vector<std::atomic<int>> hits(4096);
  for (int round = 0; round < 20; ++round)
    parallel_for(0, 4096, 16, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) ++hits[i];
    });
  for (auto& h : hits) CHECK(h.load() == 20);
}

TEST_CASE("thread pool: an exception thrown by a chunk reaches the caller", "[core][threads]") {
  ThreadCountGuard guard;
  for (int n : {1, 2, 8}) {
    set_num_threads(n);
    CHECK_THROWS_WITH(parallel_for(0, 640, 10,
                                   [](int64_t lo, int64_t) {
                                     if (lo >= 320) throw std::runtime_error("chunk failed");
                                   }),
                      "chunk failed");
    // The pool is usable afterwards.
    std::atomic<int64_t> sum{0};
    parallel_for(0, 640, 10, [&](int64_t lo, int64_t hi) { sum += hi - lo; });
    CHECK(sum.load() == 640);
  }
}

TEST_CASE("thread pool: a nested parallel_for runs inline in its chunk", "[core][threads]") {
  ThreadCountGuard guard;
  set_num_threads(4);
  std::atomic<int> nested_elsewhere{0}, inner_items{0};
  parallel_for(0, 64, 1, [&](int64_t, int64_t) {
    const auto outer = std::this_thread::get_id();
    parallel_for(0, 64, 1, [&](int64_t lo, int64_t hi) {
      if (std::this_thread::get_id() != outer) ++nested_elsewhere;
      inner_items += static_cast<int>(hi - lo);
    });
  });
  CHECK(nested_elsewhere.load() == 0);
  CHECK(inner_items.load() == 64 * 64);
}

TEST_CASE("thread pool: threads calling at once share the pool without deadlock", "[core][threads]") {
  ThreadCountGuard guard;
  set_num_threads(2);
  std::vector<std::thread> callers;
  std::atomic<int64_t> total{0};
  for (int t = 0; t < 6; ++t)
    callers.emplace_back([&] {
      for (int round = 0; round < 50; ++round)
        parallel_for(0, 1000, 10, [&](int64_t lo, int64_t hi) { total += hi - lo; });
    });
  for (auto& c : callers) c.join();
  CHECK(total.load() == 6 * 50 * 1000);
}

TEST_CASE("thread count: set, get and the errors", "[core][threads]") {
  ThreadCountGuard guard;
  CHECK(get_num_threads() >= 1);
  set_num_threads(3);
  CHECK(get_num_threads() == 3);
  set_num_threads(1);
  CHECK(get_num_threads() == 1);
  CHECK_THROWS_AS(set_num_threads(0), hybrid::Error);
  CHECK_THROWS_WITH(set_num_threads(-2), Catch::Contains("at least 1") && Catch::Contains("-2"));
  CHECK(get_num_threads() == 1);
}

TEST_CASE("thread count: HYBRID_NUM_THREADS and the default", "[core][threads]") {
  using hybrid::threads::parse_num_threads;
  CHECK(parse_num_threads("4") == 4);
  CHECK(parse_num_threads("1") == 1);
  CHECK(parse_num_threads(nullptr) == 0);
  CHECK(parse_num_threads("") == 0);
  CHECK(parse_num_threads("0") == 0);
  CHECK(parse_num_threads("-3") == 0);
  CHECK(parse_num_threads("two") == 0);
  CHECK(parse_num_threads("4x") == 0);
  CHECK(parse_num_threads("99999999999") == 0);
  CHECK(hybrid::threads::available_cores() >= 1);

  // The default follows the variable when it is valid, else the cores.
  const int from_env = parse_num_threads(std::getenv("HYBRID_NUM_THREADS"));
  const int expected = from_env > 0 ? from_env : hybrid::threads::available_cores();
  CHECK(hybrid::threads::default_num_threads() == expected);
  // It is read once: changing the variable later changes nothing.
  ThreadCountGuard guard;
  ::setenv("HYBRID_NUM_THREADS", "7", 1);
  CHECK(hybrid::threads::default_num_threads() == expected);
  if (from_env > 0)
    ::setenv("HYBRID_NUM_THREADS", std::to_string(from_env).c_str(), 1);
  else
    ::unsetenv("HYBRID_NUM_THREADS");
}
