// The core half of kvstore "dist_sync", without MPI: a Trainer asks the
// registered GradientReducer to sum its gradients and averages over the
// processes' samples. A fake reducer stands in for the other processes by
// adding their (known) gradients; tests/dist/ runs the real one on MPI.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>

#include <memory>
#include <string>
#include <vector>

using hybrid::Error;
using hybrid::TensorT;
namespace nn = hybrid::nn;

namespace {

/// Plays `others.size()` further processes whose gradients are `others[k][i]`
/// for gradient i; records what it was handed.
class FakeReducer : public nn::GradientReducer {
 public:
  std::vector<std::vector<std::vector<float>>> others;
  int calls = 0, checks = 0;
  bool check = false;
  std::vector<int64_t> sizes;

  int size() const override { return static_cast<int>(others.size()) + 1; }
  void reduce(const std::vector<TensorT<float>*>& grads) override {
    ++calls;
    sizes.clear();
    for (size_t i = 0; i < grads.size(); ++i) {
      sizes.push_back(grads[i]->size());
      for (const auto& other : others)
        for (int64_t j = 0; j < grads[i]->size(); ++j) grads[i]->data()[j] += other[i][static_cast<size_t>(j)];
    }
  }
  void reduce(const std::vector<TensorT<double>*>&) override { FAIL("float trainer reduced doubles"); }
  bool checks_parameters() const override { return check; }
  void check_parameters(const std::vector<TensorT<float>>& values) override {
    ++checks;
    CHECK(values.size() == 4);
  }
};

/// Registers a reducer for one test and removes it after.
struct Registered {
  explicit Registered(std::shared_ptr<nn::GradientReducer> r) { nn::register_gradient_reducer(std::move(r)); }
  ~Registered() { nn::register_gradient_reducer(nullptr); }
};

nn::HybridSequential make_net() {
  nn::HybridSequential net;
  net.add(nn::Dense(3, "", true, 4), nn::Dense(2, "", true, 3));
  hybrid::random::seed(5);
  net.initialize(nn::init::Normal(1.0));
  return net;
}

}  // namespace

TEST_CASE("kvstore 'dist_sync' sums gradients through the reducer and averages over all processes' samples",
          "[trainer][dist_sync]") {
  auto net = make_net();
  const auto params = net.collect_params();
  auto fake = std::make_shared<FakeReducer>();
  Registered registered(fake);
  // Two other processes with gradients 1 and 2 * index.
  std::vector<std::vector<float>> g1, g2;
  for (const auto& p : params) {
    g1.emplace_back(static_cast<size_t>(p->size()), 1.0f);
    std::vector<float> twice;
    for (int64_t j = 0; j < p->size(); ++j) twice.push_back(2.0f * static_cast<float>(j));
    g2.push_back(twice);
  }
  fake->others = {g1, g2};
  nn::Trainer trainer(params, "sgd", {{"learning_rate", 0.5}}, "dist_sync");
  CHECK(trainer.kvstore() == "dist_sync");

  std::vector<std::vector<float>> before, own;
  for (const auto& p : params) {
    before.push_back(p->data().to_vector());
    TensorT<float> g = p->grad();
    std::vector<float> mine;
    for (int64_t j = 0; j < g.size(); ++j) mine.push_back(g.data()[j] = 0.5f - 0.25f * static_cast<float>(j));
    own.push_back(mine);
    nn::detail::ParameterAccess::grad_meta(*p)->fresh = true;  // what backward() does
  }
  trainer.step(4);  // 3 processes of 4 samples: the sum over 12 samples / 12
  CHECK(fake->calls == 1);
  CHECK(fake->sizes == std::vector<int64_t>{12, 3, 6, 2});
  CHECK(fake->checks == 0);
  size_t i = 0;
  for (const auto& p : params) {
    const std::vector<float> now = p->data().to_vector();
    for (size_t j = 0; j < now.size(); ++j) {
      const double sum = double(own[i][j]) + 1.0 + 2.0 * double(j);
      CHECK(now[j] == Approx(double(before[i][j]) - 0.5 * sum / 12.0).epsilon(1e-6).margin(1e-6));
    }
    ++i;
  }

  SECTION("with the reducer's check on, the parameters go to check_parameters after the update") {
    fake->check = true;
    for (const auto& p : params) nn::detail::ParameterAccess::grad_meta(*p)->fresh = true;
    trainer.step(4);
    CHECK(fake->calls == 2);
    CHECK(fake->checks == 1);
  }
}

