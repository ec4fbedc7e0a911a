#pragma once
// HybridLambdaT<T>: a function of tensors as a hybridizable layer, e.g.
// HybridLambda([](const Tensor& x) { return relu(x) * 2; }).
#include <functional>
#include <string>
#include <utility>

#include "hybrid_block.hpp"

namespace hybrid::nn {

template <class T>
class HybridLambdaT : public HybridBlockT<T> {
 public:
  using Function = std::function<TensorT<T>(const TensorT<T>&)>;

  /// `name` is shown by summary(), e.g. "HybridLambda(scale)".
  explicit HybridLambdaT(Function fn, std::string name = "") : fn_(std::move(fn)), name_(std::move(name)) {
    if (!fn_) throw Error("HybridLambda: the function is empty");
  }

  TensorT<T> forward(const TensorT<T>& x) override { return fn_(x); }
  std::string type_name() const override { return "HybridLambda"; }
  std::string describe() const override { return name_.empty() ? type_name() : type_name() + "(" + name_ + ")"; }

 private:
  Function fn_;
  std::string name_;
};

using HybridLambda = HybridLambdaT<float>;

}  // namespace hybrid::nn
