// Trainer over a small two-layer Dense model: steps against the optimizer's
// formulas, stale gradients (an error naming every parameter, or skipped
// with ignore_stale_grad), grad_req "null", the learning rate, in-place
// updates versus published copies, and optimizer states saved and loaded,
// including every mismatched or corrupt file (which must change nothing).
//
// Gradients come from backward() on the parameter's value itself (a leaf:
// backward(head_grad) writes head_grad into its gradient and marks it
// fresh), or are written into the grad() buffers directly.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../allocation_counter.hpp"
#include "../support/files.hpp"

using Catch::Contains;
using hybrid::Error;
using hybrid::FormatError;
using hybrid::Shape;
using hybrid::TensorT;
namespace nn = hybrid::nn;
namespace optim = hybrid::optim;
namespace st = hybrid::io::safetensors;
using testing::TempDir;

namespace {

/// 0.weight (3, 4), 0.bias (3,), 1.weight (2, 3), 1.bias (2,).
template <class T = float>
nn::HybridSequentialT<T> make_net(uint64_t seed = 7) {
  nn::HybridSequentialT<T> net;
  net.add(nn::DenseT<T>(3, "", true, 4), nn::DenseT<T>(2, "", true, 3));
  hybrid::random::seed(seed);
  net.initialize(nn::init::Normal(1.0));
  for (const auto& p : net.collect_params())
    if (p->name().find("bias") != std::string::npos) p->set_data(hybrid::random::normal<T>(p->shape()));
  return net;
}

template <class T>
using ParamPtr = std::shared_ptr<nn::ParameterT<T>>;

/// A backward that writes `g` into p's gradient (p's value is the head).
template <class T>
void backward_with(const ParamPtr<T>& p, const TensorT<T>& g) {
  p->data().backward(g);
}

/// Gradients for every parameter, deterministic per seed.
template <class T>
std::map<std::string, TensorT<T>> make_grads(const nn::ParameterDictT<T>& params, uint64_t seed) {
  hybrid::random::seed(seed);
  std::map<std::string, TensorT<T>> grads;
  for (const auto& p : params) grads[p->name()] = hybrid::random::normal<T>(p->shape());
  return grads;
}

template <class T>
void backward_all(const nn::ParameterDictT<T>& params, const std::map<std::string, TensorT<T>>& grads) {
  for (const auto& p : params) backward_with(p, grads.at(p->name()));
}

template <class T>
std::vector<T> values(const ParamPtr<T>& p) {
  return p->data().to_vector();
}

template <class T>
std::map<std::string, std::vector<T>> all_values(const nn::ParameterDictT<T>& params) {
  std::map<std::string, std::vector<T>> v;
  for (const auto& p : params) v[p->name()] = values(p);
  return v;
}

}  // namespace

TEMPLATE_TEST_CASE("step applies SGD with gradients scaled by rescale_grad / batch_size", "[trainer]", float,
                   double) {
  using T = TestType;
  auto net = make_net<T>();
  const auto params = net.collect_params();
  nn::TrainerT<T> trainer(params, "sgd", {{"learning_rate", 0.1}, {"rescale_grad", 2.0}});
  const auto before = all_values(params);
  const auto grads = make_grads(params, 11);
  backward_all(params, grads);
  trainer.step(4);  // effective scale 2 / 4 = 0.5
  for (const auto& p : params) {
    INFO(p->name());
    const std::vector<T> g = grads.at(p->name()).to_vector();
    const std::vector<T> now = values(p);
    for (size_t i = 0; i < now.size(); ++i)
      CHECK(now[i] == Approx(double(before.at(p->name())[i]) - 0.1 * 0.5 * double(g[i])).epsilon(1e-6));
  }
}

