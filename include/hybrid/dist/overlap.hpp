#pragma once
// OverlappedExchange: one Trainer's gradient exchange started during
// backward (Settings::overlap_backward).
//
// The Trainer's trainable parameters, last first, are planned into buckets
// once (buckets.hpp), each with its own buffer. During backward each
// gradient is copied into its bucket's buffer as soon as it is final
// (autograd::GradHookT); a bucket whose gradients are all in starts its
// MPI_Iallreduce on the exchange's own communicator, in bucket order, so
// every process issues the same collectives in the same order whatever its
// timing, and they never pair with another exchange's or with a collective
// the program calls meanwhile. Open MPI progresses a non-blocking
// collective only inside MPI calls, so every report also tests the buckets
// in flight.
//
// step() (finish) packs what backward did not report, starts the rest,
// then one 8-byte allgather agrees on the step: the same gradients stepped
// and the same plan for the next steps everywhere (else an Error on every
// process, before any update), and whether any process ran a second
// backward since the last step (gradient accumulation, or a backward not
// followed by a step) or had a backward fail after it reported: the buckets
// then hold other values than the buffers, so every process sums its
// current gradients again at step, without overlap.
//
// So between two steps every process sends every bucket exactly once,
// whatever its backwards did: a backward on some processes only (a
// saliency map on rank 0) is absorbed by the next step. Destroying the
// exchange (the Trainer) completes a round this process began, so the
// others must destroy theirs too; a process whose backward reached none of
// the parameters since the last step has no round to complete, and the
// others then wait until the deadline.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "../core/dtype.hpp"
#include "../nn/gradient_reducer.hpp"
#include "buckets.hpp"
#include "collectives.hpp"

namespace hybrid::dist::detail {

template <class T>
class OverlappedExchange final : public nn::OverlappedReduce<T> {
 public:
  /// Takes `comm` (a communicator of its own) and frees it.
  OverlappedExchange(const std::vector<int64_t>& sizes, int64_t capacity, MPI_Comm comm,
                     std::shared_ptr<ReduceStats> stats)
      : sizes_(sizes), capacity_(capacity), comm_(comm), stats_(std::move(stats)) {
    buckets_ = plan_buckets(sizes_, capacity_);
    slot_bucket_.assign(sizes_.size(), kNone);
    offset_.assign(sizes_.size(), 0);
    buffers_.resize(buckets_.size());
    for (size_t b = 0; b < buckets_.size(); ++b) {
      int64_t offset = 0;
      for (size_t i = buckets_[b].first; i < buckets_[b].last; ++i) {
        if (sizes_[i] == 0) continue;
        slot_bucket_[i] = b;
        offset_[i] = offset;
        offset += sizes_[i];
      }
      // A bucket beyond one call's count is summed at step, in place.
      if (buckets_[b].elements <= kMaxCount) buffers_[b].resize(static_cast<size_t>(buckets_[b].elements));
    }
    requests_.assign(buckets_.size(), MPI_REQUEST_NULL);
    new_cycle();
  }
  OverlappedExchange(const OverlappedExchange&) = delete;
  OverlappedExchange& operator=(const OverlappedExchange&) = delete;

  // A round this process began (a gradient reported since the last step)
  // is completed, with zeros for what backward did not report: the other
  // processes take part in every bucket of it. Without a live Context, MPI
  // is gone; during an exception's unwinding, the job is about to end (the
  // Context aborts it): nothing is waited for.
  ~OverlappedExchange() override {
    if (!runtime_slot() || std::uncaught_exceptions() > 0) return;
    try {
      if (std::find(reported_.begin(), reported_.end(), 1) != reported_.end()) {
        for (size_t slot = 0; slot < sizes_.size(); ++slot)
          if (slot_bucket_[slot] != kNone && !reported_[slot]) {
            reported_[slot] = 1;
            --missing_[slot_bucket_[slot]];
            pack(slot, nullptr);
          }
        start_complete_buckets();
        wait_started();
      }
      MPI_Comm_free(&comm_);
    } catch (...) {
    }
  }

  void abandon() override { repeated_ = true; }

