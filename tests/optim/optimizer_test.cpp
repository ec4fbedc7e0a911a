// Optimizers: SGD (plain, momentum, weight decay), Adam and AdamW, with
// clip_gradient, rescale_grad and a batch scale, against reference values
// worked out independently (in double, from the formulas in
// optim/optimizer.hpp) over three steps, in float and double; state access,
// allocation-free updates, and every error path.
#include <catch2/catch.hpp>
#include <hybrid/optim/optimizer.hpp>

#include <array>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../allocation_counter.hpp"

using Catch::Contains;
using hybrid::Error;
namespace optim = hybrid::optim;

namespace {

using Values = std::array<double, 3>;

// Every case starts from these weights and sees these gradients, one row a step.
constexpr Values kW0 = {1.0, -2.0, 0.5};
constexpr std::array<Values, 3> kGrads = {{{0.1, -0.2, 0.3}, {0.4, 0.5, -0.6}, {-0.3, 0.2, 0.1}}};

struct Case {
  const char* label;
  const char* optimizer;
  optim::Options options;
  double grad_scale;
  std::array<Values, 3> weights;                      // after steps 1, 2, 3
  std::vector<std::pair<std::string, Values>> state;  // after step 3
};

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      // w -= 0.1 * g: 1 - 0.01 = 0.99, then 0.99 - 0.04 = 0.95, then 0.95 + 0.03 = 0.98.
      {"sgd plain",
       "sgd",
       {{"learning_rate", 0.1}},
       1,
       {{{0.99, -1.98, 0.47}, {0.95, -2.03, 0.53}, {0.98, -2.05, 0.52}}},
       {}},
      // mom = 0.9 mom - 0.1 g; w += mom: -0.01 → 0.99; 0.9·-0.01 - 0.04 = -0.049 → 0.941; ...
      {"sgd momentum",
       "sgd",
       {{"learning_rate", 0.1}, {"momentum", 0.9}},
       1,
       {{{0.99, -1.98, 0.47}, {0.941, -2.012, 0.503}, {0.9269, -2.0608, 0.5227}}},
       {{"momentum", {-0.0141, -0.0488, 0.0197}}}},
      // g = grad + 0.05 w: 0.1 + 0.05 = 0.15 → 1 - 0.015 = 0.985.
      {"sgd weight decay",
       "sgd",
       {{"learning_rate", 0.1}, {"wd", 0.05}},
       1,
       {{{0.985, -1.97, 0.4675}, {0.940075, -2.01015, 0.5251625}, {0.965374625, -2.02009925, 0.5125366875}}},
       {}},
      {"sgd weight decay and momentum",
       "sgd",
       {{"learning_rate", 0.1}, {"momentum", 0.9}, {"wd", 0.01}},
       1,
       {{{0.989, -1.978, 0.4695},
         {0.938111, -2.006222, 0.5015805},
         {0.921372789, -2.049615578, 0.5199513695}}},
       {{"momentum", {-0.016738211, -0.043393578, 0.0183708695}}}},
      // r = 2 grad clipped to ±0.25: 0.2, -0.25 (from -0.4), 0.25 (from 0.6).
      {"sgd clip_gradient and rescale_grad",
       "sgd",
       {{"learning_rate", 0.1}, {"clip_gradient", 0.25}, {"rescale_grad", 2.0}},
       1,
       {{{0.98, -1.975, 0.475}, {0.955, -2.0, 0.5}, {0.98, -2.025, 0.48}}},
       {}},
      // The batch scale multiplies rescale_grad: 2 · 0.25 = 0.5 of the gradient.
      {"sgd grad_scale",
       "sgd",
       {{"learning_rate", 0.1}, {"rescale_grad", 2.0}},
       0.25,
       {{{0.995, -1.99, 0.485}, {0.975, -2.015, 0.515}, {0.99, -2.025, 0.51}}},
       {}},
      {"adam",
       "adam",
       {{"learning_rate", 0.01}},
       1,
       {{{0.99000003162267658, -1.9900000158113633, 0.49000001054091441},
         {0.98115627349996903, -1.9944221658522421, 0.49366104408527245},
         {0.97938919151768422, -1.9998515928167448, 0.49551763525245801}}},
       {{"mean", {0.0141, 0.0488, -0.0197}}, {"var", {0.00025982001, 0.00032967004, 0.00045946009}}}},
      // MXNet clips the gradient together with its weight decay: on step 1
      // the second element is clip(-0.2 + 0.1·-2) = clip(-0.4) = -0.35.
      {"adam weight decay and clip_gradient",
       "adam",
       {{"learning_rate", 0.01}, {"wd", 0.1}, {"clip_gradient", 0.35}},
       1,
       {{{0.99000001581136332, -1.9900000090350709, 0.49000000903507085},
         {0.98021514489994988, -1.9897742668727139, 0.49052632448820982},
         {0.97631668382679959, -1.9896139296957973, 0.48907262979713423}}},
       {{"mean", {0.027502151448999496, -0.0011577427500427786, 0.011755263244882099}},
        {"var", {0.00020309284860891544, 0.00021276656661281269, 0.00026684930973992354}}}},
      {"adamw",
       "adamw",
       {{"learning_rate", 0.01}, {"wd", 0.1}},
       1,
       {{{0.98900000099999985, -1.9880000005, 0.4895000003333333},
         {0.97916723639651171, -1.9904341530212235, 0.49267153552618859},
         {0.9764209861415688, -1.9938731486592982, 0.49403545597657933}}},
       {{"mean", {0.0141, 0.0488, -0.0197}}, {"var", {0.00025982001, 0.00032967004, 0.00045946009}}}},
      // Default wd 0.01; r = 0.5 grad clipped to ±0.1.
      {"adamw clip_gradient, rescale_grad, betas and epsilon",
       "adamw",
       {{"learning_rate", 0.01},
        {"clip_gradient", 0.1},
        {"rescale_grad", 0.5},
        {"beta1", 0.8},
        {"beta2", 0.99},
        {"epsilon", 1e-6}},
       1,
       {{{0.9899001999960001, -1.989800099999, 0.48995009999900002},
         {0.97997793487842488, -1.9907122199891112, 0.49101220498911125},
         {0.97931300536499655, -1.99526719958726, 0.48935140700072438}}},
       {{"mean", {0.0024, 0.0232, 0.0068}}, {"var", {0.0002235025, 0.00029701, 0.00022201}}}},
  };
  return all;
}

