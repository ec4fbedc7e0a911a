// Trains d2l's multilayer perceptrons on Fashion-MNIST, eagerly and
// hybridized, and writes the learning curves as CSV.
//
//   train_fashion_mnist [--model mlp|deep] [--mode eager|hybrid|both] [--epochs 5]
//                       [--batch 256] [--optimizer sgd|adam|adamw] [--lr 0.1] [--momentum 0.9]
//                       [--csv fashion_mnist.csv] [--root /usr/share/datasets/fashion-mnist]
//                       [--train-limit N]
//
// mlp is 784 → 256 → 10 with ReLU (d2l's "concise implementation of
// multilayer perceptrons"), deep is 784 → 256 → 128 → 10. scripts/plot.sh
// turns the CSV into an SVG.
#include "fashion_mnist_training.hpp"

using namespace hybrid;

int main(int argc, char** argv) {
  try {
    fashion_mnist::Options defaults;
    defaults.program = "train_fashion_mnist";
    defaults.model = "mlp";
    defaults.csv = "fashion_mnist.csv";
    const fashion_mnist::Options o = fashion_mnist::parse(argc, argv, defaults, {"mlp", "deep"});
    const double acc = fashion_mnist::train_all(o, [](const std::string& model) {
      auto net = std::make_shared<nn::HybridSequential>();
      if (model == "mlp") {
        net->add(nn::Dense(256, "relu", true, 784), nn::Dense(10, "", true, 256));
      } else {
        net->add(nn::Dense(256, "relu", true, 784), nn::Dense(128, "relu", true, 256), nn::Dense(10, "", true, 128));
      }
      net->initialize(nn::init::Normal(0.01));  // d2l's initialization
      return net;
    });
    if (acc < 0.85 && o.train_limit == 0 && o.epochs >= 5) std::printf("test accuracy below 85%%\n");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_fashion_mnist: %s\n", e.what());
    return 1;
  }
}
