// Blocks: the chapter's get_net() and HybridNet, structural parameter names,
// initialization, containers, hybridize flags, hooks and summary().
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>

#include <cmath>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

using Catch::Contains;
using hybrid::Error;
using hybrid::Shape;
using hybrid::Tensor;
using hybrid::TensorT;
namespace nn = hybrid::nn;

namespace {

// The seed chapter's network factory, written as in Gluon.
nn::HybridSequential get_net() {
  nn::HybridSequential net;
  net.add(nn::Dense(256, "relu"), nn::Dense(128, "relu"), nn::Dense(2));
  net.initialize();
  return net;
}

// The chapter's custom block: two Dense children, relu between, a print in forward.
class HybridNet : public nn::HybridBlock {
 public:
  HybridNet() {
    hidden = register_block("hidden", nn::Dense(4));
    output = register_block("output", nn::Dense(2));
  }
  Tensor forward(const Tensor& x) override {
    std::cout << "value  x: " << x << "\n";
    Tensor h = hybrid::relu((*hidden)(x));
    return (*output)(h);
  }
  std::shared_ptr<nn::Dense> hidden, output;
};

// A plain (non-hybrid) block.
class Doubler : public nn::Block {
 public:
  Tensor forward(const Tensor& x) override { return x * 2.0f; }
  std::string type_name() const override { return "Doubler"; }
};

/// Captures std::cout for the lifetime of the object.
class CoutCapture {
 public:
  CoutCapture() : old_(std::cout.rdbuf(buf_.rdbuf())) {}
  ~CoutCapture() { std::cout.rdbuf(old_); }
  std::string text() const { return buf_.str(); }

 private:
  std::ostringstream buf_;
  std::streambuf* old_;
};

template <class T>
std::vector<std::string> names_of(const nn::ParameterDictT<T>& params) {
  std::vector<std::string> names;
  for (const auto& p : params) names.push_back(p->name());
  return names;
}

}  // namespace

