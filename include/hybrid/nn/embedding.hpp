#pragma once
// EmbeddingT<T>: Gluon's Embedding, a lookup of rows of a weight
// (input_dim, output_dim) by index; indices are integers stored in T, and an
// index outside [0, input_dim) is an Error naming it.
#include <string>

#include "../api/tensor_ops.hpp"
#include "hybrid_block.hpp"

namespace hybrid::nn {

template <class T>
class EmbeddingT : public HybridBlockT<T> {
 public:
  EmbeddingT(int64_t input_dim, int64_t output_dim) : input_dim_(input_dim), output_dim_(output_dim) {
    if (input_dim <= 0 || output_dim <= 0)
      throw Error("Embedding: input_dim and output_dim must be positive, got " + std::to_string(input_dim) + " and " +
                  std::to_string(output_dim));
    // No initializer of its own: the one given to initialize(), as Gluon's weight_initializer=None.
    weight_ = this->register_parameter("weight", Shape{input_dim, output_dim});
  }

  /// indices of any shape → indices.shape + (output_dim,).
  TensorT<T> forward(const TensorT<T>& indices) override { return hybrid::embedding(indices, weight_->data()); }

  std::string type_name() const override { return "Embedding"; }
  /// "Embedding(10 -> 4)", as Gluon's repr.
  std::string describe() const override {
    return "Embedding(" + std::to_string(input_dim_) + " -> " + std::to_string(output_dim_) + ")";
  }

  int64_t input_dim() const { return input_dim_; }
  int64_t output_dim() const { return output_dim_; }
  const std::shared_ptr<ParameterT<T>>& weight() const { return weight_; }

 private:
  int64_t input_dim_, output_dim_;
  std::shared_ptr<ParameterT<T>> weight_;
};

using Embedding = EmbeddingT<float>;

}  // namespace hybrid::nn
