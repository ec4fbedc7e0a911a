// Losses: values against hand formulas, one value per sample, stability on
// large logits, shape errors, hybridized = eager, gradients.
#include <catch2/catch.hpp>
#include <cmath>
#include <hybrid/hybrid.hpp>

using namespace hybrid;
namespace loss = hybrid::nn::loss;

namespace {

template <class T>
double log_sum_exp(const std::vector<T>& row) {
  double m = -INFINITY, s = 0;
  for (T v : row) m = std::max(m, double(v));
  for (T v : row) s += std::exp(double(v) - m);
  return m + std::log(s);
}

}  // namespace

TEMPLATE_TEST_CASE("SoftmaxCrossEntropyLoss: sparse, dense and from_logits labels", "[loss]", float, double) {
  using T = TestType;
  const std::vector<T> logits{1, 2, 3, -1, 0, 4};
  const TensorT<T> pred = from_vector<T>(logits, {2, 3});
  const TensorT<T> sparse = from_vector<T>({2, 0}, {2});
  const double l0 = log_sum_exp<T>({1, 2, 3}) - 3, l1 = log_sum_exp<T>({-1, 0, 4}) + 1;

  loss::SoftmaxCrossEntropyLossT<T> ce;
  TensorT<T> l = ce(pred, sparse);
  REQUIRE(l.shape() == Shape{2});
  CHECK(l.at({0}) == Approx(l0).epsilon(1e-6));
  CHECK(l.at({1}) == Approx(l1).epsilon(1e-6));

  loss::SoftmaxCrossEntropyLossT<T> dense(-1, false);
  const TensorT<T> onehot = from_vector<T>({0, 0, 1, 0.5, 0.5, 0}, {2, 3});
  l = dense(pred, onehot);
  CHECK(l.at({0}) == Approx(l0).epsilon(1e-6));
  CHECK(l.at({1}) == Approx(0.5 * (log_sum_exp<T>({-1, 0, 4}) + 1) + 0.5 * log_sum_exp<T>({-1, 0, 4}))
                         .epsilon(1e-6));

  loss::SoftmaxCrossEntropyLossT<T> logits_in(-1, true, true);
  l = logits_in(log_softmax(pred), sparse);
  CHECK(l.at({0}) == Approx(l0).epsilon(1e-6));

  // Large logits stay finite.
  l = ce(from_vector<T>({1000, -1000, 0, 0, 0, 3000}, {2, 3}), sparse);
  CHECK(std::isfinite(double(l.at({0}))));
  CHECK(l.at({0}) == Approx(1000).epsilon(1e-6));
  CHECK(l.at({1}) == Approx(3000).epsilon(1e-6));
}

TEMPLATE_TEST_CASE("L2, L1 and sigmoid binary cross-entropy average over non-batch axes", "[loss]", float, double) {
  using T = TestType;
  const TensorT<T> pred = from_vector<T>({1, -2, 0.5, 3}, {2, 2});
  const TensorT<T> label = from_vector<T>({0, 1, 1, 0}, {2, 2});
  TensorT<T> l = loss::L2LossT<T>()(pred, label);
  REQUIRE(l.shape() == Shape{2});
  CHECK(l.at({0}) == Approx((0.5 * 1 + 0.5 * 9) / 2));
  CHECK(l.at({1}) == Approx((0.5 * 0.25 + 0.5 * 9) / 2));
  l = loss::L1LossT<T>()(pred, reshape(label, {4}));  // label reshaped like pred
  CHECK(l.at({0}) == Approx((1 + 3) / 2.0));
  CHECK(l.at({1}) == Approx((0.5 + 3) / 2.0));

  auto bce_ref = [](double x, double z) {
    const double p = 1 / (1 + std::exp(-x));
    return -(z * std::log(p) + (1 - z) * std::log(1 - p));
  };
  l = loss::SigmoidBinaryCrossEntropyLossT<T>()(pred, label);
  CHECK(l.at({0}) == Approx((bce_ref(1, 0) + bce_ref(-2, 1)) / 2).epsilon(1e-5));
  CHECK(l.at({1}) == Approx((bce_ref(0.5, 1) + bce_ref(3, 0)) / 2).epsilon(1e-5));
  l = loss::SigmoidBinaryCrossEntropyLossT<T>(true)(sigmoid(pred), label);
  CHECK(l.at({0}) == Approx((bce_ref(1, 0) + bce_ref(-2, 1)) / 2).epsilon(1e-4));
  // Stable for large logits.
  l = loss::SigmoidBinaryCrossEntropyLossT<T>()(from_vector<T>({500, -500}, {2, 1}), from_vector<T>({0, 1}, {2}));
  CHECK(l.at({0}) == Approx(500));
  CHECK(l.at({1}) == Approx(500));
}

TEST_CASE("losses reject mismatched labels and wrong input counts", "[loss]") {
  loss::L2Loss l2;
  CHECK_THROWS_AS(l2(ones<float>({2, 3}), ones<float>({2, 2})), ShapeError);
  CHECK_THROWS_WITH(l2(ones<float>({2, 3}), ones<float>({2, 2})), Catch::Contains("L2Loss") && Catch::Contains("(2, 2)"));
  CHECK_THROWS_WITH(l2(ones<float>({2, 3})), Catch::Contains("(pred, label)"));
  CHECK_THROWS_AS(l2.call({ones<float>({2}), ones<float>({2}), ones<float>({2})}), Error);
}

TEST_CASE("hybridized losses equal eager ones", "[loss]") {
  random::seed(11);
  const Tensor pred = random::normal<float>({8, 5});
  const Tensor label = from_vector<float>({0, 1, 2, 3, 4, 0, 1, 2}, {8});
  loss::SoftmaxCrossEntropyLoss eager, hybridized;
  hybridized.hybridize();
  const std::vector<float> a = eager(pred, label).to_vector(), b = hybridized(pred, label).to_vector();
  for (size_t i = 0; i < a.size(); ++i) CHECK(b[i] == Approx(a[i]).epsilon(1e-6));
}

TEST_CASE("the cross-entropy gradient is softmax minus the one-hot label", "[loss]") {
  TensorT<double> pred = from_vector<double>({1, 2, 3, -1, 0, 4}, {2, 3});
  pred.attach_grad();
  const TensorT<double> label = from_vector<double>({2, 0}, {2});
  for (bool hybridized : {false, true}) {
    loss::SoftmaxCrossEntropyLossT<double> ce;
    if (hybridized) ce.hybridize();
    TensorT<double> l;
    {
      auto rec = autograd::record();
      l = ce(pred, label);
    }
    l.backward();
    const TensorT<double> expected = softmax(pred) - one_hot(label, 3);
    const auto g = pred.grad().to_vector(), e = expected.to_vector();
    for (size_t i = 0; i < g.size(); ++i) CHECK(g[i] == Approx(e[i]).margin(1e-12));
  }
}
