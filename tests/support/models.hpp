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

}  // namespace testing
