// hybridize(): tracing semantics, the plan cache, replays, conformance with
// eager execution, allocation-free and concurrent replays.
#include <atomic>
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>
#include <sstream>
#include <thread>

#include "../allocation_counter.hpp"
#include "../support/models.hpp"

using namespace hybrid;
using testing::seed_mlp;
template <class T>
using HybridNet = testing::HybridNetT<T>;

namespace {

/// Captures std::cout for a scope.
class CaptureCout {
 public:
  CaptureCout() : saved_(std::cout.rdbuf(out_.rdbuf())) {}
  ~CaptureCout() { std::cout.rdbuf(saved_); }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::streambuf* saved_;
};

/// An elementwise-heavy block with constants and in-place updates.
template <class T>
class Elementwise : public nn::HybridBlockT<T> {
 public:
  TensorT<T> forward(const TensorT<T>& x) override {
    TensorT<T> y = tanh(x * T(1.5) + T(0.25)) * sigmoid(x) - abs(x) / (exp(-x) + T(1));
    y += minimum(maximum(y, full<T>({}, T(-0.5))), ones<T>({x.shape()[x.ndim() - 1]}) * T(0.75));
    y *= where(greater(x, zeros<T>({})), x, pow(abs(x) + T(1), T(0.5)));
    return y + sqrt(abs(y)) + log(abs(y) + T(1)) + softrelu(y) - equal(y, y) + less(y, x);
  }
};

/// Every layout, reduction and normalisation op, with constants folded into the graph.
template <class T>
class AllOps : public nn::HybridBlockT<T> {
 public:
  AllOps() { w = this->register_parameter("w", Shape{6, 4}); }
  TensorT<T> forward(const TensorT<T>& x) override {  // x: (n, 4)
    const TensorT<T> c = from_vector<T>({T(1), T(2), T(3), T(4)}, Shape{4}) * T(0.1);
    TensorT<T> h = matmul(x + c, transpose(w->data()));                  // (n, 6)
    TensorT<T> r = reshape(h, {-1, 3, 2});                               // (n, 3, 2)
    TensorT<T> t = transpose(r, {0, 2, 1});                              // (n, 2, 3)
    TensorT<T> s = concat<T>({slice(t, 2, 0, 2), slice(t, 2, -1, 3)}, -1);  // (n, 2, 3)
    TensorT<T> m = matmul(s, transpose(s, {0, 2, 1}));                   // (n, 2, 2), batched
    TensorT<T> red = sum(m, 1) + mean(m, -1) - max(m, 2) + max(m, 1, true).shape()[1];
    TensorT<T> sm = softmax(red) + log_softmax(red, 0) + mean(red) - sum(red) + max(red);
    return sm * (T(1) + T(0));  // simplifiable
  }
  std::shared_ptr<nn::ParameterT<T>> w;
};

template <class T>
double rtol() {
  return std::is_same_v<T, float> ? 1e-5 : 1e-12;
}

template <class T, class Block>
void check_conformance(Block& block, const TensorT<T>& x) {
  block.hybridize(false);
  const TensorT<T> eager = block(x).clone();
  block.hybridize(true);
  const TensorT<T> all_passes = block(x);
  HybridizeOptions none;
  none.fold_constants = none.eliminate_common = none.fuse = none.plan_memory = false;
  block.hybridize(true, none);
  const TensorT<T> no_passes = block(x);
  CHECK(allclose(all_passes, eager, rtol<T>(), 1e-6));
  CHECK(allclose(no_passes, eager, rtol<T>(), 1e-6));
}

}  // namespace

TEST_CASE("a hybridized block traces once per signature and replays after", "[hybridize]") {
  HybridNet<float> net;
  net.initialize();
  const Tensor x = random::normal<float>({1, 3});
  CaptureCout capture;
  net(x);
  CHECK(net.forward_runs == 1);
  net.hybridize();
  net(x);
  net(x);
  net(x);
  CHECK(net.forward_runs == 2);
  CHECK(net.cached_plans() == 1);
  net(random::normal<float>({5, 3}));  // a new batch size traces anew
  CHECK(net.forward_runs == 3);
  CHECK(net.cached_plans() == 2);
  net(x);
  CHECK(net.forward_runs == 3);
  net.hybridize(false);  // back to eager: forward runs on every call
  net(x);
  net(x);
  CHECK(net.forward_runs == 5);
}

