// Trains the book's convolutional networks on Fashion-MNIST, eagerly and
// hybridized, and writes the learning curves as CSV:
//   lenet   LeNet as in d2l, with ReLU and max pooling:
//           conv 6@5×5 (padding 2) → max pool 2 → conv 16@5×5 → max pool 2
//           → dense 120 → dense 84 → dense 10;
//   resnet  a small ResNet at 28×28: conv 16@3×3 + BatchNorm → d2l's
//           Residual(16) → Residual(32, 1×1 shortcut, stride 2)
//           → global average pooling → dense 10.
//
//   lenet [--model lenet|resnet] [--mode eager|hybrid|both] [--epochs 10]
//         [--batch 128] [--optimizer adam|sgd|adamw] [--lr 0.001] [--momentum 0.9]
//         [--csv lenet.csv] [--root /usr/share/datasets/fashion-mnist] [--train-limit N]
#include "fashion_mnist_training.hpp"

using namespace hybrid;

namespace {

/// d2l's Residual block: two 3×3 convolutions with BatchNorm, and a 1×1
/// convolution on the shortcut when the shape changes.
class Residual : public nn::HybridBlock {
 public:
  Residual(int64_t channels, bool use_1x1conv, int64_t strides = 1) {
    conv1 = register_block("conv1", nn::Conv2D(channels, 3, strides, 1));
    conv2 = register_block("conv2", nn::Conv2D(channels, 3, 1, 1));
    if (use_1x1conv) conv3 = register_block("conv3", nn::Conv2D(channels, 1, strides));
    bn1 = register_block("bn1", nn::BatchNorm());
    bn2 = register_block("bn2", nn::BatchNorm());
  }
  Tensor forward(const Tensor& x) override {
    const Tensor y = (*bn2)((*conv2)(relu((*bn1)((*conv1)(x)))));
    return relu(y + (conv3 ? (*conv3)(x) : x));
  }

 private:
  std::shared_ptr<nn::Conv2D> conv1, conv2, conv3;
  std::shared_ptr<nn::BatchNorm> bn1, bn2;
};

std::shared_ptr<nn::HybridBlock> make_net(const std::string& model) {
  auto net = std::make_shared<nn::HybridSequential>();
  if (model == "lenet") {
    net->add(nn::Conv2D(6, 5, 1, 2, 1, 1, "relu"), nn::MaxPool2D(2, 2), nn::Conv2D(16, 5, 1, 0, 1, 1, "relu"),
             nn::MaxPool2D(2, 2), nn::Dense(120, "relu"), nn::Dense(84, "relu"), nn::Dense(10));
  } else {
    net->add(nn::Conv2D(16, 3, 1, 1), nn::BatchNorm(), nn::Activation("relu"), Residual(16, false),
             Residual(32, true, 2), nn::GlobalAvgPool2D(), nn::Dense(10));
  }
  net->initialize(nn::init::Xavier());
  (void)(*net)(zeros<float>({1, 1, 28, 28}));  // infers the deferred shapes, so the count below is complete
  return net;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    fashion_mnist::Options defaults;
    defaults.program = "lenet";
    defaults.model = "lenet";
    defaults.csv = "lenet.csv";
    defaults.epochs = 10;
    defaults.batch = 128;
    defaults.optimizer = "adam";
    defaults.lr = 0.001;
    const fashion_mnist::Options o = fashion_mnist::parse(argc, argv, defaults, {"lenet", "resnet"});
    const double acc = fashion_mnist::train_all(o, make_net);
    if (acc < 0.88 && o.model == "lenet" && o.train_limit == 0 && o.epochs >= 10)
      std::printf("test accuracy below 88%%\n");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lenet: %s\n", e.what());
    return 1;
  }
}
