#pragma once
// GradientReducer: how a Trainer with kvstore "dist_sync" combines its
// gradients with those of the other processes. The core knows only this
// interface; the dist component (hybrid/dist.hpp, on MPI) implements it and
// registers one while a dist::Context lives, so hybrid/hybrid.hpp stays free
// of MPI (docs/ARCHITECTURE.md, "Many processes").
//
// Every process calls reduce() with the same list of tensors, in the same
// order, and gets back their sums over all processes, in place: the
// Trainer's gradients, followed by copies of the non-trainable parameters
// that changed since its last step (running statistics), which it then
// divides by size().
// check_parameters() runs after each update in the reducer's debug mode and
// throws when the processes' parameters differ.
//
// Overlap with backward: a reducer may also hand a Trainer an
// OverlappedReduce, a plan of buckets over the Trainer's trainable
// parameters. The Trainer then tells it each gradient as backward finishes
// it (autograd::GradHookT), so buckets are on the wire while backward still
// runs, and step() only collects the sums (finish()).
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "../core/errors.hpp"
#include "../core/tensor.hpp"

namespace hybrid::nn {

/// One Trainer's exchange overlapped with backward; the slots are the
/// gradients it was opened with, in order.
template <class T>
class OverlappedReduce {
 public:
  virtual ~OverlappedReduce() = default;
  /// During backward: slot's gradient is final; `grad` holds its values
  /// during the call only.
  virtual void ready(size_t slot, const T* grad) = 0;
  /// The backward that reported failed before it finished: its values
  /// will not be stepped, so step() reads the buffers again.
  virtual void abandon() = 0;
  /// In step(): the sum over all processes of every slot's gradient into
  /// grads[slot] (null: a slot this process does not step this time, sent as
  /// zeros); a slot backward did not report is read from grads[slot] now.
  /// Then `extras` are summed in place as GradientReducer::reduce does.
  /// `plan` (the slots the Trainer wants next) must agree too: processes
  /// that differ in it, or in what they step, fail with an Error on every
  /// process before anything is summed into `grads`.
  virtual void finish(const std::vector<TensorT<T>*>& grads, const std::vector<TensorT<T>*>& extras,
                      uint64_t plan) = 0;
};

class GradientReducer {
 public:
  virtual ~GradientReducer() = default;
  /// The number of processes whose gradients are summed.
  virtual int size() const = 0;
  /// Sums every tensor over all processes, in place.
  virtual void reduce(const std::vector<TensorT<float>*>& grads) = 0;
  virtual void reduce(const std::vector<TensorT<double>*>& grads) = 0;
  /// Whether check_parameters() does anything (the Trainer then gathers the values).
  virtual bool checks_parameters() const { return false; }
  /// After an update: throws when the values differ between processes (a
  /// no-op unless the reducer checks).
  virtual void check_parameters(const std::vector<TensorT<float>>& values) { (void)values; }
  virtual void check_parameters(const std::vector<TensorT<double>>& values) { (void)values; }
  /// Whether Trainers should open an exchange overlapped with backward.
  virtual bool overlaps() const { return false; }
  /// An exchange overlapped with backward over gradients of these sizes,
  /// or null when the reducer does not overlap (the default). Every process
  /// must open with the same sizes at the same point.
  virtual std::shared_ptr<OverlappedReduce<float>> overlap(const std::vector<int64_t>& sizes, float* /*dtype*/) {
    (void)sizes;
    return nullptr;
  }
  virtual std::shared_ptr<OverlappedReduce<double>> overlap(const std::vector<int64_t>& sizes, double* /*dtype*/) {
    (void)sizes;
    return nullptr;
  }
};

namespace detail {
struct ReducerSlot {
  std::mutex mutex;
  std::shared_ptr<GradientReducer> reducer;
};
inline ReducerSlot& reducer_slot() {
  static ReducerSlot slot;
  return slot;
}
}  // namespace detail

/// Installs the process-wide reducer of "dist_sync" trainers (null removes it).
inline void register_gradient_reducer(std::shared_ptr<GradientReducer> reducer) {
  detail::ReducerSlot& slot = detail::reducer_slot();
  std::lock_guard<std::mutex> lock(slot.mutex);
  slot.reducer = std::move(reducer);
}

/// The registered reducer, or null.
inline std::shared_ptr<GradientReducer> gradient_reducer() {
  detail::ReducerSlot& slot = detail::reducer_slot();
  std::lock_guard<std::mutex> lock(slot.mutex);
  return slot.reducer;
}

}  // namespace hybrid::nn