TEST_CASE("kvstore 'device' and 'local' never call the reducer; unknown names and a missing reducer are errors",
          "[trainer][dist_sync]") {
  auto net = make_net();
  const auto params = net.collect_params();
  CHECK_THROWS_MATCHES(nn::Trainer(params, "sgd", {}, "dist_sync"), Error,
                       Catch::Message("Trainer: kvstore 'dist_sync' needs hybrid/dist.hpp and a live dist::Context"));
  CHECK_THROWS_MATCHES(nn::Trainer(params, "sgd", {}, "dist_async"), Error,
                       Catch::Message("Trainer: unknown kvstore 'dist_async'; expected \"device\", \"local\" or "
                                      "\"dist_sync\""));
  auto fake = std::make_shared<FakeReducer>();
  {
    Registered registered(fake);
    for (const char* kvstore : {"device", "local"}) {
      nn::Trainer trainer(params, "sgd", {{"learning_rate", 0.1}}, kvstore);
      for (const auto& p : params) nn::detail::ParameterAccess::grad_meta(*p)->fresh = true;
      trainer.step(1);
    }
    CHECK(fake->calls == 0);
  }
  SECTION("a reducer removed after construction fails the step, before any update") {
    Registered registered(fake);
    nn::Trainer trainer(params, "sgd", {{"learning_rate", 0.1}}, "dist_sync");
    nn::register_gradient_reducer(nullptr);
    for (const auto& p : params) nn::detail::ParameterAccess::grad_meta(*p)->fresh = true;
    const std::vector<float> before = params.begin()->get()->data().to_vector();
    CHECK_THROWS_MATCHES(trainer.step(1), Error,
                         Catch::Message("Trainer: kvstore 'dist_sync' needs hybrid/dist.hpp and a live dist::Context"));
    CHECK(params.begin()->get()->data().to_vector() == before);
  }
}

TEST_CASE("kvstore 'dist_sync' averages the non-trainable parameters that changed (running statistics) in the "
          "same exchange",
          "[trainer][dist_sync]") {
  nn::HybridSequential net;
  net.add(nn::Dense(3, "", true, 4), nn::BatchNorm(1, 0.9, 1e-5, 3));
  hybrid::random::seed(6);
  net.initialize(nn::init::Normal(1.0));
  const auto params = net.collect_params();
  auto fake = std::make_shared<FakeReducer>();
  Registered registered(fake);
  // One other process: gradients 0, running mean 1, running variance 3.
  fake->others = {{std::vector<float>(12, 0.0f), std::vector<float>(3, 0.0f), std::vector<float>(3, 0.0f),
                   std::vector<float>(3, 0.0f), std::vector<float>(3, 1.0f), std::vector<float>(3, 3.0f)}};
  nn::Trainer trainer(params, "sgd", {{"learning_rate", 0.1}}, "dist_sync");
  nn::Trainer local(params, "sgd", {{"learning_rate", 0.1}});
  nn::loss::L2Loss loss;
  const TensorT<float> x = hybrid::random::normal<float>({5, 4}), y = hybrid::zeros<float>({5, 3});
  auto backward = [&](bool train_mode) {
    TensorT<float> l;
    {
      auto rec = hybrid::autograd::record(train_mode);
      l = loss(net(x), y);
    }
    l.backward();
  };

  backward(true);
  const std::vector<float> mean = params["1.running_mean"]->data().to_vector(),
                           var = params["1.running_var"]->data().to_vector();
  trainer.step(5);
  // The gradients, then the two running statistics this step's forward changed.
  CHECK(fake->sizes == std::vector<int64_t>{12, 3, 3, 3, 3, 3});
  const std::vector<float> mean_after = params["1.running_mean"]->data().to_vector(),
                           var_after = params["1.running_var"]->data().to_vector();
  for (size_t c = 0; c < 3; ++c) {
    CHECK(mean_after[c] == (mean[c] + 1.0f) / 2.0f);
    CHECK(var_after[c] == (var[c] + 3.0f) / 2.0f);
  }

  SECTION("a step after a predict-mode forward exchanges the gradients only") {
    backward(false);
    trainer.step(5);
    CHECK(fake->sizes == std::vector<int64_t>{12, 3, 3, 3});
    CHECK(params["1.running_mean"]->data().to_vector() == mean_after);
  }
  SECTION("a 'local' trainer leaves the running statistics to this process") {
    backward(true);
    const std::vector<float> updated = params["1.running_mean"]->data().to_vector();
    local.step(5);
    CHECK(fake->calls == 1);
    CHECK(params["1.running_mean"]->data().to_vector() == updated);
  }
  SECTION("a running statistic set by the program counts as changed; a frozen weight that did not change does not") {
    params["0.weight"]->set_grad_req("null");
    params["1.running_var"]->set_data(hybrid::full<float>({3}, 5.0f));
    backward(false);
    trainer.step(5);
    CHECK(fake->sizes == std::vector<int64_t>{3, 3, 3, 3});
    CHECK(params["1.running_var"]->data().to_vector() == std::vector<float>(3, 2.5f));  // (5 + the other's 0) / 2
  }
}
