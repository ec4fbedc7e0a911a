#pragma once
// The chapter's models, shared by the tests that need them.
#include <hybrid/hybrid.hpp>
#include <iostream>
#include <memory>

namespace testing {

/// get_net(): Dense(256, relu) → Dense(128, relu) → Dense(2), initialized.
template <class T>
hybrid::nn::HybridSequentialT<T> seed_mlp() {
  hybrid::nn::HybridSequentialT<T> net;
  net.add(hybrid::nn::DenseT<T>(256, "relu"), hybrid::nn::DenseT<T>(128, "relu"), hybrid::nn::DenseT<T>(2));
  net.initialize();
  return net;
}

/// HybridNet: a Dense(4) hidden layer, relu, a Dense(2) output. With `print`
/// it prints inside forward as the chapter does; it counts its forward runs.
template <class T>
class HybridNetT : public hybrid::nn::HybridBlockT<T> {
 public:
  HybridNetT() {
    hidden = this->register_block("hidden", hybrid::nn::DenseT<T>(4));
    output = this->register_block("output", hybrid::nn::DenseT<T>(2));
  }
  hybrid::TensorT<T> forward(const hybrid::TensorT<T>& x) override {
    ++forward_runs;
    if (print) std::cout << "value  x: " << x << "\n";
    hybrid::TensorT<T> h = hybrid::relu((*hidden)(x));
    if (print) std::cout << "result  : " << h << "\n";
    return (*output)(h);
  }
  std::shared_ptr<hybrid::nn::DenseT<T>> hidden, output;
  bool print = false;
  int forward_runs = 0;
};

/// d2l's LeNet with ReLU and max pooling, for 28×28 single-channel images.
template <class T>
hybrid::nn::HybridSequentialT<T> lenet() {
  namespace nn = hybrid::nn;
  nn::HybridSequentialT<T> net;
  net.add(nn::Conv2DT<T>(6, 5, 1, 2, 1, 1, "relu"), nn::MaxPool2DT<T>(2, 2), nn::Conv2DT<T>(16, 5, 1, 0, 1, 1, "relu"),
          nn::MaxPool2DT<T>(2, 2), nn::DenseT<T>(120, "relu"), nn::DenseT<T>(84, "relu"), nn::DenseT<T>(10));
  net.initialize(nn::init::Xavier());
  return net;
}

/// d2l's Residual block: two 3×3 convolutions with BatchNorm, a 1×1
/// convolution on the shortcut when the shape changes.
template <class T>
class ResidualT : public hybrid::nn::HybridBlockT<T> {
 public:
  ResidualT(int64_t channels, bool use_1x1conv, int64_t strides = 1) {
    namespace nn = hybrid::nn;
    conv1 = this->register_block("conv1", nn::Conv2DT<T>(channels, 3, strides, 1));
    conv2 = this->register_block("conv2", nn::Conv2DT<T>(channels, 3, 1, 1));
    if (use_1x1conv) conv3 = this->register_block("conv3", nn::Conv2DT<T>(channels, 1, strides));
    bn1 = this->register_block("bn1", nn::BatchNormT<T>());
    bn2 = this->register_block("bn2", nn::BatchNormT<T>());
  }
  hybrid::TensorT<T> forward(const hybrid::TensorT<T>& x) override {
    const hybrid::TensorT<T> y = (*bn2)((*conv2)(hybrid::relu((*bn1)((*conv1)(x)))));
    return hybrid::relu(y + (conv3 ? (*conv3)(x) : x));
  }
  std::shared_ptr<hybrid::nn::Conv2DT<T>> conv1, conv2, conv3;
  std::shared_ptr<hybrid::nn::BatchNormT<T>> bn1, bn2;
};

/// A small ResNet for 28×28 images: conv + BatchNorm, Residual(8),
/// Residual(16, 1×1 shortcut, stride 2), global average pooling, Dense(10).
template <class T>
hybrid::nn::HybridSequentialT<T> small_resnet() {
  namespace nn = hybrid::nn;
  nn::HybridSequentialT<T> net;
  net.add(nn::Conv2DT<T>(8, 3, 1, 1), nn::BatchNormT<T>(), nn::ActivationT<T>("relu"), ResidualT<T>(8, false),
          ResidualT<T>(16, true, 2), nn::GlobalAvgPool2DT<T>(), nn::DenseT<T>(10));
  net.initialize(nn::init::Xavier());
  return net;
}

}  // namespace testing
