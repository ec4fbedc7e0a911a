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

/// Every op a graph file can hold (each portable op of the op table at
/// least once), so each attribute codec and each export mapping is used.
template <class T>
class AllOpsNetT : public hybrid::nn::HybridBlockT<T> {
 public:
  AllOpsNetT() {
    dense = this->register_block("dense", hybrid::nn::DenseT<T>(6, "", /*use_bias=*/false));
    bn = this->register_block("bn", hybrid::nn::BatchNormT<T>());
    w = this->register_parameter("w", hybrid::Shape{4, 3});
    b = this->register_parameter("b", hybrid::Shape{4});
    gamma = this->register_parameter("gamma", hybrid::Shape{8});
    beta = this->register_parameter("beta", hybrid::Shape{8});
    table = this->register_parameter("table", hybrid::Shape{6, 2});
    cw = this->register_parameter("cw", hybrid::Shape{2, 1, 2, 2});
    cb = this->register_parameter("cb", hybrid::Shape{2});
  }
  hybrid::TensorT<T> forward(const hybrid::TensorT<T>& x) override {
    using namespace hybrid;
    const TensorT<T> d = (*dense)(x);  // fully_connected, no_bias
    const TensorT<T> pos = abs(d) + T(1);
    const TensorT<T> un = -d + exp(-abs(d)) + log(pos) + sqrt(pos) + tanh(d) + sigmoid(d) + relu(d) + softrelu(d) +
                          pow(pos, T(1.5));
    TensorT<T> bin =
        (d - un) * un / pos + maximum(d, un) - minimum(d, un) + greater(d, un) + less(d, un) + equal(d, un);
    bin = where(greater(d, T(0)), bin, un);
    const TensorT<T> r = reshape(bin, {-1, 2, 3});
    // flatten=false and a tanh epilogue: (N, 2, 3) · (4, 3)ᵀ + b → (N, 2, 4)
    const TensorT<T> fc = fully_connected(r, w->data(), b->data(), /*flatten=*/false, OpCode::tanh);
    const TensorT<T> mm = matmul(fc, transpose(fc, {0, 2, 1}));  // (N, 2, 2)
    // Elementwise ops with attributes (values exact in float, so the file's
    // numbers read back unchanged), indexing, stack / split / pad /
    // broadcast_to, and reductions over several axes.
    const TensorT<T> act = square(d) + rsqrt(pos) + log1p(pos) + gelu(d) + silu(d) + leaky_relu(d, 0.25) +
                           clip(d, -0.5, 0.75) + erf(d);          // (N, 6)
    const TensorT<T> best = argmax(x, 1);                         // (N,): from the input, exact at any batch
    const TensorT<T> hot = one_hot(best, 6, 2.0, -1.0);           // (N, 6)
    const TensorT<T> picked = pick(act, best, 1, true);           // (N, 1)
    const TensorT<T> taken = pad(take(act, from_vector<T>({5, 0, 3}), 1), {0, 0, 1, 2}, 0.5);  // (N, 6)
    const TensorT<T> st = stack<T>({act, hot, taken}, 1);         // (N, 3, 6)
    // A grouped, padded, dilated convolution with a sigmoid epilogue: (N, 2, 1, 3) → (N, 2, 2, 1).
    const TensorT<T> im = conv2d(reshape(act, {-1, 2, 1, 3}), cw->data(), cb->data(), {1, 1}, {1, 0}, {1, 2}, 2,
                                 OpCode::sigmoid);
    const std::vector<TensorT<T>> halves = split(st, 2, -1);      // two slices (N, 3, 3)
    // Pooling, normalization and embedding.
    const TensorT<T> img = reshape(act, {-1, 1, 2, 3});
    const TensorT<T> ap = avg_pool2d(max_pool2d(img, {2, 2}, {1, 1}, {1, 1}), {2, 3}, {2, 1}, {1, 1}, false);  // (N, 1, 2, 4)
    const TensorT<T> ln = layer_norm(reshape(ap, {-1, 8}), gamma->data(), beta->data(), 1, 0.0625);  // (N, 8)
    const TensorT<T> nn_parts = concat<T>({reshape(global_avg_pool2d(ap), {-1, 1}), ln, embedding(best, table->data())}, 1);
    const TensorT<T> parts = concat<T>(
        {sum(mm, 1), mean(mm, -1), max(mm, 2), reshape(sum(mm, 2, true), {-1, 2}), transpose(sum(transpose(mm), 0)),
         slice(bin, 1, -4, 100), reshape(sum(halves[0], {1, 2}), {-1, 1}),
         reshape(mean(halves[1], {-1, -2}, true), {-1, 1}), max(reshape(st, {-1, 3, 2, 3}), {1, 3}), picked,
         taken + broadcast_to(mean(x), {1, 6}) + dropout((*bn)(act), 0.25), nn_parts, reshape(im, {-1, 4})},
        1);  // (N, 40)
    const TensorT<T> z = parts + mean(x) * T(0.5) - max(x) * T(0.25) + sum(x, 1, true) * T(0.125);
    return concat<T>({log_softmax(z, 1), softmax(z)}, -1);
  }
  std::shared_ptr<hybrid::nn::DenseT<T>> dense;
  std::shared_ptr<hybrid::nn::BatchNormT<T>> bn;
  std::shared_ptr<hybrid::nn::ParameterT<T>> w, b, gamma, beta, table, cw, cb;
};

}  // namespace testing
