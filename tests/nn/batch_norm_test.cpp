// BatchNorm: train-mode batch statistics and running-average updates,
// predict-mode running statistics, eager = hybridized (plans lower the op
// per mode and publish the running statistics as state updates), folding
// into a preceding fully_connected in predict plans, export and import.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>

#include "../support/files.hpp"

using namespace hybrid;
using testing::TempDir;

namespace {

template <class T>
std::vector<double> as_double(const TensorT<T>& t) {
  std::vector<double> v;
  for (T e : t.to_vector()) v.push_back(static_cast<double>(e));
  return v;
}

void check_close(const std::vector<double>& a, const std::vector<double>& b, double tol) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("element " << i << ": " << a[i] << " vs " << b[i]);
    REQUIRE(std::abs(a[i] - b[i]) <= tol * (1 + std::abs(b[i])));
  }
}

/// Dense → BatchNorm → relu → Dense: a preceding fully_connected to fold into.
template <class T>
class BnNet : public nn::HybridBlockT<T> {
 public:
  BnNet() {
    fc = this->register_block("fc", nn::DenseT<T>(6));
    bn = this->register_block("bn", nn::BatchNormT<T>());
    out = this->register_block("out", nn::DenseT<T>(3));
  }
  TensorT<T> forward(const TensorT<T>& x) override { return (*out)(relu((*bn)((*fc)(x)))); }
  std::shared_ptr<nn::DenseT<T>> fc;
  std::shared_ptr<nn::BatchNormT<T>> bn;
  std::shared_ptr<nn::DenseT<T>> out;
};

template <class T>
void seed_params(const nn::ParameterDictT<T>& params) {
  random::seed(5);
  for (const auto& p : params) {
    TensorT<T> v = random::normal<T>(p->shape(), T(0), T(0.5));
    if (p->name().find("running_var") != std::string::npos || p->name().find("gamma") != std::string::npos)
      v = abs(v) + T(0.5);  // positive variances and scales
    p->set_data(v);
  }
}

/// Runs `steps` recorded train-mode steps of plain SGD; returns every
/// parameter (running statistics included) and the last output.
template <class T>
std::vector<std::vector<double>> train(bool hybridized, int steps, const TensorT<T>& x) {
  BnNet<T> net;
  net.initialize();
  (void)net(x);
  seed_params(net.collect_params());
  if (hybridized) net.hybridize();
  std::vector<std::vector<double>> result;
  TensorT<T> y, loss;
  for (int s = 0; s < steps; ++s) {
    {
      auto rec = autograd::record();
      y = net(x);
      loss = y * y;
    }
    loss.backward();
    for (const auto& p : net.collect_params())
      if (p->grad_req() != "null") p->set_data(p->data() - p->grad() * T(0.05));
  }
  for (const auto& p : net.collect_params()) result.push_back(as_double(p->data()));
  result.push_back(as_double(y));
  return result;
}

}  // namespace

