#pragma once
// SequentialT<T> (any blocks) and HybridSequentialT<T> (HybridBlocks only):
// children named "0", "1", … applied in order.
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "hybrid_block.hpp"

namespace hybrid::nn {

namespace detail {

template <class P>
struct is_shared_ptr : std::false_type {};
template <class P>
struct is_shared_ptr<std::shared_ptr<P>> : std::true_type {};

/// The stacking logic, shared by both containers; Base is BlockT<T> or HybridBlockT<T>.
template <class T, class Base>
class SequentialImpl : public Base {
 public:
  /// Appends blocks, each moved in by value or shared as a std::shared_ptr.
  /// Nothing is added if any of them is refused.
  template <class... Bs>
  void add(Bs&&... blocks) {
    static_assert(((is_shared_ptr<std::decay_t<Bs>>::value ||
                    (std::is_base_of_v<BlockT<T>, std::decay_t<Bs>> && !std::is_lvalue_reference_v<Bs>)) &&
                   ...),
                  "add(): pass each block by value (std::move an existing one) or as a std::shared_ptr");
    size_t index = size();
    (check(pointer_of(blocks), index++), ...);
    (this->register_block(std::to_string(size()), std::forward<Bs>(blocks)), ...);
  }

  size_t size() const { return this->children().size(); }

  std::shared_ptr<BlockT<T>> operator[](size_t i) const {
    if (i >= size())
      throw Error(this->error_context() + "index " + std::to_string(i) + " is out of range for " + std::to_string(size()) +
                  " blocks");
    return this->children()[i].second;
  }

  /// Each child's output feeds the next; an empty container is the identity.
  TensorT<T> forward(const TensorT<T>& x) override {
    TensorT<T> y = x;
    for (const auto& child : this->children()) y = (*child.second)(y);
    return y;
  }

 private:
  template <class B>
  static const BlockT<T>* pointer_of(const std::shared_ptr<B>& b) {
    return b.get();
  }
  template <class B, class = std::enable_if_t<std::is_base_of_v<BlockT<T>, B>>>
  static const BlockT<T>* pointer_of(const B& b) {
    return &b;
  }

  void check(const BlockT<T>* block, size_t index) const {
    if (!block) throw Error(this->error_context() + "add(): block " + std::to_string(index) + " is null");
    // Gluon's HybridSequential refuses plain Blocks: they could not be traced.
    if constexpr (std::is_base_of_v<HybridBlockT<T>, Base>) {
      if (!block->is_hybrid())
        throw Error(this->error_context() + "child '" + std::to_string(index) + "' is a " + block->type_name() +
                    " (a Block, not a HybridBlock); only HybridBlocks can be hybridized");
    }
  }
};

}  // namespace detail

template <class T>
class SequentialT : public detail::SequentialImpl<T, BlockT<T>> {
 public:
  std::string type_name() const override { return "Sequential"; }
};

template <class T>
class HybridSequentialT : public detail::SequentialImpl<T, HybridBlockT<T>> {
 public:
  std::string type_name() const override { return "HybridSequential"; }
};

using Sequential = SequentialT<float>;
using HybridSequential = HybridSequentialT<float>;

}  // namespace hybrid::nn
