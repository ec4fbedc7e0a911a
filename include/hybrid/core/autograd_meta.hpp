#pragma once
// What a tensor carries for autograd. A tensor that needs gradients has a
// Meta: a leaf (attach_grad(), a parameter's value) owns the buffer its
// gradient is written into; a result recorded on the tape points to the
// tape node that produced it. Nodes point to their inputs' metas, so a
// result keeps alive exactly the part of the tape it was computed from, and
// the tape is freed when the last result is dropped (PyTorch's design; MXNet
// keeps one tape per thread instead).
//
// This header only holds the data; recording is in api/tape.hpp and the
// backward pass in autograd/backward.hpp.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "errors.hpp"

namespace hybrid {

template <class T>
class TensorT;

namespace autograd {

/// How backward treats a leaf's gradient buffer (Gluon's grad_req).
enum class GradReq : uint8_t {
  write,  // each backward overwrites the buffer
  add,    // each backward adds to it (zero_grad() clears it)
  null,   // no gradient: the leaf is treated as a constant
};

inline GradReq parse_grad_req(const std::string& req, const std::string& who) {
  if (req == "write") return GradReq::write;
  if (req == "add") return GradReq::add;
  if (req == "null") return GradReq::null;
  throw Error(who + ": grad_req '" + req + "' is not one of \"write\", \"add\", \"null\"");
}

inline const char* grad_req_name(GradReq req) {
  switch (req) {
    case GradReq::write: return "write";
    case GradReq::add: return "add";
    case GradReq::null: return "null";
  }
  return "?";
}

template <class T>
struct NodeT;

/// Told, during backward, the final gradient of a leaf before the leaf's
/// buffer is written (a "dist_sync" Trainer starts sending it to the other
/// processes then, overlapping the exchange with the rest of backward).
template <class T>
struct GradHookT {
  virtual ~GradHookT() = default;
  /// `grad` holds the n values backward will leave in the buffer (for
  /// grad_req "add", the buffer's sum); valid during the call only.
  virtual void ready(const T* grad, int64_t n) = 0;
  /// The backward that called ready() failed later: the buffer keeps its
  /// old values (a backward that fails changes no gradient).
  virtual void abandoned() {}
};

template <class T>
struct MetaT {
  bool leaf = false;
  GradReq req = GradReq::write;
  /// Leaves: the gradient buffer, shaped like the tensor (allocated lazily).
  TensorT<T> grad;
  /// Leaves: a backward wrote the buffer since the last clear_fresh()
  /// (the Trainer uses it to find stale gradients).
  bool fresh = false;
  /// Results: the tape node that made the tensor, and which of its outputs it is.
  std::shared_ptr<NodeT<T>> producer;
  int output_index = 0;
  /// Leaves: told each backward's final gradient as soon as its last
  /// contribution is in (null: nobody listens).
  std::shared_ptr<GradHookT<T>> on_ready;

  bool needs_grad() const { return leaf ? req != GradReq::null : producer != nullptr; }
};

/// One recorded step of the tape: an op, or a whole hybridized call.
template <class T>
struct NodeT {
  /// Creation order: a node's inputs were made by nodes with smaller
  /// numbers, so visiting nodes in decreasing order is a topological order.
  const uint64_t sequence = next_sequence();
  /// For each input, its meta when it needs a gradient, else null.
  std::vector<std::shared_ptr<MetaT<T>>> inputs;
  int num_outputs = 1;
  /// Set once backward has used and freed the saved tensors.
  bool released = false;

  virtual ~NodeT() = default;
  /// Gradients of the inputs (undefined = zero or not wanted) from those of
  /// the outputs (undefined = zero; at least one is defined).
  virtual void backward(const std::vector<TensorT<T>>& grad_outputs, std::vector<TensorT<T>>& grad_inputs) = 0;
  /// backward() for a node that finishes some inputs' gradients well before
  /// the others (a hybridized call's plan): early(i, g) hands input i's
  /// gradient out at once and leaves grad_inputs[i] undefined. Called
  /// instead of backward() when a leaf listens (GradHookT).
  virtual void backward_early(const std::vector<TensorT<T>>& grad_outputs, std::vector<TensorT<T>>& grad_inputs,
                              const std::function<void(size_t, const TensorT<T>&)>& early) {
    (void)early;
    backward(grad_outputs, grad_inputs);
  }
  /// Frees what the node saved for backward.
  virtual void release() = 0;
  /// For error messages: "multiply", "HybridBlock 'net'".
  virtual std::string describe() const = 0;

 private:
  static uint64_t next_sequence() {
    static std::atomic<uint64_t> counter{0};
    return counter.fetch_add(1, std::memory_order_relaxed);
  }
};

}  // namespace autograd
}  // namespace hybrid