TEMPLATE_TEST_CASE("BatchNorm in train mode: batch statistics and the running update", "[nn][batch_norm]", float,
                   double) {
  using T = TestType;
  random::seed(1);
  const TensorT<T> x = random::normal<T>({4, 3, 2, 2}, T(1), T(2));
  nn::BatchNormT<T> bn(1, 0.8, 1e-3);
  bn.initialize();
  (void)bn(x);  // predict mode: infers in_channels, changes nothing
  CHECK(bn.running_mean()->data().to_vector() == std::vector<T>(3, T(0)));
  CHECK(bn.running_var()->data().to_vector() == std::vector<T>(3, T(1)));
  bn.gamma()->set_data(from_vector<T>({1, 2, 0.5}, {3}));
  bn.beta()->set_data(from_vector<T>({0, -1, 3}, {3}));
  TensorT<T> y;
  {
    auto train = autograd::train_mode();
    y = bn(x);
  }
  // By hand, channel by channel, in double.
  const std::vector<T> xv = x.to_vector();
  std::vector<double> expected(xv.size()), means(3), vars(3);
  const double gamma[3] = {1, 2, 0.5}, beta[3] = {0, -1, 3};
  for (int c = 0; c < 3; ++c) {
    double s = 0, ss = 0;
    for (int n = 0; n < 4; ++n)
      for (int i = 0; i < 4; ++i) s += xv[static_cast<size_t>((n * 3 + c) * 4 + i)];
    means[c] = s / 16;
    for (int n = 0; n < 4; ++n)
      for (int i = 0; i < 4; ++i) ss += std::pow(xv[static_cast<size_t>((n * 3 + c) * 4 + i)] - means[c], 2);
    vars[c] = ss / 16;  // biased, as Gluon
    for (int n = 0; n < 4; ++n)
      for (int i = 0; i < 4; ++i) {
        const size_t k = static_cast<size_t>((n * 3 + c) * 4 + i);
        expected[k] = (xv[k] - means[c]) / std::sqrt(vars[c] + 1e-3) * gamma[c] + beta[c];
      }
  }
  const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  check_close(as_double(y), expected, tol);
  std::vector<double> rm, rv;
  for (int c = 0; c < 3; ++c) {
    rm.push_back(0.2 * means[c]);
    rv.push_back(0.8 + 0.2 * vars[c]);
  }
  check_close(as_double(bn.running_mean()->data()), rm, tol);
  check_close(as_double(bn.running_var()->data()), rv, tol);

  // Predict mode: the running statistics normalize, and nothing is updated.
  const TensorT<T> p = bn(x);
  std::vector<double> by_running(xv.size());
  for (size_t k = 0; k < xv.size(); ++k) {
    const int c = static_cast<int>((k / 4) % 3);
    by_running[k] = (xv[k] - rm[c]) / std::sqrt(rv[c] + 1e-3) * gamma[c] + beta[c];
  }
  check_close(as_double(p), by_running, tol);
  check_close(as_double(bn.running_mean()->data()), rm, tol);
}

TEST_CASE("BatchNorm's running statistics take no gradient", "[nn][batch_norm]") {
  nn::BatchNorm bn;
  CHECK(bn.running_mean()->grad_req() == "null");
  CHECK(bn.running_var()->grad_req() == "null");
  CHECK(bn.gamma()->grad_req() == "write");
  bn.initialize();
  random::seed(2);
  const Tensor x = random::normal<float>({5, 4});
  nn::Trainer trainer(bn.collect_params(), "sgd", {{"learning_rate", 0.1}});
  {
    auto rec = autograd::record();
    Tensor y = bn(x);
    (y * y).backward();
  }
  trainer.step(5);  // no stale-gradient error for the running statistics
  CHECK(bn.describe() == "BatchNorm(axis=1, momentum=0.9, eps=1e-05, in_channels=4)");
}

TEMPLATE_TEST_CASE("BatchNorm trains the same eager and hybridized", "[nn][batch_norm]", float, double) {
  using T = TestType;
  random::seed(3);
  const TensorT<T> x = random::normal<T>({8, 5}, T(0.5), T(1.5));
  const auto eager = train<T>(false, 4, x);
  const auto hybridized = train<T>(true, 4, x);
  REQUIRE(eager.size() == hybridized.size());
  const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-11;
  for (size_t k = 0; k < eager.size(); ++k) {
    INFO("tensor " << k);
    check_close(hybridized[k], eager[k], tol);
  }
}