TEST_CASE("the Trainer's constructors: optimizer names with options, or optimizer objects", "[trainer]") {
  auto net = make_net();
  nn::Trainer by_name(net.collect_params(), "sgd", {{"learning_rate", 0.1}, {"momentum", 0.9}});
  CHECK(by_name.optimizer().name() == "sgd");
  CHECK(by_name.learning_rate() == 0.1);
  CHECK(by_name.params().size() == 4);

  auto adam = std::make_shared<optim::Adam>(optim::Options{{"learning_rate", 0.003}});
  nn::Trainer typed(net.collect_params(), adam);
  CHECK(&typed.optimizer() == adam.get());
  CHECK(typed.learning_rate() == 0.003);

  CHECK_THROWS_MATCHES(nn::Trainer(net.collect_params(), "adagrad"), Error,
                       Catch::Message("optim::create: unknown optimizer 'adagrad'; valid optimizers: sgd, adam, adamw"));
  CHECK_THROWS_MATCHES(nn::Trainer(net.collect_params(), "sgd", {{"beta1", 0.9}}), Error,
                       Catch::Message("optimizer 'sgd': unknown option 'beta1'; valid options: learning_rate, wd, "
                                      "clip_gradient, rescale_grad, momentum"));
  CHECK_THROWS_MATCHES(nn::Trainer(net.collect_params(), std::shared_ptr<optim::Optimizer>()), Error,
                       Catch::Message("Trainer: the optimizer is null"));
}

TEST_CASE("a step without backward throws naming every stale parameter and changes nothing", "[trainer]") {
  auto net = make_net();
  const auto params = net.collect_params();
  nn::Trainer trainer(params, "sgd", {{"learning_rate", 0.1}});
  const auto before = all_values(params);
  CHECK_THROWS_MATCHES(trainer.step(1), Error,
                       Catch::Message("Trainer::step: no backward() wrote the gradient of 0.weight, 0.bias, 1.weight, "
                                      "1.bias since the last step (stale gradients); run backward() first, or pass "
                                      "ignore_stale_grad = true to skip those parameters. Nothing was updated"));
  // One fresh gradient: the others are still stale, and the fresh one is not
  // updated either (all checks come before any update).
  backward_with(params["1.weight"], hybrid::ones<float>({2, 3}));
  CHECK_THROWS_AS(trainer.step(1), Error);
  CHECK_THROWS_WITH(trainer.step(1), Contains("no backward() wrote the gradient of 0.weight, 0.bias, 1.bias since"));
  CHECK(all_values(params) == before);
  CHECK(trainer.optimizer().step_count(2) == 0);

  // After a full backward and step, the gradients are stale again.
  backward_all(params, make_grads(params, 3));
  trainer.step(1);
  CHECK(all_values(params) != before);
  CHECK_THROWS_AS(trainer.step(1), Error);
  CHECK_THROWS_WITH(trainer.step(1), Contains("gradient of 0.weight, 0.bias, 1.weight, 1.bias since"));
}

TEST_CASE("ignore_stale_grad skips the parameters no backward wrote, as Gluon", "[trainer]") {
  auto net = make_net();
  const auto params = net.collect_params();
  nn::Trainer trainer(params, "sgd", {{"learning_rate", 0.5}});
  const auto before = all_values(params);
  // Writing into the grad() buffer is not a backward: the gradient stays stale.
  auto g = params["0.bias"]->grad();
  for (int64_t i = 0; i < g.size(); ++i) g.data()[i] = 1.0f;
  backward_with(params["1.bias"], hybrid::full<float>({2}, 2.0f));
  trainer.step(1, /*ignore_stale_grad=*/true);
  CHECK(values(params["0.weight"]) == before.at("0.weight"));
  CHECK(values(params["0.bias"]) == before.at("0.bias"));
  CHECK(values(params["1.weight"]) == before.at("1.weight"));
  const auto b = values(params["1.bias"]);
  for (size_t i = 0; i < b.size(); ++i) CHECK(b[i] == Approx(before.at("1.bias")[i] - 0.5f * 2.0f));
  CHECK(trainer.optimizer().step_count(3) == 1);
  CHECK(trainer.optimizer().step_count(0) == 0);
  // Everything is stale now: a step with ignore_stale_grad does nothing.
  trainer.step(1, true);
  CHECK(values(params["1.bias"]) == b);
}