template <class T>
Approx near(double expected) {
  return std::is_same_v<T, float> ? Approx(expected).epsilon(2e-6).margin(1e-9)
                                  : Approx(expected).epsilon(1e-12).margin(1e-17);
}

/// States in float carry the rounding of 1 - beta2 in float (about 1e-5
/// relative) and, for small means, the cancellation of larger terms.
template <class T>
Approx near_state(double expected) {
  return std::is_same_v<T, float> ? Approx(expected).epsilon(5e-5).margin(1e-8)
                                  : Approx(expected).epsilon(1e-11).margin(1e-17);
}

}  // namespace

TEMPLATE_TEST_CASE("optimizers follow their formulas step by step", "[optim]", float, double) {
  using T = TestType;
  for (const Case& c : cases()) {
    INFO(c.label);
    auto opt = optim::create(c.optimizer, c.options);
    std::array<T, 3> w = {T(kW0[0]), T(kW0[1]), T(kW0[2])};
    for (size_t step = 0; step < 3; ++step) {
      INFO("step " << step + 1);
      std::array<T, 3> g = {T(kGrads[step][0]), T(kGrads[step][1]), T(kGrads[step][2])};
      opt->update(0, w.data(), g.data(), 3, c.grad_scale);
      for (size_t i = 0; i < 3; ++i) CHECK(w[i] == near<T>(c.weights[step][i]));
      CHECK(opt->step_count(0) == static_cast<int64_t>(step + 1));
    }
    std::vector<std::string> names;
    for (const auto& [name, values] : c.state) {
      names.push_back(name);
      const T* s = opt->template state_data<T>(0, name);
      for (size_t i = 0; i < 3; ++i) CHECK(s[i] == near_state<T>(values[i]));
    }
    CHECK(opt->state_names() == names);
  }
}

TEST_CASE("parameters keep separate states and step counts", "[optim]") {
  optim::Adam adam({{"learning_rate", 0.01}});
  std::array<double, 3> a = {kW0[0], kW0[1], kW0[2]}, b = a;
  std::array<double, 3> g = kGrads[0];
  adam.update(0, a.data(), g.data(), 3);
  adam.update(0, a.data(), g.data(), 3);
  adam.update(2, b.data(), g.data(), 3);  // index 1 is never updated
  CHECK(adam.step_count(0) == 2);
  CHECK(adam.step_count(1) == 0);
  CHECK(adam.state(1) == nullptr);
  CHECK(adam.step_count(2) == 1);
  // Index 2's first step is the first step of the reference, whatever index 0 did.
  CHECK(b[0] == Approx(0.99000003162267658).epsilon(1e-12));
  REQUIRE(adam.states().size() == 3);
  adam.reset_states();
  CHECK(adam.step_count(0) == 0);
}

