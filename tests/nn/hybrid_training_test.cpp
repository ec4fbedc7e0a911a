// Hybridized training: a hybridized block inside autograd::record() runs a
// forward plan and a backward plan derived from the gradient rules, and
// must train exactly like the eager block. Plans are kept per mode.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>

using namespace hybrid;

namespace {

template <class T>
class Mlp : public nn::HybridBlockT<T> {
 public:
  Mlp() {
    hidden = this->register_block("hidden", nn::DenseT<T>(16, "relu"));
    middle = this->register_block("middle", nn::DenseT<T>(8, "tanh"));
    out = this->register_block("out", nn::DenseT<T>(4));
  }
  TensorT<T> forward(const TensorT<T>& x) override { return (*out)((*middle)((*hidden)(x))); }
  std::shared_ptr<nn::DenseT<T>> hidden, middle, out;
};

/// Uses one child twice in a forward, and constants, slices and broadcasting.
template <class T>
class Shared : public nn::HybridBlockT<T> {
 public:
  Shared() {
    layer = this->register_block("layer", nn::DenseT<T>(6, "sigmoid", true, 6));
    scale = this->register_parameter("scale", Shape{1, 6});
  }
  TensorT<T> forward(const TensorT<T>& x) override {
    TensorT<T> h = (*layer)(x);
    h = (*layer)(h * scale->data() + T(0.5));
    return concat<T>({slice(h, 1, 0, 3), slice(h, 1, 3, 6) * T(2)}, 1) - mean(h, 1, true);
  }
  std::shared_ptr<nn::DenseT<T>> layer;
  std::shared_ptr<nn::ParameterT<T>> scale;
};

template <class T>
void seed_params(const nn::ParameterDictT<T>& params) {
  random::seed(7);
  for (const auto& p : params) p->set_data(random::normal<T>(p->shape(), T(0), T(0.3)));
}

/// 20 SGD steps of `Net` + softmax cross-entropy; returns the parameters.
template <class T, class Net>
std::vector<std::vector<T>> train(bool hybridized, const HybridizeOptions& options, const TensorT<T>& x,
                                  const TensorT<T>& labels) {
  Net net;
  net.initialize();
  (void)net(x);  // infer shapes
  seed_params(net.collect_params());
  nn::loss::SoftmaxCrossEntropyLossT<T> loss;
  if (hybridized) {
    net.hybridize(true, options);
    loss.hybridize(true, options);
  }
  const auto params = net.collect_params();
  for (int step = 0; step < 20; ++step) {
    TensorT<T> l;
    {
      auto rec = autograd::record();
      TensorT<T> y = net(x);
      if (y.shape()[1] != 4) y = slice(y, 1, 0, 4);
      l = loss(y, labels);
    }
    l.backward();
    for (const auto& p : params) p->set_data(p->data() - p->grad() * T(0.1) / T(x.shape()[0]));
  }
  std::vector<std::vector<T>> values;
  for (const auto& p : params) values.push_back(p->data().to_vector());
  return values;
}

template <class T>
void check_close(const std::vector<std::vector<T>>& a, const std::vector<std::vector<T>>& b, double tol) {
  REQUIRE(a.size() == b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    REQUIRE(a[k].size() == b[k].size());
    for (size_t i = 0; i < a[k].size(); ++i) REQUIRE(std::abs(double(a[k][i]) - double(b[k][i])) <= tol);
  }
}

template <class T>
void eager_equals_hybridized(double tol) {
  random::seed(3);
  const TensorT<T> x = random::normal<T>({12, 10}, T(0), T(1));
  const TensorT<T> labels = from_vector<T>({0, 1, 2, 3, 0, 1, 2, 3, 3, 2, 1, 0}, {12});
  HybridizeOptions none;
  none.fold_constants = none.eliminate_common = none.fuse = none.plan_memory = false;
  {
    INFO("MLP");
    const auto eager = train<T, Mlp<T>>(false, {}, x, labels);
    check_close(eager, train<T, Mlp<T>>(true, HybridizeOptions{}, x, labels), tol);
    check_close(eager, train<T, Mlp<T>>(true, none, x, labels), tol);
  }
  {
    INFO("a block used twice, a parameter broadcast");
    const TensorT<T> x6 = slice(x, 1, 0, 6);
    const auto eager = train<T, Shared<T>>(false, {}, x6, labels);
    check_close(eager, train<T, Shared<T>>(true, HybridizeOptions{}, x6, labels), tol);
    check_close(eager, train<T, Shared<T>>(true, none, x6, labels), tol);
  }
}

/// Doubles its input while training, triples it while predicting.
class ModeBranch : public nn::HybridBlock {
 public:
  Tensor forward(const Tensor& x) override { return autograd::is_training() ? x * 2.0f : x * 3.0f; }
};

/// Two inputs, two outputs.
class TwoWay : public nn::HybridBlock {
 public:
  TwoWay() { w = register_parameter("w", Shape{3}); }
  std::vector<Tensor> forward_many(const std::vector<Tensor>& in) override {
    return {in[0] * w->data() + in[1], exp(in[1]) * in[0]};
  }
  std::shared_ptr<nn::Parameter> w;
};

}  // namespace

