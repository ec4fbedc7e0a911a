// Dropout: active only in train mode, scaled by 1 / (1 - rate), its mask
// deterministic after random::seed and the same eager and hybridized;
// predict-mode plans hold no trace of it.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>

using namespace hybrid;

TEMPLATE_TEST_CASE("Dropout zeroes about rate of the elements and scales the rest", "[nn][dropout]", float, double) {
  using T = TestType;
  nn::DropoutT<T> drop(0.3);
  const TensorT<T> x = full<T>({100, 100}, T(2));
  random::seed(9);
  TensorT<T> y;
  {
    auto train = autograd::train_mode();
    y = drop(x);
  }
  int64_t zeros_seen = 0;
  const T kept = static_cast<T>(T(2) * static_cast<T>(1 / (1 - 0.3)));
  for (T v : y.to_vector()) {
    if (v == T(0)) ++zeros_seen;
    else REQUIRE(v == kept);
  }
  CHECK(std::abs(static_cast<double>(zeros_seen) / 10000 - 0.3) < 0.02);
  // The same seed, the same mask.
  random::seed(9);
  auto train = autograd::train_mode();
  CHECK(drop(x).to_vector() == y.to_vector());
  CHECK(drop(x).to_vector() != y.to_vector());  // a new draw
}

TEST_CASE("Dropout passes its input through in predict mode", "[nn][dropout]") {
  nn::Dropout drop(0.5);
  const Tensor x = reshape(arange<float>(6), {2, 3});
  const Tensor y = drop(x);
  CHECK(y.to_vector() == x.to_vector());
  CHECK(drop.describe() == "Dropout(p = 0.5)");
  nn::Dropout none(0);
  auto train = autograd::train_mode();
  CHECK(none(x).to_vector() == x.to_vector());
}

TEST_CASE("Dropout's gradient is its mask", "[nn][dropout][autograd]") {
  nn::Dropout drop(0.4);
  Tensor x = full<float>({8, 8}, 1.0f);
  x.attach_grad();
  random::seed(10);
  Tensor y;
  {
    auto rec = autograd::record();
    y = drop(x);
  }
  y.backward();
  // x is all ones, so y is the mask itself.
  CHECK(x.grad().to_vector() == y.to_vector());
}

namespace {
class DropNet : public nn::HybridBlock {
 public:
  DropNet() {
    fc = register_block("fc", nn::Dense(16, "relu"));
    drop = register_block("drop", nn::Dropout(0.5));
    out = register_block("out", nn::Dense(4));
  }
  Tensor forward(const Tensor& x) override { return (*out)((*drop)((*fc)(x))); }
  std::shared_ptr<nn::Dense> fc;
  std::shared_ptr<nn::Dropout> drop;
  std::shared_ptr<nn::Dense> out;
};
}  // namespace

TEST_CASE("hybridized Dropout draws the eager masks; predict plans drop it", "[nn][dropout][hybridize]") {
  DropNet net;
  net.initialize();
  random::seed(11);
  const Tensor x = random::normal<float>({5, 8});
  (void)net(x);
  // Train mode, recorded: outputs and gradients as eager, with the same draws.
  auto step = [&](bool hybridized) {
    net.hybridize(hybridized);
    random::seed(12);
    std::vector<std::vector<float>> result;
    for (int s = 0; s < 2; ++s) {
      Tensor y;
      {
        auto rec = autograd::record();
        y = net(x);
      }
      y.backward();
      result.push_back(y.to_vector());
      result.push_back(net.fc->weight()->grad().to_vector());
    }
    return result;
  };
  const auto eager = step(false);
  const auto hybridized = step(true);
  REQUIRE(eager.size() == hybridized.size());
  for (size_t k = 0; k < eager.size(); ++k) {
    REQUIRE(eager[k].size() == hybridized[k].size());
    for (size_t i = 0; i < eager[k].size(); ++i) REQUIRE(std::abs(eager[k][i] - hybridized[k][i]) <= 1e-5f);
  }
  const auto train_ops = net.graph_ops();
  CHECK(std::count(train_ops.begin(), train_ops.end(), "dropout_mask") == 1);
  // Predict mode: a plan of its own, without dropout.
  const Tensor p = net(x);
  const auto ops = net.graph_ops();
  CHECK(std::count(ops.begin(), ops.end(), "dropout") == 0);
  CHECK(std::count(ops.begin(), ops.end(), "dropout_mask") == 0);
  CHECK(net.cached_plans() == 2);
  net.hybridize(false);
  CHECK(allclose(p, net(x)));
}

TEST_CASE("Dropout: a rate outside [0, 1) is an error", "[nn][dropout]") {
  CHECK_THROWS_WITH(nn::Dropout(1.0), Catch::Contains("rate must be in [0, 1)"));
  CHECK_THROWS_WITH(nn::Dropout(-0.1), Catch::Contains("rate must be in [0, 1)"));
  CHECK_THROWS_WITH(dropout(zeros<float>({2}), 1.5), Catch::Contains("dropout") && Catch::Contains("rate"));
}