TEST_CASE("gradients written into grad() buffers, marked fresh, drive the step", "[trainer]") {
  auto net = make_net();
  const auto params = net.collect_params();
  nn::Trainer trainer(params, "sgd", {{"learning_rate", 0.1}, {"momentum", 0.9}});
  const auto before = all_values(params);
  for (const auto& p : params) {
    TensorT<float> g = p->grad();
    for (int64_t i = 0; i < g.size(); ++i) g.data()[i] = 0.25f * float(i + 1);
    nn::detail::ParameterAccess::grad_meta(*p)->fresh = true;  // what backward() does
  }
  trainer.step(1);
  for (const auto& p : params) {
    const auto now = values(p);
    for (size_t i = 0; i < now.size(); ++i)
      CHECK(now[i] == Approx(before.at(p->name())[i] - 0.1f * 0.25f * float(i + 1)));
    CHECK_FALSE(nn::detail::ParameterAccess::grad_meta(*p)->fresh);  // cleared by the step
  }
}

TEST_CASE("learning_rate and set_learning_rate change the next step", "[trainer]") {
  auto net = make_net();
  const auto params = net.collect_params();
  const auto w = params["0.bias"];
  nn::Trainer trainer(params, "sgd", {{"learning_rate", 0.1}});
  CHECK(trainer.learning_rate() == 0.1);
  const float start = values(w)[0];
  backward_with(w, hybrid::ones<float>({3}));
  trainer.step(1, true);
  CHECK(values(w)[0] == Approx(start - 0.1f));
  trainer.set_learning_rate(0.5);
  CHECK(trainer.learning_rate() == 0.5);
  CHECK(trainer.optimizer().learning_rate() == 0.5);
  backward_with(w, hybrid::ones<float>({3}));
  trainer.step(1, true);
  CHECK(values(w)[0] == Approx(start - 0.6f));
  CHECK_THROWS_MATCHES(trainer.set_learning_rate(-0.5), Error,
                       Catch::Message("optimizer 'sgd': option 'learning_rate' must be finite and >= 0, got -0.5"));
  CHECK(trainer.learning_rate() == 0.5);
}

TEST_CASE("parameters with grad_req \"null\" are skipped and never stale", "[trainer]") {
  auto net = make_net();
  const auto params = net.collect_params();
  params["0.weight"]->set_grad_req("null");
  params["1.bias"]->set_grad_req("null");
  nn::Trainer trainer(params, "adam", {{"learning_rate", 0.01}});
  const auto before = all_values(params);
  backward_with(params["0.bias"], hybrid::ones<float>({3}));
  backward_with(params["1.weight"], hybrid::ones<float>({2, 3}));
  trainer.step(1);  // no stale error for the null ones
  CHECK(values(params["0.weight"]) == before.at("0.weight"));
  CHECK(values(params["1.bias"]) == before.at("1.bias"));
  CHECK(values(params["0.bias"]) != before.at("0.bias"));
  CHECK(values(params["1.weight"]) != before.at("1.weight"));
  CHECK(trainer.optimizer().state(0) == nullptr);
  CHECK(trainer.optimizer().state(3) == nullptr);
}

TEST_CASE("a held value handle keeps its values: the step publishes a copy; otherwise it updates in place",
          "[trainer]") {
  auto net = make_net();
  const auto params = net.collect_params();
  const auto p = params["0.weight"];
  nn::Trainer trainer(params, "sgd", {{"learning_rate", 0.1}, {"momentum", 0.5}});

  SECTION("held handle") {
    const TensorT<float> held = p->data();
    const std::vector<float> old = held.to_vector();
    backward_with(p, hybrid::ones<float>({3, 4}));
    trainer.step(1, true);
    CHECK(held.to_vector() == old);          // the handle still reads the old values
    CHECK(p->data().data() != held.data());  // a new value was published
    const auto now = values(p);
    for (size_t i = 0; i < now.size(); ++i) CHECK(now[i] == Approx(old[i] - 0.1f));
  }
  SECTION("no handle: in place, and no allocation after the first step") {
    const float* storage = p->data().data();
    const std::vector<float> old = values(p);
    backward_all(params, make_grads(params, 5));
    trainer.step(1);  // allocates the states
    CHECK(p->data().data() == storage);
    CHECK(values(p) != old);
    backward_all(params, make_grads(params, 6));
    const long allocations = testing::allocations();
    trainer.step(1);
    CHECK(testing::allocations() == allocations);
    CHECK(p->data().data() == storage);
  }
}