TEST_CASE("an update after the first allocates nothing", "[optim]") {
  const std::vector<std::pair<std::string, optim::Options>> configs = {
      {"sgd", {{"momentum", 0.9}, {"clip_gradient", 1.0}}},
      {"adam", {{"clip_gradient", 1.0}, {"wd", 0.1}}},
      {"adamw", {{"clip_gradient", 1.0}}}};
  for (const auto& [name, options] : configs) {
    INFO(name);
    auto opt = optim::create(name, options);
    std::vector<float> w(1000, 1.0f), g(1000, 0.5f);
    opt->update(3, w.data(), g.data(), 1000, 0.5);  // allocates the state
    const long before = testing::allocations();
    for (int i = 0; i < 10; ++i) opt->update(3, w.data(), g.data(), 1000, 0.5);
    CHECK(testing::allocations() == before);
  }
}

TEST_CASE("options by Gluon's names, their defaults and the learning rate", "[optim]") {
  auto sgd = optim::create("SGD");  // any case, as Gluon
  CHECK(sgd->name() == "sgd");
  CHECK(sgd->options() == optim::Options{{"learning_rate", 0.01},
                                         {"wd", 0.0},
                                         {"clip_gradient", -1.0},
                                         {"rescale_grad", 1.0},
                                         {"momentum", 0.0}});
  CHECK(sgd->state_names().empty());

  auto adam = optim::create("Adam");
  CHECK(adam->options() == optim::Options{{"learning_rate", 0.001},
                                          {"wd", 0.0},
                                          {"clip_gradient", -1.0},
                                          {"rescale_grad", 1.0},
                                          {"beta1", 0.9},
                                          {"beta2", 0.999},
                                          {"epsilon", 1e-8}});
  CHECK(adam->state_names() == std::vector<std::string>{"mean", "var"});
  CHECK(optim::create("adamw")->wd() == 0.01);  // PyTorch's default

  optim::SGD typed({{"learning_rate", 0.5}, {"momentum", 0.9}});
  CHECK(typed.learning_rate() == 0.5);
  CHECK(typed.momentum() == 0.9);
  CHECK(typed.state_names() == std::vector<std::string>{"momentum"});
  typed.set_learning_rate(0.25);
  CHECK(typed.learning_rate() == 0.25);
  typed.set_option("momentum", 0.5);
  CHECK(typed.option("momentum") == 0.5);
  typed.set_option("clip_gradient", -1);  // off again
  CHECK(typed.clip_gradient() == -1);

  // The learning rate takes effect on the next update.
  double w = 1, g = 1;
  optim::SGD plain({{"learning_rate", 0.1}});
  plain.update(0, &w, &g, 1);
  CHECK(w == Approx(0.9));
  plain.set_learning_rate(0.2);
  plain.update(0, &w, &g, 1);
  CHECK(w == Approx(0.7));
  plain.set_learning_rate(0);
  plain.update(0, &w, &g, 1);
  CHECK(w == Approx(0.7));
}

TEST_CASE("unknown optimizers and options name themselves and the valid ones", "[optim][errors]") {
  CHECK_THROWS_MATCHES(optim::create("rmsprop"), Error,
                       Catch::Message("optim::create: unknown optimizer 'rmsprop'; valid optimizers: sgd, adam, adamw"));
  CHECK_THROWS_MATCHES(
      optim::create("sgd", {{"beta1", 0.9}}), Error,
      Catch::Message("optimizer 'sgd': unknown option 'beta1'; valid options: learning_rate, wd, clip_gradient, "
                     "rescale_grad, momentum"));
  CHECK_THROWS_MATCHES(
      optim::create("adam", {{"lr", 0.1}}), Error,
      Catch::Message("optimizer 'adam': unknown option 'lr'; valid options: learning_rate, wd, clip_gradient, "
                     "rescale_grad, beta1, beta2, epsilon"));
  CHECK_THROWS_MATCHES(optim::AdamW({{"momentum", 0.9}}), Error,
                       Catch::Message("optimizer 'adamw': unknown option 'momentum'; valid options: learning_rate, wd, "
                                      "clip_gradient, rescale_grad, beta1, beta2, epsilon"));
  optim::SGD sgd;
  CHECK_THROWS_AS(sgd.option("epsilon"), Error);
  CHECK_THROWS_WITH(sgd.option("epsilon"), Contains("optimizer 'sgd': unknown option 'epsilon'"));
  CHECK_THROWS_AS(sgd.set_option("beta2", 0.5), Error);
  CHECK_THROWS_WITH(sgd.set_option("beta2", 0.5), Contains("optimizer 'sgd': unknown option 'beta2'"));
}