  void ready(size_t slot, const T* grad) override {
    if (slot >= sizes_.size() || slot_bucket_[slot] == kNone || repeated_) return;
    const auto start = std::chrono::steady_clock::now();
    if (reported_[slot]) {
      repeated_ = true;  // a second backward before step: summed again at step
    } else {
      reported_[slot] = 1;
      const size_t b = slot_bucket_[slot];
      if (!buffers_[b].empty())
        std::memcpy(buffers_[b].data() + offset_[slot], grad, static_cast<size_t>(sizes_[slot]) * sizeof(T));
      if (--missing_[b] == 0) {
        const int64_t before = stats_->messages;
        start_complete_buckets();
        stats_->early_messages += stats_->messages - before;
      }
      progress();
    }
    stats_->seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  void finish(const std::vector<TensorT<T>*>& grads, const std::vector<TensorT<T>*>& extras,
              uint64_t plan) override {
    const auto start = std::chrono::steady_clock::now();
    Runtime& r = runtime("Trainer::step");
    // What backward did not report, then every bucket not yet started.
    for (size_t slot = 0; slot < sizes_.size(); ++slot) {
      const size_t b = slot_bucket_[slot];
      if (b == kNone || reported_[slot]) continue;
      reported_[slot] = 1;
      --missing_[b];
      pack(slot, grads[slot]);
    }
    start_complete_buckets();

    uint64_t layout = hash_value(static_cast<uint64_t>(dtype_of<T>()), 1469598103934665603ull);
    layout = hash_value(plan, layout);
    for (const TensorT<T>* g : grads) layout = hash_value(g ? 1 : 0, layout);
    for (const TensorT<T>* g : extras) layout = hash_value(static_cast<uint64_t>(g->size()), layout);
    const std::vector<uint64_t> all =
        allgather((layout << 1) | (repeated_ ? 1 : 0), "Trainer::step (gradient sizes)");
    stats_->sync_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::string differ;
    bool again = false;
    for (size_t i = 0; i < all.size(); ++i) {
      if ((all[i] >> 1) != (all[0] >> 1)) differ += (differ.empty() ? "" : ", ") + std::to_string(i);
      again = again || (all[i] & 1);
    }
    wait_started();
    new_cycle();
    if (!differ.empty()) {
      // Every process is here: say whether the plans or the steps differ.
      const std::string plans = differing_ranks(allgather(plan, "Trainer::step (the next plan)"));
      if (!plans.empty())
        throw Error("Trainer::step with kvstore 'dist_sync' overlapped with backward: rank(s) " + plans +
                    " would train other parameters than rank 0 from the next step (grad_req changed on some "
                    "processes only, or overlap_backward set on some only). Nothing was updated");
      throw Error(other_gradients_message(differ));
    }

    for (size_t b = 0; b < buckets_.size(); ++b) {
      const Bucket& bucket = buckets_[b];
      stats_->bytes += bucket.elements * static_cast<int64_t>(sizeof(T));
      if (buffers_[b].empty()) {  // beyond one call's count: in place, blocking
        TensorT<T>* g = grads[bucket.first];
        std::vector<T> zeros;
        if (!g) zeros.assign(static_cast<size_t>(bucket.elements), T(0));
        allreduce_values(g ? g->data() : zeros.data(), bucket.elements, "Trainer::step (gradient allreduce)");
        stats_->messages += (bucket.elements + kMaxCount - 1) / kMaxCount;
        continue;
      }
      if (again) {  // the buffer holds an earlier backward's values
        for (size_t slot = bucket.first; slot < bucket.last; ++slot)
          if (slot_bucket_[slot] == b) pack(slot, grads[slot]);
        allreduce_values(buffers_[b].data(), bucket.elements, "Trainer::step (gradient allreduce)");
        ++stats_->messages;
      }
      for (size_t slot = bucket.first; slot < bucket.last; ++slot)
        if (slot_bucket_[slot] == b && grads[slot])
          std::memcpy(grads[slot]->data(), buffers_[b].data() + offset_[slot],
                      static_cast<size_t>(sizes_[slot]) * sizeof(T));
    }
    if (!extras.empty()) reduce_in_buckets(extras, capacity_, extra_buffers_, r.comm, *stats_);
    ++stats_->steps;
    stats_->seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

 private:
  static constexpr size_t kNone = SIZE_MAX;

  void new_cycle() {
    reported_.assign(sizes_.size(), 0);
    missing_.assign(buckets_.size(), 0);
    for (size_t slot = 0; slot < sizes_.size(); ++slot)
      if (slot_bucket_[slot] != kNone) ++missing_[slot_bucket_[slot]];
    next_ = 0;
    repeated_ = false;
  }

  /// A slot's values into its bucket's buffer: the gradient, or zeros for a
  /// parameter this process does not step.
  void pack(size_t slot, const TensorT<T>* g) {
    std::vector<T>& buffer = buffers_[slot_bucket_[slot]];
    if (buffer.empty()) return;
    T* to = buffer.data() + offset_[slot];
    const size_t n = static_cast<size_t>(sizes_[slot]);
    if (g) std::memcpy(to, g->data(), n * sizeof(T));
    else std::fill(to, to + n, T(0));
  }

  /// Starts, in bucket order, every bucket whose gradients are all in.
  void start_complete_buckets() {
    runtime("Trainer::step");
    for (; next_ < buckets_.size() && missing_[next_] == 0; ++next_) {
      if (buffers_[next_].empty()) continue;  // summed at step
      check(MPI_Iallreduce(MPI_IN_PLACE, buffers_[next_].data(), static_cast<int>(buckets_[next_].elements),
                           mpi_type<T>(), MPI_SUM, comm_, &requests_[next_]),
            "MPI_Iallreduce");
      ++stats_->messages;
    }
  }

  /// Lets MPI move the buckets in flight along.
  void progress() {
    for (size_t b = 0; b < next_; ++b) {
      if (requests_[b] == MPI_REQUEST_NULL) continue;
      int done = 0;
      check(MPI_Test(&requests_[b], &done, MPI_STATUS_IGNORE), "MPI_Test");
    }
  }

  /// Waits for every bucket started this round, also those progress()
  /// already completed, so every process counts the same collectives.
  void wait_started() {
    for (size_t b = 0; b < next_; ++b)
      if (!buffers_[b].empty()) wait(requests_[b], "Trainer::step (gradient allreduce)");
  }

  std::vector<int64_t> sizes_;
  int64_t capacity_;
  MPI_Comm comm_;
  std::shared_ptr<ReduceStats> stats_;
  std::vector<Bucket> buckets_;
  std::vector<size_t> slot_bucket_;  // per slot: its bucket, or kNone (empty)
  std::vector<int64_t> offset_;      // per slot: where it starts in its bucket's buffer
  std::vector<std::vector<T>> buffers_;
  std::vector<MPI_Request> requests_;
  std::vector<T> extra_buffers_[2];
  // The current cycle (backward, then step):
  std::vector<char> reported_;    // per slot: backward (or step) packed it
  std::vector<int64_t> missing_;  // per bucket: slots still to come
  size_t next_ = 0;               // the first bucket not started
  bool repeated_ = false;         // a slot was reported twice
};

}  // namespace hybrid::dist::detail