TEST_CASE("a value saved by a recorded graph is not overwritten by a step", "[trainer]") {
  auto net = make_net();
  const auto params = net.collect_params();
  const auto p = params["0.bias"];
  nn::Trainer trainer(params, "sgd", {{"learning_rate", 0.1}});
  TensorT<float> y;
  {
    auto rec = hybrid::autograd::record();
    y = p->data() * 2.0f;  // the tape saves p's value for a later backward
  }
  const float* saved = p->data().data();
  const std::vector<float> old = values(p);
  backward_with(p, hybrid::ones<float>({3}));
  trainer.step(1, true);
  CHECK(p->data().data() != saved);
  CHECK(std::vector<float>(saved, saved + 3) == old);
}

TEST_CASE("step refuses an optimizer whose state does not fit, before updating anything", "[trainer]") {
  // One optimizer shared by two trainers (which it should not be): index 0
  // holds the state of a (3, 4) weight when a (2, 5) one arrives.
  nn::HybridSequential small;
  small.add(nn::Dense(2, "", true, 5));
  small.initialize();
  auto net = make_net();
  auto sgd = std::make_shared<optim::SGD>(optim::Options{{"momentum", 0.9}});
  nn::Trainer first(net.collect_params(), sgd), second(small.collect_params(), sgd);
  backward_all(net.collect_params(), make_grads(net.collect_params(), 1));
  first.step(1);
  const auto params = small.collect_params();
  backward_all(params, make_grads(params, 2));
  const auto before = all_values(params);
  CHECK_THROWS_MATCHES(second.step(1), Error,
                       Catch::Message("Trainer::step: the optimizer's state does not fit 0.weight (10 values, its "
                                      "state 12 float32), 0.bias (2 values, its state 3 float32). Nothing was "
                                      "updated"));
  CHECK(all_values(params) == before);
}

TEST_CASE("step refuses a batch size below 1 and uninitialized parameters", "[trainer]") {
  auto net = make_net();
  nn::Trainer trainer(net.collect_params(), "sgd");
  CHECK_THROWS_MATCHES(trainer.step(0), Error, Catch::Message("Trainer::step: batch_size must be positive, got 0"));

  nn::HybridSequential deferred;
  deferred.add(nn::Dense(2));  // in_units unknown until the first forward
  deferred.initialize();
  nn::Trainer waiting(deferred.collect_params(), "sgd");
  backward_with(deferred.collect_params()["0.bias"], hybrid::ones<float>({2}));
  CHECK_THROWS_MATCHES(waiting.step(1), Error,
                       Catch::Message("Trainer::step: parameters not initialized: 0.weight (call initialize() and, for "
                                      "deferred shapes, run one forward pass). Nothing was updated"));
}

