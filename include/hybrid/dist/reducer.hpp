#pragma once
// MpiReducer: the GradientReducer a dist::Context registers for Trainers
// with kvstore "dist_sync".
//
// Buckets: the gradients, in the Trainer's order, are packed into buckets of
// at most Settings::bucket_bytes (4 MiB by default) and each bucket is summed
// by one MPI_Iallreduce, so a model of many small tensors costs a few
// messages rather than one per tensor (each message pays the latency). A
// gradient as large as a bucket is summed in place, without a copy. Two
// buckets are in flight at a time: bucket k+1 is packed while bucket k is
// being reduced. bucket_bytes = 0 reduces each gradient on its own (the
// baseline of docs/distributed.md).
//
// Before the buckets, one 8-byte allgather compares a hash of the gradient
// sizes: processes that step different parameters fail with an Error on
// every process instead of summing mismatched buffers.
//
// The debug check (Settings::check_parameters) hashes every parameter value
// after the update and compares the hashes of all processes.
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "../core/dtype.hpp"
#include "../nn/gradient_reducer.hpp"
#include "collectives.hpp"

namespace hybrid::dist {

/// What the reducer did since the Context started (or since reset).
struct ReduceStats {
  int64_t steps = 0;     // reduce() calls
  int64_t messages = 0;  // allreduce calls for gradients (buckets)
  int64_t bytes = 0;     // gradient bytes summed
  double seconds = 0;    // wall time inside reduce(), the size check included
  /// Of `seconds`, the size check: its allgather is the first point where a
  /// process waits for the others, so it holds the wait for the slowest
  /// process (load imbalance), and the rest is the gradients' transfer.
  double sync_seconds = 0;
};

class MpiReducer final : public nn::GradientReducer {
 public:
  int size() const override { return detail::runtime("Trainer::step").size; }
  void reduce(const std::vector<TensorT<float>*>& grads) override { run(grads, float_buffers_); }
  void reduce(const std::vector<TensorT<double>*>& grads) override { run(grads, double_buffers_); }
  bool checks_parameters() const override {
    const detail::Runtime* r = detail::runtime_slot();
    return r && r->settings.check_parameters;
  }
  void check_parameters(const std::vector<TensorT<float>>& values) override { check(values); }
  void check_parameters(const std::vector<TensorT<double>>& values) override { check(values); }

  const ReduceStats& stats() const { return stats_; }
  void reset_stats() { stats_ = ReduceStats{}; }

 private:
  struct Bucket {
    size_t first = 0, last = 0;  // gradients [first, last)
    int64_t elements = 0;
    bool in_place = false;  // a single gradient reduced in its own buffer
  };