TEST_CASE("get_net: the seed MLP's parameter names, shapes and count", "[nn][block]") {
  hybrid::random::seed(1);
  nn::HybridSequential net = get_net();  // moved out of the factory
  CHECK(net.size() == 3);
  const auto params = net.collect_params();
  CHECK(names_of(params) == std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias"});
  // in_units are deferred until the first input.
  CHECK(params["0.weight"]->shape() == Shape{256, 0});
  CHECK(params["0.weight"]->is_deferred());

  const Tensor y = net(hybrid::random::normal<float>({1, 512}));
  CHECK(y.shape() == Shape{1, 2});
  CHECK(params["0.weight"]->shape() == Shape{256, 512});
  CHECK(params["1.weight"]->shape() == Shape{128, 256});
  CHECK(params["2.weight"]->shape() == Shape{2, 128});
  CHECK(params["2.bias"]->shape() == Shape{2});
  CHECK(params.count() == 164482);
  CHECK_THROWS_AS(params["3.weight"], Error);
  CHECK_THROWS_WITH(params["3.weight"], Contains("no parameter named '3.weight'") && Contains("0.weight"));
}

TEST_CASE("HybridNet: structural names, forward against hand-written math, the print runs", "[nn][block]") {
  hybrid::random::seed(2);
  HybridNet net;
  net.initialize();
  CHECK(names_of(net.collect_params()) ==
        std::vector<std::string>{"hidden.weight", "hidden.bias", "output.weight", "output.bias"});
  CHECK(net.children().size() == 2);
  CHECK(net.children()[0].first == "hidden");
  CHECK(net.children()[0].second.get() == net.hidden.get());

  const Tensor x = hybrid::random::normal<float>({3, 5});
  Tensor y;
  {
    CoutCapture capture;
    y = net(x);
    CHECK(capture.text().rfind("value  x: ", 0) == 0);
  }
  CHECK(y.shape() == Shape{3, 2});
  // Give the biases values so they take part.
  net.hidden->bias()->set_data(hybrid::random::normal<float>({4}));
  net.output->bias()->set_data(hybrid::random::normal<float>({2}));
  {
    CoutCapture quiet;
    y = net(x);
  }
  const auto w1 = net.hidden->weight()->data(), b1 = net.hidden->bias()->data();
  const auto w2 = net.output->weight()->data(), b2 = net.output->bias()->data();
  for (int64_t n = 0; n < 3; ++n)
    for (int64_t o = 0; o < 2; ++o) {
      double acc = b2.at({o});
      for (int64_t h = 0; h < 4; ++h) {
        double hid = b1.at({h});
        for (int64_t k = 0; k < 5; ++k) hid += static_cast<double>(x.at({n, k})) * w1.at({h, k});
        acc += std::max(hid, 0.0) * w2.at({o, h});
      }
      CHECK(y.at({n, o}) == Approx(acc).epsilon(1e-5).margin(1e-6));
    }
}

TEST_CASE("Blocks: moving keeps parameter identity; names follow re-registration", "[nn][block]") {
  nn::HybridSequential a;
  a.add(nn::Dense(3, "", true, 2));
  const auto weight = a.collect_params()["0.weight"];
  nn::HybridSequential b = std::move(a);
  CHECK(b.collect_params()["0.weight"] == weight);

  // Registering a container renames its whole subtree.
  struct Outer : nn::HybridBlock {
    Outer() {
      nn::HybridSequential body;
      body.add(nn::Dense(3), nn::Dense(1));
      this->body = register_block("body", std::move(body));
      scale = register_parameter("scale", Shape{1});
    }
    Tensor forward(const Tensor& x) override { return (*body)(x)*scale->data(); }
    std::shared_ptr<nn::HybridSequential> body;
    std::shared_ptr<nn::Parameter> scale;
  };
  Outer outer;
  // Own parameters first, then children, as in Gluon.
  CHECK(names_of(outer.collect_params()) ==
        std::vector<std::string>{"scale", "body.0.weight", "body.0.bias", "body.1.weight", "body.1.bias"});
  CHECK(outer.body->prefix() == "body.");
  nn::Sequential root;
  root.add(std::move(outer));
  CHECK(names_of(root.collect_params()).front() == "0.scale");
  CHECK(names_of(root.collect_params()).back() == "0.body.1.bias");

  // A shared block appears once in collect_params.
  auto shared = std::make_shared<nn::Dense>(2, "", true, 2);
  nn::Sequential twice;
  twice.add(shared, shared);
  CHECK(twice.size() == 2);
  CHECK(twice.collect_params().size() == 2);
  CHECK(twice[0] == twice[1]);
}

TEST_CASE("Blocks: registration errors", "[nn][block]") {
  struct Custom : nn::Block {
    Tensor forward(const Tensor& x) override { return x; }
  };
  Custom c;
  c.register_parameter("w", Shape{2});
  CHECK_THROWS_WITH(c.register_parameter("w", Shape{3}), Contains("'w' is already used"));
  CHECK_THROWS_WITH(c.register_block("w", nn::Dense(1)), Contains("'w' is already used"));
  CHECK_THROWS_WITH(c.register_parameter("a.b", Shape{3}), Contains("invalid parameter name 'a.b'"));
  CHECK_THROWS_WITH(c.register_block("", nn::Dense(1)), Contains("invalid child block name"));
  CHECK_THROWS_WITH(c.register_block("x", std::shared_ptr<nn::Dense>()), Contains("null"));
  CHECK_THROWS_WITH(c.register_parameter("neg", Shape{-1}), Contains("negative dimension"));
  c.register_parameter("neg", Shape{1});  // a failed registration leaves the name free
  // Full dotted names, as an imported graph registers them, share the parameters' names.
  c.register_parameter_path("0.weight", Shape{2});
  CHECK_THROWS_WITH(c.register_parameter_path("0.weight", Shape{2}),
                    Contains("the name '0.weight' is already used by a parameter"));
  CHECK_THROWS_WITH(c.register_parameter_path("w", Shape{2}), Contains("the name 'w' is already used by a parameter"));
  CHECK_THROWS_WITH(c.register_parameter_path("", Shape{2}), Contains("must not be empty"));
  CHECK(c.collect_params().size() == 3);
}

TEST_CASE("initialize: Gluon's defaults, determinism, force_reinit", "[nn][block]") {
  auto make = [] {
    nn::HybridSequential net;
    net.add(nn::Dense(8, "relu", true, 16), nn::Dense(4, "", true, 8));
    return net;
  };
  hybrid::random::seed(5);
  nn::HybridSequential a = make();
  a.initialize();
  for (const auto& p : a.collect_params()) {
    REQUIRE(p->is_initialized());
    const auto v = p->data().to_vector();
    if (p->name().find("bias") != std::string::npos) {
      CHECK(v == std::vector<float>(v.size(), 0.0f));  // Dense biases start at zero
    } else {
      for (float x : v) CHECK(std::abs(x) <= 0.07f);  // Uniform(0.07)
      CHECK(*std::max_element(v.begin(), v.end()) > 0.03f);
    }
  }
  hybrid::random::seed(5);
  nn::HybridSequential b = make();
  b.initialize();
  hybrid::random::seed(6);
  nn::HybridSequential c = make();
  c.initialize();
  const auto w = a.collect_params()["0.weight"]->data().to_vector();
  CHECK(b.collect_params()["0.weight"]->data().to_vector() == w);
  CHECK(c.collect_params()["0.weight"]->data().to_vector() != w);

  // Without force_reinit an initialized parameter keeps its values; with it,
  // new values are published in new storage, and a handle taken before keeps
  // the old values (a call in flight finishes with them).
  const Tensor before = a.collect_params()["0.weight"]->data();
  a.initialize(nn::init::One());
  CHECK(a.collect_params()["0.weight"]->data().data() == before.data());
  a.initialize(nn::init::One(), true);
  CHECK(a.collect_params()["0.weight"]->data().to_vector() == std::vector<float>(w.size(), 1.0f));
  CHECK(a.collect_params()["0.weight"]->data().data() != before.data());
  CHECK(before.to_vector() == w);
  CHECK(a.collect_params()["0.bias"]->data().to_vector() == std::vector<float>(8, 0.0f));
}

TEMPLATE_TEST_CASE("init: every initializer, float and double", "[nn][block]", float, double) {
  using T = TestType;
  const Shape s{64, 32};
  hybrid::random::seed(9);
  auto stats = [](const TensorT<T>& t) {
    double sum = 0, sq = 0, maxabs = 0;
    for (T v : t.to_vector()) {
      sum += v;
      sq += static_cast<double>(v) * v;
      maxabs = std::max(maxabs, std::abs(static_cast<double>(v)));
    }
    const double n = static_cast<double>(t.size()), mean = sum / n;
    return std::vector<double>{mean, std::sqrt(sq / n - mean * mean), maxabs};
  };
  CHECK(nn::init::Constant(2.5).make<T>(s, "p").to_vector() == std::vector<T>(2048, T(2.5)));
  CHECK(nn::init::Zero().make<T>(s, "p").to_vector() == std::vector<T>(2048, T(0)));
  CHECK(nn::init::One().make<T>(s, "p").to_vector() == std::vector<T>(2048, T(1)));
  const auto u = stats(nn::init::Uniform(0.5).make<T>(s, "p"));
  CHECK(u[2] <= 0.5);
  CHECK(u[1] == Approx(0.5 / std::sqrt(3.0)).epsilon(0.05));
  const auto g = stats(nn::init::Normal(0.2).make<T>(s, "p"));
  CHECK(std::abs(g[0]) < 0.02);
  CHECK(g[1] == Approx(0.2).epsilon(0.05));
  // Xavier: uniform in ±sqrt(3 / ((fan_in + fan_out) / 2)).
  const double bound = std::sqrt(3.0 / ((32 + 64) / 2.0));
  const auto x = stats(nn::init::Xavier().make<T>(s, "p"));
  CHECK(x[2] <= bound);
  CHECK(x[2] > 0.95 * bound);
  CHECK_THROWS_WITH(nn::init::Xavier().make<T>(Shape{5}, "0.bias"), Contains("'0.bias'") && Contains("2 dimensions"));
  // Same seed, same draws.
  hybrid::random::seed(3);
  const auto first = nn::init::Xavier().make<T>(s, "p").to_vector();
  hybrid::random::seed(3);
  CHECK(nn::init::Xavier().make<T>(s, "p").to_vector() == first);
}

TEST_CASE("Parameter: set_data, uninitialized use, deferred shapes", "[nn][block]") {
  nn::Parameter p("w", Shape{2, 0});
  CHECK_FALSE(p.is_initialized());
  CHECK_THROWS_WITH(p.data(), Contains("Parameter 'w' has not been initialized; call initialize() first"));
  CHECK_THROWS_AS(p.set_data(hybrid::zeros<float>({3, 3})), hybrid::ShapeError);
  const Tensor v = hybrid::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  p.set_data(v);
  CHECK(p.shape() == Shape{2, 3});
  CHECK(p.data().to_vector() == v.to_vector());
  // The parameter owns its values: later writes to v do not reach it...
  const_cast<float*>(v.data())[0] = 100;
  CHECK(p.data().at({0, 0}) == 1);
  // ...and data() is the same shared tensor every time, until set_data()
  // publishes a new value: handles taken before keep the old one.
  p.data().data()[1] = 42;
  CHECK(p.data().at({0, 1}) == 42);
  CHECK(p.data().data() == p.data().data());
  const Tensor old_value = p.data();
  p.set_data(hybrid::full<float>({2, 3}, 7.0f));
  CHECK(p.data().to_vector() == std::vector<float>(6, 7.0f));
  CHECK(old_value.at({0, 1}) == 42);
  CHECK(old_value.data() != p.data().data());
  CHECK_THROWS_WITH(p.set_data(hybrid::zeros<float>({3, 2})), Contains("'w'") && Contains("(3, 2)"));
  CHECK_THROWS_AS(p.infer_shape(Shape{2, 4}), hybrid::ShapeError);
}

TEST_CASE("Sequential and HybridSequential: add, size, indexing, non-hybrid children", "[nn][block]") {
  nn::HybridSequential net;
  CHECK_THROWS_AS(net.add(nn::Dense(2), Doubler()), Error);
  CHECK_THROWS_WITH(net.add(nn::Dense(2), Doubler()),
                    Contains("HybridSequential: child '1' is a Doubler (a Block, not a HybridBlock); "
                             "only HybridBlocks can be hybridized"));
  CHECK(net.size() == 0);  // nothing was added
  std::shared_ptr<nn::Block> plain = std::make_shared<Doubler>();
  CHECK_THROWS_WITH(net.add(plain), Contains("child '0' is a Doubler"));
  std::shared_ptr<nn::Block> hybrid_as_block = std::make_shared<nn::Activation>("relu");
  net.add(hybrid_as_block);
  CHECK(net.size() == 1);

  nn::Sequential seq;
  seq.add(Doubler(), nn::Activation("relu"), std::make_shared<nn::HybridLambda>([](const Tensor& x) { return x + 1.0f; }));
  CHECK(seq.size() == 3);
  CHECK(seq[0]->type_name() == "Doubler");
  CHECK(seq[1]->type_name() == "Activation");
  CHECK_THROWS_WITH(seq[3], Contains("index 3 is out of range for 3 blocks"));
  const Tensor y = seq(hybrid::from_vector<float>({-1, 2}));
  CHECK(y.to_vector() == std::vector<float>{1, 5});
  // An empty container passes its input through.
  nn::Sequential empty;
  CHECK(empty(y).to_vector() == y.to_vector());
}

TEST_CASE("hybridize: flags and options recurse, plain Blocks pass the call on", "[nn][block]") {
  nn::Sequential outer;
  nn::HybridSequential inner;
  inner.add(nn::Dense(2));
  outer.add(std::move(inner), Doubler());
  auto inner_ptr = std::dynamic_pointer_cast<nn::HybridSequential>(outer[0]);
  REQUIRE(inner_ptr);
  CHECK_FALSE(inner_ptr->is_hybridized());
  nn::HybridizeOptions options;
  options.fuse = false;
  outer.hybridize(true, options);
  CHECK(inner_ptr->is_hybridized());
  CHECK_FALSE(inner_ptr->hybridize_options().fuse);
  CHECK(inner_ptr->hybridize_options().fold_constants);
  auto dense = std::dynamic_pointer_cast<nn::Dense>((*inner_ptr)[0]);
  CHECK(dense->is_hybridized());
  outer.hybridize(false);
  CHECK_FALSE(dense->is_hybridized());
  CHECK_FALSE(outer.is_hybrid());
  CHECK(inner_ptr->is_hybrid());
}

TEST_CASE("forward hooks see each call's output", "[nn][block]") {
  nn::Dense d(3, "", true, 2);
  d.initialize();
  std::vector<Shape> seen;
  const size_t id = d.register_forward_hook([&](const nn::Block& b, const Tensor&, const Tensor& y) {
    CHECK(b.type_name() == "Dense");
    seen.push_back(y.shape());
  });
  d(hybrid::ones<float>({4, 2}));
  d.remove_forward_hook(id);
  d(hybrid::ones<float>({1, 2}));
  CHECK(seen == std::vector<Shape>{Shape{4, 3}});
}

TEST_CASE("summary: the seed MLP's table and total", "[nn][block]") {
  nn::HybridSequential net = get_net();
  net.hybridize();  // summary still runs every layer
  std::ostringstream os;
  net.summary(hybrid::ones<float>({1, 512}), os);
  const std::string text = os.str();
  INFO(text);
  CHECK_THAT(text, Contains("Layer") && Contains("Output Shape") && Contains("Param #"));
  CHECK_THAT(text, Contains("Input") && Contains("(1, 512)"));
  CHECK_THAT(text, Contains("Dense(512 -> 256, relu)") && Contains("(1, 256)") && Contains("131,328"));
  CHECK_THAT(text, Contains("Dense(256 -> 128, relu)") && Contains("(1, 128)") && Contains("32,896"));
  CHECK_THAT(text, Contains("Dense(128 -> 2)") && Contains("(1, 2)") && Contains("258"));
  CHECK_THAT(text, Contains("Total params: 164,482"));
  // Rows appear in call order, one per layer.
  CHECK(text.find("Dense(512") < text.find("Dense(256"));
  CHECK(text.find("Dense(256") < text.find("Dense(128"));
  CHECK(text.find("HybridSequential") == std::string::npos);

  // The hooks are gone afterwards: a second summary prints the same table.
  std::ostringstream again;
  net.summary(hybrid::ones<float>({1, 512}), again);
  CHECK(again.str() == text);

  // A custom block: its children are rows, named by their structural path.
  HybridNet custom;
  custom.initialize();
  std::ostringstream os2;
  {
    CoutCapture quiet;
    custom.summary(hybrid::ones<float>({2, 3}), os2);
  }
  CHECK_THAT(os2.str(), Contains("hidden") && Contains("Dense(3 -> 4)") && Contains("(2, 4)") &&
                            Contains("output") && Contains("Dense(4 -> 2)") && Contains("Total params: 26"));
}

TEST_CASE("double end to end: same model in float64", "[nn][block]") {
  using T = double;
  hybrid::random::seed(4);
  nn::HybridSequentialT<T> net;
  net.add(nn::DenseT<T>(5, "tanh"), nn::ActivationT<T>("sigmoid"), nn::DenseT<T>(2));
  net.initialize(nn::init::Xavier());
  const TensorT<T> x = hybrid::random::normal<T>({3, 4});
  const TensorT<T> y = net(x);
  CHECK(y.dtype() == hybrid::DType::float64);
  const auto params = net.collect_params();
  CHECK(names_of(params) == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
  CHECK(params["0.weight"]->dtype() == hybrid::DType::float64);
  const auto w1 = params["0.weight"]->data(), w2 = params["2.weight"]->data();
  for (int64_t n = 0; n < 3; ++n)
    for (int64_t o = 0; o < 2; ++o) {
      double acc = 0;
      for (int64_t h = 0; h < 5; ++h) {
        double a = 0;
        for (int64_t k = 0; k < 4; ++k) a += x.at({n, k}) * w1.at({h, k});
        acc += 1 / (1 + std::exp(-std::tanh(a))) * w2.at({o, h});
      }
      CHECK(y.at({n, o}) == Approx(acc).epsilon(1e-12));
    }
  std::ostringstream os;
  net.summary(x, os);
  CHECK_THAT(os.str(), Contains("Dense(4 -> 5, tanh)") && Contains("Activation(sigmoid)") &&
                           Contains("Total params: 37"));
}

namespace {
// The library's free functions read naturally inside a block: no member
// (such as an error-location helper) hides them from unqualified lookup.
class Clamped : public nn::HybridBlock {
 public:
  Tensor forward(const Tensor& x) override {
    const Tensor positive = greater(x, hybrid::zeros<float>({}));
    return where(positive, sqrt(abs(x)), clip(x, -0.5, 0.5));
  }
};
}  // namespace

TEST_CASE("Blocks: unqualified tensor functions (where, clip) work inside forward", "[nn][block]") {
  Clamped block;
  const Tensor x = hybrid::from_vector<float>({-2, -0.25, 0, 4}, {4});
  const std::vector<float> want = {-0.5f, -0.25f, 0, 2};
  CHECK(block(x).to_vector() == want);
  block.hybridize();
  CHECK(block(x).to_vector() == want);
}
