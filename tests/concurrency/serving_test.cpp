// Serving while weights change: calls from many threads each see one
// generation of the parameters (all of file A or all of file B, never a mix)
// while other threads load parameter files, set_data, export and toggle
// hybridize(). Built with ThreadSanitizer (hybrid_concurrency_tests), which
// must report nothing.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <hybrid/hybrid.hpp>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "../support/files.hpp"
#include "../support/models.hpp"

using namespace hybrid;
using testing::seed_mlp;
using testing::TempDir;

namespace {

using Values = std::map<std::string, Tensor>;

Values values_of(const nn::Block& net) {
  Values values;
  for (const auto& p : net.collect_params()) values[p->name()] = p->data().clone();
  return values;
}

bool bit_identical(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.to_vector() == b.to_vector();
}

/// True when every tensor of the exported params file equals the one of the same name in `values`.
bool file_matches(const io::safetensors::File& file, const Values& values) {
  for (const auto& t : file.tensors()) {
    auto it = values.find(t.name);
    if (it == values.end() || !bit_identical(file.tensor<float>(t), it->second)) return false;
  }
  return !file.tensors().empty();
}

/// Spins until `go` is set, so the threads of a test start together.
void wait_for(const std::atomic<bool>& go) {
  while (!go.load()) std::this_thread::yield();
}

/// Two Dense layers with a hook between them, run eagerly.
class TwoLayers : public nn::HybridBlock {
 public:
  TwoLayers() {
    first = register_block("first", nn::Dense(8, "relu", true, 4));
    second = register_block("second", nn::Dense(3, "", true, 8));
  }
  Tensor forward(const Tensor& x) override {
    const Tensor h = (*first)(x);
    if (between) between();
    return (*second)(h);
  }
  std::shared_ptr<nn::Dense> first, second;
  std::function<void()> between;
};

}  // namespace

TEST_CASE("serving: replays from 8 threads see file A or file B while weights, plans and exports change",
          "[concurrency]") {
  TempDir dir;
  const std::string file_a = dir.file("a.params"), file_b = dir.file("b.params");
  auto net = seed_mlp<float>();
  net(random::normal<float>({1, 512}));  // infers the deferred input sizes
  random::seed(11);
  net.initialize(nn::init::Normal(0.05), true);
  net.save_parameters(file_a);
  const Values values_a = values_of(net);
  random::seed(12);
  net.initialize(nn::init::Normal(0.05), true);
  net.save_parameters(file_b);
  const Values values_b = values_of(net);

  // Expected outputs per batch size, for both files, computed single-threaded.
  std::vector<Tensor> inputs, expected_a, expected_b;
  for (int64_t batch : {1, 2, 3, 5}) {
    inputs.push_back(random::normal<float>({batch, 512}));
    net.load_parameters(file_a);
    expected_a.push_back(net(inputs.back()));
    net.load_parameters(file_b);
    expected_b.push_back(net(inputs.back()));
    REQUIRE_FALSE(allclose(expected_a.back(), expected_b.back(), 1e-3, 1e-3));
  }
  // Eager and compiled results agree to rounding (fusion reorders nothing
  // that matters at this tolerance); a mix of A and B is far off both.
  auto matches = [](const Tensor& y, const Tensor& expected) { return allclose(y, expected, 1e-5, 1e-6); };

  net.hybridize();
  constexpr int kReaders = 8, kCallsPerReader = 40;
  std::atomic<bool> go{false}, readers_done{false};
  std::atomic<int> mismatches{0}, calls{0}, loads{0}, sets{0}, exports{0}, bad_exports{0}, toggles{0};
  std::atomic<int> unexpected_errors{0};
  std::vector<std::thread> threads;

  for (int t = 0; t < kReaders; ++t)
    threads.emplace_back([&, t] {
      wait_for(go);
      for (int r = 0; r < kCallsPerReader; ++r) {
        const size_t k = static_cast<size_t>(t + r) % inputs.size();
        try {
          const Tensor y = net(inputs[k]);
          if (!matches(y, expected_a[k]) && !matches(y, expected_b[k])) ++mismatches;
          ++calls;
        } catch (const std::exception&) {
          ++unexpected_errors;
        }
      }
    });

  // Loads A and B in turn; after each load, publishes the same values again
  // one parameter at a time with set_data (every state stays all A or all B).
  threads.emplace_back([&] {
    wait_for(go);
    for (int round = 0; !readers_done.load(); ++round) {
      const bool a = round % 2 == 0;
      net.load_parameters(a ? file_a : file_b);
      ++loads;
      for (const auto& p : net.collect_params()) p->set_data((a ? values_a : values_b).at(p->name()));
      ++sets;
    }
  });

  // Exports to distinct paths; each params file must be all A or all B.
  threads.emplace_back([&] {
    wait_for(go);
    for (int i = 0; !readers_done.load(); ++i) {
      const std::string prefix = dir.file("export" + std::to_string(i));
      try {
        net.export_model(prefix);
      } catch (const Error&) {
        continue;  // hybridize() just dropped the plans: nothing to export yet
      }
      const io::safetensors::File file = io::safetensors::read(prefix + "-0000.params");
      if (!file_matches(file, values_a) && !file_matches(file, values_b)) ++bad_exports;
      ++exports;
      std::filesystem::remove(prefix + "-0000.params");
      std::filesystem::remove(prefix + "-symbol.json");
    }
  });

  // Switches to eager calls for a moment, then back to compiled ones (which
  // recompile: hybridize() drops the plans).
  threads.emplace_back([&] {
    wait_for(go);
    while (!readers_done.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      net.hybridize(false);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      net.hybridize(true);
      ++toggles;
    }
  });

  go = true;
  for (int t = 0; t < kReaders; ++t) threads[static_cast<size_t>(t)].join();
  readers_done = true;
  for (size_t t = kReaders; t < threads.size(); ++t) threads[t].join();

  INFO("calls " << calls << ", loads " << loads << ", set_data rounds " << sets << ", exports " << exports
                << ", hybridize toggles " << toggles);
  REQUIRE(unexpected_errors == 0);
  REQUIRE(calls == kReaders * kCallsPerReader);
  REQUIRE(mismatches == 0);
  REQUIRE(bad_exports == 0);
  CHECK(loads > 0);
  CHECK(toggles > 0);
}