TEST_CASE("print inside forward: values eagerly, symbols while tracing, nothing on replays", "[hybridize]") {
  HybridNet<float> net;
  net.print = true;
  net.initialize();
  const Tensor x = random::normal<float>({1, 3});
  std::string eager, traced, replayed;
  {
    CaptureCout c;
    net(x);
    eager = c.text();
  }
  net.hybridize();
  {
    CaptureCout c;
    net(x);
    traced = c.text();
  }
  {
    CaptureCout c;
    net(x);
    replayed = c.text();
  }
  CHECK_THAT(eager, Catch::Contains("value  x: tensor([[") && Catch::Contains("dtype=float32"));
  CHECK_THAT(eager, !Catch::Contains("symbol"));
  CHECK_THAT(traced, Catch::Contains("value  x: <symbol data: shape=(1, 3), dtype=float32>"));
  CHECK_THAT(traced, Catch::Contains("result  : <symbol relu") && Catch::Contains("shape=(1, 4)"));
  CHECK(replayed.empty());
}

TEST_CASE("values cannot be read while tracing", "[hybridize]") {
  nn::HybridLambda peek([](const Tensor& x) {
    const float v = x.at({0, 0});  // data-dependent: not traceable
    return x * v;
  });
  peek.hybridize();
  CHECK_THROWS_AS(peek(ones<float>({2, 2})), TraceError);
  CHECK_THROWS_WITH(peek(ones<float>({2, 2})),
                    Catch::Contains("values do not exist while a hybridized block is being traced") &&
                        Catch::Contains("where(cond, a, b)"));
  for (auto read : {+[](const Tensor& x) { return x.item(); }, +[](const Tensor& x) { return x.data()[0]; },
                    +[](const Tensor& x) { return x.to_vector()[0]; }}) {
    nn::HybridLambda block([read](const Tensor& x) { return x * read(x); });
    block.hybridize();
    CHECK_THROWS_AS(block(ones<float>({1})), TraceError);
  }
  // Eagerly the same block is fine.
  nn::HybridLambda eager([](const Tensor& x) { return x * x.at({0, 0}); });
  CHECK(eager(full<float>({1, 1}, 3.0f)).item() == 9.0f);
}

TEST_CASE("shape-dependent control flow and in-place updates trace", "[hybridize]") {
  nn::HybridLambda block([](const Tensor& x) {
    Tensor y = x * 2.0f;
    if (x.shape()[0] > 1) y += sum(x, 0, true);  // shapes are known while tracing
    y -= 1.0f;
    y *= y;
    y /= 2.0f;
    return y;
  });
  for (int64_t batch : {1, 3}) {
    const Tensor x = random::normal<float>({batch, 4});
    block.hybridize(false);
    const Tensor expected = block(x);
    block.hybridize();
    CHECK(allclose(block(x), expected));
  }
}

TEST_CASE("parameters changed after hybridization are used without a new trace", "[hybridize]") {
  HybridNet<float> net;
  net.initialize();
  const Tensor x = random::normal<float>({2, 3});
  CaptureCout quiet;
  net.hybridize();
  const Tensor before = net(x).clone();
  const int runs = net.forward_runs;
  net.output->bias()->set_data(full<float>({2}, 10.0f));
  const Tensor after = net(x);
  CHECK(net.forward_runs == runs);
  CHECK(allclose(after, before + 10.0f));

  const std::string path = "hybridize_test_params.safetensors";
  net.save_parameters(path);
  net.output->bias()->set_data(zeros<float>({2}));
  net.load_parameters(path);
  CHECK(allclose(net(x), after));
  CHECK(net.forward_runs == runs);
  std::remove(path.c_str());
}

TEST_CASE("nested blocks become one graph; the seed MLP compiles to three fused Dense nodes", "[hybridize]") {
  auto net = seed_mlp<float>();
  net.hybridize();
  net(random::normal<float>({1, 512}));
  CHECK(net.graph_ops() == std::vector<std::string>{"fully_connected", "fully_connected", "fully_connected"});
  CHECK_THAT(net.graph_dot(), Catch::Contains("digraph") && Catch::Contains("fully_connected+relu"));
  // Children were hybridized too, but ran inside the parent's trace: no plans of their own.
  for (size_t i = 0; i < net.size(); ++i)
    CHECK(std::dynamic_pointer_cast<nn::HybridBlock>(net[i])->cached_plans() == 0);

  nn::HybridSequential outer;
  auto inner = std::make_shared<nn::HybridSequential>(seed_mlp<float>());
  outer.add(inner, nn::Activation("tanh"));
  outer.hybridize();
  outer(random::normal<float>({3, 512}));
  CHECK(outer.graph_ops().size() == 3);  // tanh became the last Dense's epilogue
  CHECK_THAT(outer.graph_text(), Catch::Contains("fully_connected+tanh"));
  CHECK(inner->cached_plans() == 0);
}

