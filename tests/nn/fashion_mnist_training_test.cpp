// End to end: a small hybridized MLP trained on a slice of Fashion-MNIST
// (Debian's dataset-fashion-mnist) learns well above chance. The full
// five-epoch run is examples/train_fashion_mnist.
#include <catch2/catch.hpp>
#include <filesystem>
#include <hybrid/data.hpp>
#include <hybrid/hybrid.hpp>

using namespace hybrid;

TEST_CASE("a hybridized MLP learns a slice of Fashion-MNIST", "[training][fashion_mnist]") {
  const std::string root = data::vision::kFashionMNISTRoot;
  if (!std::filesystem::exists(root + "/train-images-idx3-ubyte.gz")) {
    WARN("Fashion-MNIST is not installed in " << root << " (Debian package dataset-fashion-mnist): skipped");
    return;
  }
  const data::vision::FashionMNIST full(root, true);
  // 600 images to learn from, the next 400 to evaluate.
  const Tensor features = full.features(), labels = full.labels();
  const data::ArrayDataset train(slice(features, 0, 0, 600), slice(labels, 0, 0, 600));
  const Tensor test_x = slice(features, 0, 600, 1000), test_y = slice(labels, 0, 600, 1000);

  random::seed(5);
  nn::HybridSequential net;
  net.add(nn::Dense(64, "relu"), nn::Dense(10));
  net.initialize(nn::init::Xavier());
  net.hybridize();
  nn::loss::SoftmaxCrossEntropyLoss loss;
  loss.hybridize();
  nn::Trainer trainer(net.collect_params(), "sgd", {{"learning_rate", 0.1}, {"momentum", 0.9}});
  data::DataLoader loader(train, 50, true);

  auto test_accuracy = [&] { return sum(equal(argmax(net(test_x), 1), test_y)).item() / 400.0f; };
  const float before = test_accuracy();
  float first_loss = 0, last_loss = 0;
  for (int epoch = 0; epoch < 4; ++epoch) {
    float epoch_loss = 0;
    for (const auto& [x, y] : loader) {
      Tensor l;
      {
        auto rec = autograd::record();
        l = loss(net(x), y);
      }
      l.backward();
      trainer.step(y.shape()[0]);
      epoch_loss += mean(l).item();
    }
    if (epoch == 0) first_loss = epoch_loss;
    last_loss = epoch_loss;
  }
  const float after = test_accuracy();
  INFO("test accuracy before " << before << ", after " << after << "; loss " << first_loss << " -> " << last_loss);
  CHECK(last_loss < first_loss);
  CHECK(after > 0.6f);  // chance is 0.1
}