TEMPLATE_TEST_CASE("predict plans fold BatchNorm into the preceding fully_connected", "[nn][batch_norm][passes]",
                   float, double) {
  using T = TestType;
  random::seed(4);
  const TensorT<T> x = random::normal<T>({7, 5});
  BnNet<T> net;
  net.initialize();
  (void)net(x);
  seed_params(net.collect_params());
  const TensorT<T> eager = net(x);
  HybridizeOptions unfused;
  unfused.fuse = false;
  net.hybridize(true, unfused);
  const TensorT<T> unfolded = net(x);
  const auto unfolded_ops = net.graph_ops();
  CHECK(std::count(unfolded_ops.begin(), unfolded_ops.end(), "batch_norm") == 1);
  net.hybridize();
  const TensorT<T> folded = net(x);
  const auto ops = net.graph_ops();
  CHECK(std::count(ops.begin(), ops.end(), "batch_norm") == 0);
  CHECK(std::count(ops.begin(), ops.end(), "fully_connected") == 2);
  const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  check_close(as_double(folded), as_double(unfolded), tol);
  check_close(as_double(folded), as_double(eager), tol);
  // set_data() reaches the folded weights without a new trace.
  net.bn->running_mean()->set_data(full<T>({6}, T(0.25)));
  const TensorT<T> after = net(x);
  net.hybridize(false);
  check_close(as_double(after), as_double(net(x)), tol);
}

namespace {
/// The Dense output feeds BatchNorm and a residual sum.
class Residual : public nn::HybridBlock {
 public:
  Residual() {
    fc = register_block("fc", nn::Dense(4, "", true, 3));
    bn = register_block("bn", nn::BatchNorm(1, 0.9, 1e-5, 4));
  }
  Tensor forward(const Tensor& x) override {
    const Tensor h = (*fc)(x);
    return (*bn)(h) + h;
  }
  std::shared_ptr<nn::Dense> fc;
  std::shared_ptr<nn::BatchNorm> bn;
};
}  // namespace

TEST_CASE("a BatchNorm whose input has other uses is not folded", "[nn][batch_norm][passes]") {
  Residual block;
  block.initialize();
  block.hybridize();
  random::seed(6);
  const Tensor x = random::normal<float>({2, 3});
  const Tensor y = block(x);
  const auto ops = block.graph_ops();
  CHECK(std::count(ops.begin(), ops.end(), "batch_norm") == 1);
  block.hybridize(false);
  CHECK(allclose(y, block(x)));
}

TEST_CASE("BatchNorm: bad inputs and arguments are reported", "[nn][batch_norm]") {
  CHECK_THROWS_WITH(nn::BatchNorm(1, 1.5), Catch::Contains("momentum must be in [0, 1]"));
  CHECK_THROWS_WITH(nn::BatchNorm(1, 0.9, 0), Catch::Contains("epsilon must be positive"));
  nn::BatchNorm bn(1, 0.9, 1e-5, 4);
  bn.initialize();
  CHECK_THROWS_AS(bn(zeros<float>({3})), ShapeError);
  CHECK_THROWS_WITH(bn(zeros<float>({2, 3})), Catch::Contains("batch_norm") && Catch::Contains("gamma") &&
                                                  Catch::Contains("(4,)") && Catch::Contains("(2, 3)"));
  auto train = autograd::train_mode();
  CHECK_THROWS_WITH(bn(zeros<float>({2, 3})), Catch::Contains("gamma"));
  CHECK(bn.running_mean()->data().to_vector() == std::vector<float>(4, 0.0f));  // nothing updated
  nn::BatchNorm wrong_axis(5);
  wrong_axis.initialize();
  CHECK_THROWS_WITH(wrong_axis(zeros<float>({2, 3})), Catch::Contains("axis 5"));
}