  template <class T>
  void run(const std::vector<TensorT<T>*>& grads, std::vector<T> (&buffers)[2]) {
    const auto start = std::chrono::steady_clock::now();
    detail::Runtime& r = detail::runtime("Trainer::step");
    uint64_t layout = detail::hash_value(static_cast<uint64_t>(dtype_of<T>()), 1469598103934665603ull);
    for (const TensorT<T>* g : grads) layout = detail::hash_value(static_cast<uint64_t>(g->size()), layout);
    const std::string differ = detail::differing_ranks(detail::allgather(layout, "Trainer::step (gradient sizes)"));
    if (!differ.empty())
      throw Error("Trainer::step with kvstore 'dist_sync': rank(s) " + differ +
                  " step other gradients than rank 0 (another set of parameters, other shapes or another dtype), "
                  "or changed other non-trainable parameters (running statistics: a forward pass in train mode on "
                  "some processes only); every process must step the same parameters. Nothing was updated");
    stats_.sync_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    plan(grads, static_cast<int64_t>(r.settings.bucket_bytes / static_cast<int64_t>(sizeof(T))));
    MPI_Request requests[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
    size_t in_flight[2] = {0, 0};
    auto finish = [&](int slot) {
      if (requests[slot] == MPI_REQUEST_NULL) return;
      detail::wait(requests[slot], "Trainer::step (gradient allreduce)");
      requests[slot] = MPI_REQUEST_NULL;
      const Bucket& b = buckets_[in_flight[slot]];
      if (b.in_place) return;
      const T* from = buffers[slot].data();
      for (size_t i = b.first; i < b.last; ++i) {
        const size_t n = static_cast<size_t>(grads[i]->size());
        std::memcpy(grads[i]->data(), from, n * sizeof(T));
        from += n;
      }
    };
    for (size_t k = 0; k < buckets_.size(); ++k) {
      const Bucket& b = buckets_[k];
      const int slot = static_cast<int>(k % 2);
      finish(slot);  // bucket k - 2 used this buffer
      stats_.bytes += b.elements * static_cast<int64_t>(sizeof(T));
      if (b.elements > detail::kMaxCount) {  // beyond one call's count: blocking, in pieces
        finish(1 - slot);
        detail::allreduce_values(grads[b.first]->data(), b.elements, "Trainer::step (gradient allreduce)");
        stats_.messages += (b.elements + detail::kMaxCount - 1) / detail::kMaxCount;
        continue;
      }
      T* data = nullptr;
      if (b.in_place) {
        data = grads[b.first]->data();
      } else {
        std::vector<T>& buffer = buffers[slot];
        if (buffer.size() < static_cast<size_t>(b.elements)) buffer.resize(static_cast<size_t>(b.elements));
        T* to = buffer.data();
        for (size_t i = b.first; i < b.last; ++i) {
          const size_t n = static_cast<size_t>(grads[i]->size());
          std::memcpy(to, grads[i]->data(), n * sizeof(T));
          to += n;
        }
        data = buffer.data();
      }
      detail::check(MPI_Iallreduce(MPI_IN_PLACE, data, static_cast<int>(b.elements), detail::mpi_type<T>(), MPI_SUM,
                                   r.comm, &requests[slot]),
                    "MPI_Iallreduce");
      in_flight[slot] = k;
      ++stats_.messages;
    }
    // The older bucket first.
    finish(static_cast<int>(buckets_.size() % 2));
    finish(static_cast<int>((buckets_.size() + 1) % 2));
    ++stats_.steps;
    stats_.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  /// Consecutive gradients fill a bucket up to `capacity` elements; one at
  /// least that large (or any, with capacity 0) is a bucket of its own, in place.
  template <class T>
  void plan(const std::vector<TensorT<T>*>& grads, int64_t capacity) {
    buckets_.clear();
    Bucket open;
    for (size_t i = 0; i < grads.size(); ++i) {
      const int64_t n = grads[i]->size();
      if (n == 0) continue;
      if (capacity <= 0 || n >= capacity) {
        buckets_.push_back(Bucket{i, i + 1, n, true});
        continue;
      }
      if (open.elements && (open.elements + n > capacity || open.last != i)) {
        buckets_.push_back(open);
        open = Bucket{};
      }
      if (!open.elements) open.first = i;
      open.last = i + 1;
      open.elements += n;
    }
    if (open.elements) buckets_.push_back(open);
  }

  template <class T>
  void check(const std::vector<TensorT<T>>& values) {
    uint64_t h = 1469598103934665603ull;
    for (const TensorT<T>& v : values)
      if (v.defined()) h = detail::hash_bytes(v.data(), static_cast<size_t>(v.size()) * sizeof(T), h);
    ++checked_steps_;
    const std::string differ = detail::differing_ranks(detail::allgather(h, "parameter check"));
    if (!differ.empty())
      throw Error("hybrid::dist: parameter check after dist_sync step " + std::to_string(checked_steps_) +
                  ": the parameters of rank(s) " + differ + " differ from rank 0's");
  }

  std::vector<Bucket> buckets_;
  std::vector<float> float_buffers_[2];
  std::vector<double> double_buffers_[2];
  ReduceStats stats_;
  int64_t checked_steps_ = 0;
};

}  // namespace hybrid::dist
