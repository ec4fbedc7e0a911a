// The book's convolutional models end to end: LeNet and a ResNet with
// BatchNorm give the same results eager, hybridized and imported from
// their exported files; they train the same eager and hybridized; LeNet
// learns a slice of Fashion-MNIST.
#include <catch2/catch.hpp>
#include <filesystem>
#include <hybrid/data.hpp>
#include <hybrid/hybrid.hpp>

#include "../support/files.hpp"
#include "../support/models.hpp"

using namespace hybrid;
using testing::TempDir;

namespace {

template <class T>
double max_relative_difference(const TensorT<T>& a, const TensorT<T>& b) {
  REQUIRE(a.shape() == b.shape());
  double worst = 0;
  const auto x = a.to_vector(), y = b.to_vector();
  for (size_t i = 0; i < x.size(); ++i)
    worst = std::max(worst, std::abs(double(x[i]) - double(y[i])) / (1 + std::abs(double(y[i]))));
  return worst;
}

/// A few recorded SGD steps in train mode; returns the parameters after them.
template <class T, class Net>
std::vector<TensorT<T>> train_steps(Net& net, const TensorT<T>& x, const TensorT<T>& labels, int steps) {
  nn::loss::SoftmaxCrossEntropyLossT<T> loss;
  nn::TrainerT<T> trainer(net.collect_params(), "sgd", {{"learning_rate", 0.05}, {"momentum", 0.9}});
  for (int s = 0; s < steps; ++s) {
    TensorT<T> l;
    {
      auto rec = autograd::record();
      l = loss(net(x), labels);
    }
    l.backward();
    trainer.step(x.shape()[0]);
  }
  std::vector<TensorT<T>> values;
  for (const auto& p : net.collect_params()) values.push_back(p->data());
  return values;
}

/// Copies every parameter value of `from` into `to` (same architecture).
template <class T, class Net>
void copy_params(Net& from, Net& to) {
  const auto src = from.collect_params(), dst = to.collect_params();
  auto d = dst.begin();
  for (const auto& p : src) (*d++)->set_data(p->data());
}

template <class T, class MakeNet>
void check_eager_hybridized_imported(MakeNet make_net, const std::string& prefix, double tol) {
  random::seed(21);
  auto net = make_net();
  const TensorT<T> x = random::uniform<T>({3, 1, 28, 28});
  const TensorT<T> eager = net(x);
  net.hybridize();
  const TensorT<T> hybridized = net(x);
  CHECK(max_relative_difference(hybridized, eager) <= tol);
  net.export_model(prefix);
  auto imported = nn::SymbolBlockT<T>::imports(prefix + "-symbol.json", {"data"}, prefix + "-0000.params");
  CHECK(max_relative_difference((*imported)(x), hybridized) <= tol);
  // Another batch size, through the same files.
  const TensorT<T> x1 = slice(x, 0, 0, 1);
  CHECK(max_relative_difference((*imported)(x1), slice(eager, 0, 0, 1)) <= tol);
}

}  // namespace

TEMPLATE_TEST_CASE("LeNet: eager = hybridized = imported", "[nn][cnn]", float, double) {
  using T = TestType;
  TempDir dir;
  check_eager_hybridized_imported<T>([] { return testing::lenet<T>(); }, dir.file("lenet"),
                                     std::is_same_v<T, float> ? 1e-5 : 1e-12);
}

TEMPLATE_TEST_CASE("a ResNet with BatchNorm: eager = hybridized = imported", "[nn][cnn]", float, double) {
  using T = TestType;
  TempDir dir;
  check_eager_hybridized_imported<T>([] { return testing::small_resnet<T>(); }, dir.file("resnet"),
                                     std::is_same_v<T, float> ? 1e-5 : 1e-12);
}

namespace {
/// Two copies of one model with the same parameters, one hybridized, train
/// three steps each: every parameter (running statistics too) agrees.
template <class MakeNet>
void check_eager_trains_like_hybridized(MakeNet make_net) {
  random::seed(22);
  const TensorT<double> x = random::uniform<double>({4, 1, 28, 28});
  const TensorT<double> labels = from_vector<double>({1, 7, 3, 0}, {4});
  auto eager = make_net(), hybridized = make_net();
  (void)eager(x);
  (void)hybridized(x);
  copy_params<double>(eager, hybridized);
  hybridized.hybridize();
  const auto a = train_steps(eager, x, labels, 3), b = train_steps(hybridized, x, labels, 3);
  REQUIRE(a.size() == b.size());
  for (size_t k = 0; k < a.size(); ++k) CHECK(max_relative_difference(b[k], a[k]) <= 1e-10);
}
}  // namespace

TEST_CASE("LeNet and a ResNet train the same eager and hybridized", "[nn][cnn][training]") {
  SECTION("LeNet") { check_eager_trains_like_hybridized([] { return testing::lenet<double>(); }); }
  SECTION("ResNet, BatchNorm's running statistics too") {
    check_eager_trains_like_hybridized([] { return testing::small_resnet<double>(); });
  }
}

TEST_CASE("a trained ResNet round trips through its files with its running statistics", "[nn][cnn][io]") {
  TempDir dir;
  random::seed(23);
  auto net = testing::small_resnet<float>();
  net.hybridize();
  const Tensor x = random::uniform<float>({4, 1, 28, 28});
  const Tensor labels = from_vector<float>({2, 5, 9, 0}, {4});
  train_steps(net, x, labels, 3);
  const Tensor predicted = net(x);  // predict mode: running statistics, BatchNorm folded
  net.export_model(dir.file("trained"));
  auto imported = nn::SymbolBlock::imports(dir.file("trained-symbol.json"), {"data"}, dir.file("trained-0000.params"));
  CHECK(max_relative_difference((*imported)(x), predicted) <= 1e-5);
  for (const auto& p : net.collect_params())
    if (p->name().find("running") != std::string::npos)
      CHECK(allclose(imported->collect_params()[p->name()]->data(), p->data(), 0, 0));
}

TEST_CASE("a hybridized LeNet learns a slice of Fashion-MNIST", "[training][fashion_mnist][cnn]") {
  const std::string root = data::vision::kFashionMNISTRoot;
  if (!std::filesystem::exists(root + "/train-images-idx3-ubyte.gz")) {
    WARN("Fashion-MNIST is not installed in " << root << " (Debian package dataset-fashion-mnist): skipped");
    return;
  }
  const data::vision::FashionMNIST full(root, true);
  const Tensor features = full.features(), labels = full.labels();
  const data::ArrayDataset train(slice(features, 0, 0, 500), slice(labels, 0, 0, 500));
  const Tensor test_x = slice(features, 0, 500, 800), test_y = slice(labels, 0, 500, 800);
  random::seed(24);
  auto net = testing::lenet<float>();
  net.hybridize();
  nn::loss::SoftmaxCrossEntropyLoss loss;
  loss.hybridize();
  nn::Trainer trainer(net.collect_params(), "adam", {{"learning_rate", 0.003}});
  data::DataLoader loader(train, 50, true);
  auto test_accuracy = [&] { return sum(equal(argmax(net(test_x), 1), test_y)).item() / 300.0f; };
  const float before = test_accuracy();
  for (int epoch = 0; epoch < 3; ++epoch)
    for (const auto& [x, y] : loader) {
      Tensor l;
      {
        auto rec = autograd::record();
        l = loss(net(x), y);
      }
      l.backward();
      trainer.step(y.shape()[0]);
    }
  const float after = test_accuracy();
  INFO("test accuracy before " << before << ", after " << after);
  CHECK(after > 0.55f);  // chance is 0.1
}