TEST_CASE("invalid option values are refused and change nothing", "[optim][errors]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  CHECK_THROWS_MATCHES(optim::create("sgd", {{"learning_rate", -0.1}}), Error,
                       Catch::Message("optimizer 'sgd': option 'learning_rate' must be finite and >= 0, got -0.1"));
  CHECK_THROWS_MATCHES(optim::create("sgd", {{"learning_rate", inf}}), Error,
                       Catch::Message("optimizer 'sgd': option 'learning_rate' must be finite and >= 0, got inf"));
  CHECK_THROWS_MATCHES(optim::create("sgd", {{"learning_rate", nan}}), Error,
                       Catch::Message("optimizer 'sgd': option 'learning_rate' must be a number, got nan"));
  CHECK_THROWS_MATCHES(optim::create("adam", {{"beta1", 1.0}}), Error,
                       Catch::Message("optimizer 'adam': option 'beta1' must be in [0, 1), got 1"));
  CHECK_THROWS_MATCHES(optim::create("adamw", {{"beta2", -0.5}}), Error,
                       Catch::Message("optimizer 'adamw': option 'beta2' must be in [0, 1), got -0.5"));
  CHECK_THROWS_MATCHES(optim::create("adam", {{"epsilon", -1e-8}}), Error,
                       Catch::Message("optimizer 'adam': option 'epsilon' must be finite and >= 0, got -1e-08"));
  CHECK_THROWS_MATCHES(optim::create("sgd", {{"wd", -1e-4}}), Error,
                       Catch::Message("optimizer 'sgd': option 'wd' must be finite and >= 0, got -0.0001"));
  CHECK_THROWS_MATCHES(optim::create("sgd", {{"momentum", -0.9}}), Error,
                       Catch::Message("optimizer 'sgd': option 'momentum' must be finite and >= 0, got -0.9"));
  CHECK_THROWS_MATCHES(optim::create("sgd", {{"rescale_grad", 0}}), Error,
                       Catch::Message("optimizer 'sgd': option 'rescale_grad' must be finite and > 0, got 0"));
  CHECK_THROWS_MATCHES(optim::create("sgd", {{"clip_gradient", nan}}), Error,
                       Catch::Message("optimizer 'sgd': option 'clip_gradient' must be a number, got nan"));

  optim::SGD sgd({{"learning_rate", 0.1}});
  CHECK_THROWS_MATCHES(sgd.set_learning_rate(-1), Error,
                       Catch::Message("optimizer 'sgd': option 'learning_rate' must be finite and >= 0, got -1"));
  CHECK(sgd.learning_rate() == 0.1);
  CHECK_THROWS_MATCHES(sgd.set_option("momentum", 0.9), Error,
                       Catch::Message("optimizer 'sgd': option 'momentum' cannot change between 0 and non-zero after "
                                      "construction (it decides whether a momentum state exists), got 0.9"));
  CHECK(sgd.momentum() == 0);
}

TEST_CASE("updates that do not fit the state are refused", "[optim][errors]") {
  optim::Adam adam;
  std::vector<float> w(4, 1.0f), g(4, 0.1f);
  std::vector<double> wd(4, 1.0), gd(4, 0.1);
  adam.update(0, w.data(), g.data(), 4);
  const optim::ParamState before = *adam.state(0);
  CHECK_THROWS_MATCHES(adam.update(0, w.data(), g.data(), 3), Error,
                       Catch::Message("optimizer 'adam': update of parameter 0: its state holds 4 elements but the "
                                      "update has 3"));
  CHECK_THROWS_MATCHES(adam.update(0, wd.data(), gd.data(), 4), Error,
                       Catch::Message("optimizer 'adam': update of parameter 0: its state is float32 but the update is "
                                      "float64"));
  CHECK_THROWS_MATCHES(adam.update(1, w.data(), g.data(), -1), Error,
                       Catch::Message("optimizer 'adam': update of parameter 1: negative element count -1"));
  CHECK_THROWS_MATCHES(adam.update(1, w.data(), g.data(), 4, 0.0), Error,
                       Catch::Message("optimizer 'adam': update of parameter 1: grad_scale must be finite and > 0, "
                                      "got 0"));
  CHECK(*adam.state(0) == before);  // refused updates change nothing
  CHECK(adam.step_count(0) == 1);
  CHECK_THROWS_MATCHES(adam.state_data<float>(0, "momentum"), Error,
                       Catch::Message("optimizer 'adam': no state named 'momentum' (states: mean, var)"));
  CHECK_THROWS_MATCHES(adam.state_data<double>(0, "mean"), Error,
                       Catch::Message("optimizer 'adam': the state of parameter 0 is float32, not float64"));
  CHECK_THROWS_MATCHES(adam.state_data<float>(7, "mean"), Error,
                       Catch::Message("optimizer 'adam': parameter 7 has no state yet"));
}

TEST_CASE("an empty parameter updates without touching memory", "[optim]") {
  optim::SGD sgd({{"momentum", 0.9}});
  sgd.update(0, static_cast<float*>(nullptr), nullptr, 0);
  CHECK(sgd.step_count(0) == 1);
  CHECK(sgd.state(0)->size == 0);
}