TEMPLATE_TEST_CASE("states round-trip: save, load into a new trainer, identical next update", "[trainer][states]",
                   float, double) {
  using T = TestType;
  TempDir dir;
  const std::vector<std::pair<std::string, optim::Options>> configs = {
      {"sgd", {{"learning_rate", 0.1}, {"momentum", 0.9}}},
      {"sgd", {{"learning_rate", 0.1}}},
      {"adam", {{"learning_rate", 0.01}, {"wd", 0.01}}},
      {"adamw", {{"learning_rate", 0.01}}}};
  for (const auto& [name, options] : configs) {
    INFO(name);
    auto a = make_net<T>(), b = make_net<T>(99);
    const auto pa = a.collect_params(), pb = b.collect_params();
    nn::TrainerT<T> ta(pa, name, options), tb(pb, name, options);
    for (uint64_t s = 0; s < 2; ++s) {
      backward_all(pa, make_grads(pa, 20 + s));
      ta.step(2);
    }
    const std::string path = dir.file(name + ".states");
    ta.save_states(path);
    tb.load_states(path);
    CHECK(tb.optimizer().states() == ta.optimizer().states());
    // Same weights, same states: the next updates agree bit for bit.
    for (const auto& p : pa) pb[p->name()]->set_data(p->data());
    backward_all(pa, make_grads(pa, 30));
    backward_all(pb, make_grads(pb, 30));
    ta.step(2);
    tb.step(2);
    CHECK(all_values(pa) == all_values(pb));
    CHECK(tb.optimizer().states() == ta.optimizer().states());
    CHECK(tb.optimizer().step_count(0) == 3);
  }
}

TEST_CASE("the states file: entries, dtypes, shapes and metadata", "[trainer][states]") {
  TempDir dir;
  auto net = make_net();
  const auto params = net.collect_params();
  params["1.bias"]->set_grad_req("null");
  nn::Trainer trainer(params, "adam", {{"learning_rate", 0.01}});
  for (const auto& name : {"0.weight", "0.bias", "1.weight"})
    backward_with(params[name], hybrid::ones<float>(params[name]->shape()));
  trainer.step(1);
  const std::string path = dir.file("adam.states");
  trainer.save_states(path);
  const st::File file = st::read(path);
  CHECK(file.metadata().at("optimizer") == "adam");
  CHECK(file.metadata().at("steps.0.weight") == "1");
  CHECK(file.metadata().at("steps.1.bias") == "0");
  CHECK(file.metadata().at("option.learning_rate") == "0.01");
  std::vector<std::string> names;
  for (const auto& t : file.tensors()) names.push_back(t.name);
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"0.bias.mean", "0.bias.var", "0.weight.mean", "0.weight.var",
                                          "1.weight.mean", "1.weight.var"});
  CHECK(file.find("0.weight.var")->shape == Shape{3, 4});
  CHECK(file.find("0.weight.var")->dtype == hybrid::DType::float32);
}

namespace {

/// Rewrites the states file `from` into `to` after `edit` changes its tensors or metadata.
void rewrite(const std::string& from, const std::string& to,
             const std::function<void(std::map<std::string, TensorT<float>>&, std::map<std::string, std::string>&)>&
                 edit) {
  const st::File file = st::read(from);
  std::map<std::string, TensorT<float>> tensors;
  for (const auto& t : file.tensors()) tensors[t.name] = file.tensor<float>(t);
  std::map<std::string, std::string> metadata = file.metadata();
  edit(tensors, metadata);
  std::vector<st::Entry> entries;
  for (const auto& [name, t] : tensors) entries.push_back(st::entry(name, t));
  st::write(to, entries, metadata);
}

/// Saves to `path` the states of a `name` trainer over Dense layers
/// (units, in_units), after one step.
void save_trained(const std::string& path, const std::string& name,
                  const std::vector<std::pair<int64_t, int64_t>>& layers) {
  nn::HybridSequential net;
  for (const auto& [units, in] : layers) net.add(nn::Dense(units, "", true, in));
  net.initialize();
  const auto params = net.collect_params();
  nn::Trainer trainer(params, name, {{"learning_rate", 0.01}, {"wd", 0.0}});
  backward_all(params, make_grads(params, 1));
  trainer.step(1);
  trainer.save_states(path);
}

}  // namespace