TEST_CASE("BatchNorm exports its running statistics and the import trains and predicts alike",
          "[nn][batch_norm][io]") {
  TempDir dir;
  random::seed(8);
  const Tensor x = random::normal<float>({6, 5}, 0.5f, 1.5f);
  BnNet<float> net;
  net.initialize();
  (void)net(x);
  seed_params(net.collect_params());
  net.hybridize();
  {
    auto train = autograd::train_mode();
    (void)net(x);  // a train-mode plan ran last: export still writes batch_norm, not its lowering
  }
  net.export_model(dir.file("bn"));
  const std::string json = testing::read_bytes(dir.file("bn-symbol.json"));
  CHECK(json.find("\"batch_norm\"") != std::string::npos);
  CHECK(json.find("\"mean\"") == std::string::npos);
  auto imported = nn::SymbolBlock::imports(dir.file("bn-symbol.json"), {"data"}, dir.file("bn-0000.params"));
  REQUIRE(imported->collect_params().contains("bn.running_mean"));
  CHECK(imported->collect_params()["bn.running_var"]->grad_req() == "null");
  CHECK(allclose((*imported)(x), net(x), 1e-5, 1e-6));
  // One train-mode step on each updates the running statistics alike.
  {
    auto train = autograd::train_mode();
    CHECK(allclose((*imported)(x), net(x), 1e-5, 1e-6));
  }
  CHECK(allclose(imported->collect_params()["bn.running_mean"]->data(), net.bn->running_mean()->data(), 1e-5, 1e-7));
  // The import run eagerly (not hybridized) updates them too.
  imported->hybridize(false);
  net.hybridize(false);
  {
    auto train = autograd::train_mode();
    CHECK(allclose((*imported)(x), net(x), 1e-5, 1e-6));
  }
  CHECK(allclose(imported->collect_params()["bn.running_var"]->data(), net.bn->running_var()->data(), 1e-5, 1e-7));
  CHECK(allclose((*imported)(x), net(x), 1e-5, 1e-6));
}

namespace {
/// Conv2D → BatchNorm → relu, twice: each BatchNorm folds into its convolution.
template <class T>
class ConvBn : public nn::HybridBlockT<T> {
 public:
  ConvBn() {
    conv1 = this->register_block("conv1", nn::Conv2DT<T>(4, 3, 1, 1));
    bn1 = this->register_block("bn1", nn::BatchNormT<T>());
    conv2 = this->register_block("conv2", nn::Conv2DT<T>(3, 3, 2, 1, 1, 1, "", /*use_bias=*/false));
    bn2 = this->register_block("bn2", nn::BatchNormT<T>());
  }
  TensorT<T> forward(const TensorT<T>& x) override {
    return relu((*bn2)((*conv2)(relu((*bn1)((*conv1)(x))))));
  }
  std::shared_ptr<nn::Conv2DT<T>> conv1, conv2;
  std::shared_ptr<nn::BatchNormT<T>> bn1, bn2;
};
}  // namespace

TEMPLATE_TEST_CASE("predict plans fold BatchNorm into the preceding conv2d", "[nn][batch_norm][passes]", float,
                   double) {
  using T = TestType;
  random::seed(12);
  const TensorT<T> x = random::normal<T>({4, 3, 7, 6});  // conv2's output (4·3·4·3) outgrows its weight (3·4·3·3)
  ConvBn<T> net;
  net.initialize();
  (void)net(x);
  seed_params(net.collect_params());
  const TensorT<T> eager = net(x);
  HybridizeOptions unfolded_options;
  unfolded_options.fold_batch_norm = false;
  net.hybridize(true, unfolded_options);
  const TensorT<T> unfolded = net(x);
  auto ops = net.graph_ops();
  CHECK(std::count(ops.begin(), ops.end(), "batch_norm") == 2);
  net.hybridize();
  const TensorT<T> folded = net(x);
  ops = net.graph_ops();
  CHECK(std::count(ops.begin(), ops.end(), "batch_norm") == 0);
  CHECK(std::count(ops.begin(), ops.end(), "conv2d") == 2);
  CHECK(std::count(ops.begin(), ops.end(), "relu") == 0);  // both relus are conv2d epilogues now
  const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  check_close(as_double(folded), as_double(unfolded), tol);
  check_close(as_double(folded), as_double(eager), tol);
  // At batch 1 conv2's output (3·4·3) is smaller than its weight: folding
  // would cost more than the pass it saves, so that BatchNorm stays.
  const TensorT<T> one = slice(x, 0, 0, 1);
  const TensorT<T> single = net(one);
  ops = net.graph_ops();
  CHECK(std::count(ops.begin(), ops.end(), "batch_norm") == 1);
  check_close(as_double(single), as_double(slice(folded, 0, 0, 1)), tol);
}