TEST_CASE("hybridized training gives the eager parameters, all passes on and none", "[hybrid_training]") {
  SECTION("double") { eager_equals_hybridized<double>(1e-10); }
  SECTION("float") { eager_equals_hybridized<float>(1e-5); }
}

TEST_CASE("a hybridized block keeps one plan per mode and never freezes a branch", "[hybrid_training]") {
  ModeBranch block;
  block.hybridize();
  const Tensor x = from_vector<float>({1, 2}, {2});
  CHECK(block(x).to_vector() == std::vector<float>{3, 6});  // predict mode, the default
  {
    auto train = autograd::train_mode();
    CHECK(block(x).to_vector() == std::vector<float>{2, 4});
  }
  CHECK(block(x).to_vector() == std::vector<float>{3, 6});
  CHECK(block.cached_plans() == 2);

  Tensor xg = x.clone();
  xg.attach_grad();
  Tensor y;
  {
    auto rec = autograd::record();  // training
    y = block(xg);
  }
  CHECK(y.to_vector() == std::vector<float>{2, 4});
  y.backward();
  CHECK(xg.grad().to_vector() == std::vector<float>{2, 2});
  {
    auto rec = autograd::record(false);  // recording in predict mode
    y = block(xg);
  }
  y.backward();
  CHECK(xg.grad().to_vector() == std::vector<float>{3, 3});
  CHECK(block.cached_plans() == 4);
}

TEST_CASE("hybridized: input gradients, retain_graph, grad_req add, several inputs and outputs", "[hybrid_training]") {
  auto run = [](bool hybridized) {
    TwoWay block;
    block.initialize(nn::init::Constant(0.5));
    if (hybridized) block.hybridize();
    Tensor a = from_vector<float>({1, 2, 3}, {3});
    Tensor b = from_vector<float>({0.5f, -1, 0.25f}, {3});
    a.attach_grad();
    b.attach_grad("add");
    Tensor l;
    {
      auto rec = autograd::record();
      std::vector<Tensor> outs = block.call({a, b});
      REQUIRE(outs.size() == 2);
      l = sum(outs[0] * outs[1]);
    }
    l.backward(true);
    l.backward();  // retained once
    CHECK_THROWS_WITH(l.backward(), Catch::Contains("retain_graph"));
    std::vector<std::vector<float>> grads{a.grad().to_vector(), b.grad().to_vector(),
                                          block.collect_params()["w"]->grad().to_vector()};
    return grads;
  };
  const auto eager = run(false);
  const auto hybrid = run(true);
  for (size_t k = 0; k < eager.size(); ++k)
    for (size_t i = 0; i < eager[k].size(); ++i) CHECK(hybrid[k][i] == Approx(eager[k][i]).epsilon(1e-5));
  // b accumulated two backward passes: its gradient is twice a's pattern of one pass.
  CHECK(eager[1][0] != 0.0f);
}

TEST_CASE("a hybridized call outside record() is not on the tape", "[hybrid_training]") {
  Mlp<float> net;
  net.initialize();
  net.hybridize();
  const Tensor x = ones<float>({2, 5});
  Tensor y = net(x);
  CHECK_THROWS_AS(sum(y).backward(), Error);
  CHECK(net.cached_plans() == 1);
}