TEST_CASE("an eager call sees the parameters it started with; its own writes it sees at once", "[concurrency]") {
  TempDir dir;
  TwoLayers net;
  random::seed(21);
  net.initialize(nn::init::Normal(0.5));
  const std::string file_a = dir.file("a.params"), file_b = dir.file("b.params");
  net.save_parameters(file_a);
  const Tensor x = random::normal<float>({2, 4});
  const Tensor expected_a = net(x);
  net.initialize(nn::init::Normal(0.5), true);
  net.save_parameters(file_b);
  const Tensor expected_b = net(x);
  net.load_parameters(file_a);

  // Another thread loads B between the two layers of this call.
  net.between = [&] { std::thread([&] { net.load_parameters(file_b); }).join(); };
  CHECK(bit_identical(net(x), expected_a));
  net.between = nullptr;
  CHECK(bit_identical(net(x), expected_b));  // the next call sees B

  // A write from the call's own thread is visible to the rest of that call.
  const Tensor new_bias = full<float>({3}, 0.5f);
  net.between = [&] { net.second->bias()->set_data(new_bias); };
  const Tensor written = net(x);
  net.between = nullptr;
  CHECK(bit_identical(written, net(x)));
  CHECK_FALSE(bit_identical(written, expected_b));
}

TEST_CASE("hybridize() while a plan compiles: the stale plan serves its call and is not kept", "[concurrency]") {
  HybridizeOptions no_fusion;
  no_fusion.fuse = false;
  nn::HybridLambda* self = nullptr;
  bool switched = false;
  // The first trace switches the options, as another thread's hybridize() could.
  nn::HybridLambda block([&](const Tensor& x) {
    if (!switched) {
      switched = true;
      self->hybridize(true, no_fusion);
    }
    return relu(x * 2.0f + 1.0f);
  });
  self = &block;
  block.hybridize();
  const Tensor x = random::normal<float>({3, 5});
  const Tensor expected = relu(x * 2.0f + 1.0f);
  CHECK(allclose(block(x), expected));
  CHECK(block.cached_plans() == 0);  // compiled with fusion, which is no longer asked for
  CHECK(allclose(block(x), expected));
  CHECK(block.cached_plans() == 1);
  for (const std::string& op : block.graph_ops()) CHECK(op != "fused_elementwise");
}

TEST_CASE("first calls from several threads infer deferred shapes once", "[concurrency]") {
  for (bool hybridized : {false, true}) {
    INFO("hybridized: " << hybridized);
    nn::HybridSequential net;
    net.add(nn::Dense(16, "relu"), nn::Dense(4));
    net.initialize();
    net.hybridize(hybridized);
    const Tensor x = random::normal<float>({2, 6});
    std::atomic<bool> go{false};
    std::vector<Tensor> results(4);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < results.size(); ++t)
      threads.emplace_back([&, t] {
        wait_for(go);
        results[t] = net(x);
      });
    go = true;
    for (auto& th : threads) th.join();
    CHECK(net.collect_params()["0.weight"]->shape() == Shape{16, 6});
    const Tensor reference = net(x);
    for (const Tensor& y : results) CHECK(allclose(y, reference, 1e-5, 1e-6));
  }
}