TEST_CASE("a states file that does not fit throws FormatError naming the file and entry, changing nothing",
          "[trainer][states]") {
  TempDir dir;
  auto net = make_net();
  const auto params = net.collect_params();
  nn::Trainer trainer(params, "adam", {{"learning_rate", 0.01}});
  backward_all(params, make_grads(params, 1));
  trainer.step(1);
  const std::string good = dir.file("good.states");
  trainer.save_states(good);
  // Move on, so that the states differ from the file's.
  backward_all(params, make_grads(params, 2));
  trainer.step(1);
  const std::vector<optim::ParamState> before = trainer.optimizer().states();
  const auto weights = all_values(params);
  const std::string bad = dir.file("bad.states");
  auto expect = [&](const std::string& message) {
    CHECK_THROWS_MATCHES(trainer.load_states(bad), FormatError,
                         Catch::Message("Trainer::load_states('" + bad + "'): " + message + ". Nothing was loaded"));
    CHECK(trainer.optimizer().states() == before);
    CHECK(all_values(params) == weights);
    CHECK(trainer.learning_rate() == 0.01);
  };

  SECTION("another optimizer") {
    save_trained(bad, "sgd", {{3, 4}, {2, 3}});
    expect("the file holds the states of optimizer 'sgd' but this trainer uses 'adam'");
  }
  SECTION("a parameter the trainer lacks") {
    save_trained(bad, "adam", {{3, 4}, {2, 3}, {2, 2}});
    expect("metadata 'steps.2.bias': this trainer has no parameter '2.bias'");
  }
  SECTION("a parameter the file lacks") {
    save_trained(bad, "adam", {{3, 4}});
    expect("parameter '1.weight' is missing (no 'steps.1.weight' metadata)");
  }
  SECTION("a shape that does not fit") {
    save_trained(bad, "adam", {{3, 5}, {2, 3}});
    expect("entry '0.weight.mean' has shape (3, 5) but parameter '0.weight' has shape (3, 4)");
  }
  SECTION("another dtype") {
    auto other = make_net<double>();
    const auto op = other.collect_params();
    nn::TrainerT<double> t(op, "adam");
    backward_all(op, make_grads(op, 1));
    t.step(1);
    t.save_states(bad);
    expect("entry '0.weight.mean' is float64 but parameter '0.weight' is float32");
  }
  SECTION("a missing entry") {
    rewrite(good, bad, [](auto& tensors, auto&) { tensors.erase("1.bias.var"); });
    expect("entry '1.bias.var' is missing");
  }
  SECTION("an unexpected entry") {
    rewrite(good, bad, [](auto& tensors, auto&) { tensors["0.weight.momentum"] = hybrid::zeros<float>({3, 4}); });
    expect("unexpected entry '0.weight.momentum' (not a state of a parameter of this trainer with a step count "
           "above 0)");
  }
  SECTION("an entry of a parameter whose step count is 0") {
    rewrite(good, bad, [](auto&, auto& metadata) { metadata["steps.0.bias"] = "0"; });
    expect("unexpected entry '0.bias.mean' (not a state of a parameter of this trainer with a step count above 0)");
  }
  SECTION("a step count that is not a number") {
    rewrite(good, bad, [](auto&, auto& metadata) { metadata["steps.0.bias"] = "-1"; });
    expect("metadata 'steps.0.bias' is '-1', not a step count");
  }
  SECTION("not a states file") {
    net.save_parameters(bad);
    expect("no 'optimizer' in the metadata: not a trainer states file");
  }
  SECTION("a corrupt file") {
    const std::string bytes = testing::read_bytes(good);
    testing::write_bytes(bad, bytes.substr(0, bytes.size() - 4));
    CHECK_THROWS_AS(trainer.load_states(bad), FormatError);
    CHECK_THROWS_WITH(trainer.load_states(bad), Contains("safetensors file '" + bad + "'") && Contains("out of range"));
    CHECK(trainer.optimizer().states() == before);
  }
  SECTION("no file") {
    CHECK_THROWS_MATCHES(trainer.load_states(dir.file("none")), Error,
                         Catch::Message("cannot read '" + dir.file("none") + "': no such regular file"));
    CHECK(trainer.optimizer().states() == before);
  }
  SECTION("the good file loads") {
    trainer.load_states(good);
    CHECK(trainer.optimizer().states() != before);
    CHECK(trainer.optimizer().step_count(0) == 1);
  }
}