TEST_CASE("graph queries and export before any hybridized call explain what to do", "[hybridize]") {
  auto net = seed_mlp<float>();
  CHECK_THROWS_WITH(net.graph_ops(), Catch::Contains("call hybridize() and run the block once"));
  net(random::normal<float>({1, 512}));  // an eager call does not compile
  CHECK_THROWS_AS(net.graph_dot(), Error);
  CHECK_THROWS_AS(net.export_model("never_written"), Error);
}

TEST_CASE("deferred initialization happens during the trace", "[hybridize]") {
  nn::HybridSequential net;
  net.add(nn::Dense(8, "relu"), nn::Dense(3));
  net.initialize();
  net.hybridize();
  const Tensor x = random::normal<float>({2, 5});
  const Tensor y = net(x);
  CHECK(net.collect_params()["0.weight"]->shape() == Shape{8, 5});
  net.hybridize(false);
  CHECK(allclose(net(x), y));

  nn::HybridSequential uninitialized;
  uninitialized.add(nn::Dense(4, "", true, 5));
  uninitialized.hybridize();
  CHECK_THROWS_WITH(uninitialized(x), Catch::Contains("0.weight"));
}

TEMPLATE_TEST_CASE("conformance: eager, every pass, no pass", "[hybridize][conformance]", float, double) {
  using T = TestType;
  random::seed(7);
  SECTION("seed MLP") {
    auto net = seed_mlp<T>();
    for (int64_t batch : {1, 8}) check_conformance<T>(net, random::normal<T>({batch, 512}));
  }
  SECTION("HybridNet") {
    HybridNet<T> net;
    net.initialize();
    CaptureCout quiet;
    check_conformance<T>(net, random::normal<T>({4, 3}));
  }
  SECTION("elementwise-heavy block") {
    Elementwise<T> block;
    check_conformance<T>(block, random::normal<T>({3, 700}));
  }
  SECTION("every layout and reduction op, with constants") {
    AllOps<T> block;
    block.initialize(nn::init::Normal(0.5));
    check_conformance<T>(block, random::normal<T>({5, 4}));
  }
  SECTION("a 4-D input through Dense (flattened)") {
    nn::HybridSequentialT<T> net;
    net.add(nn::DenseT<T>(6, "sigmoid"), nn::DenseT<T>(3, "softrelu"), nn::ActivationT<T>("tanh"));
    net.initialize(nn::init::Xavier());
    check_conformance<T>(net, random::normal<T>({2, 3, 2, 2}));
  }
}

TEST_CASE("a hybridized replay allocates nothing but its output", "[hybridize]") {
  auto net = seed_mlp<float>();
  net.hybridize();
  const Tensor x = random::normal<float>({1, 512});
  net(x);
  net(x);  // per-thread scratch exists after the first replay
  const long before = testing::allocations();
  for (int i = 0; i < 100; ++i) net(x);
  // The output tensor only: its control block with Storage, and its aligned data buffer.
  CHECK(testing::allocations() - before <= 2 * 100);
}

TEMPLATE_TEST_CASE("one hybridized block called from 8 threads agrees with single-threaded calls", "[hybridize]",
                   float, double) {
  using T = TestType;
  auto net = seed_mlp<T>();
  net.hybridize();
  std::vector<TensorT<T>> xs, expected;
  for (int t = 0; t < 8; ++t) {
    xs.push_back(random::normal<T>({1 + t % 3, 512}));
    expected.push_back(net(xs.back()));
  }
  net.hybridize();  // drop the plans: the threads race to trace and compile too
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int r = 0; r < 25; ++r)
        if (!allclose(net(xs[t]), expected[t], 0, 0)) ++mismatches;
    });
  for (auto& th : threads) th.join();
  CHECK(mismatches == 0);
  CHECK(net.cached_plans() == 3);
}
