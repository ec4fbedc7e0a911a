#pragma once
// Flatten: (N, d1, d2, …) → (N, d1·d2·…), Gluon's Flatten, between
// convolution or pooling layers and Dense.
#include <string>

#include "../api/tensor_ops.hpp"
#include "hybrid_block.hpp"

namespace hybrid::nn {

template <class T>
class FlattenT : public HybridBlockT<T> {
 public:
  TensorT<T> forward(const TensorT<T>& x) override {
    if (x.ndim() < 1)
      throw ShapeError(this->error_context() + "needs an input with a batch axis, got shape " + to_string(x.shape()));
    int64_t rest = 1;
    for (int d = 1; d < x.ndim(); ++d) rest *= x.shape()[d];
    // The batch stays -1, so a traced graph flattens any batch size; an
    // empty row (rest = 0) leaves nothing to infer -1 from.
    return hybrid::reshape(x, rest ? Shape{-1, rest} : Shape{x.shape()[0], 0});
  }
  std::string type_name() const override { return "Flatten"; }
  std::string describe() const override { return "Flatten"; }
};

using Flatten = FlattenT<float>;

}  // namespace hybrid::nn
