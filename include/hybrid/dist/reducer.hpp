#pragma once
// MpiReducer: the GradientReducer a dist::Context registers for Trainers
// with kvstore "dist_sync".
//
// At step(), the gradients, in the Trainer's order, are summed in buckets of
// at most Settings::bucket_bytes (4 MiB by default; buckets.hpp). A gradient
// as large as a bucket is summed in place, without a copy. bucket_bytes = 0
// reduces each gradient on its own (the baseline of docs/distributed.md).
// With Settings::overlap_backward, Trainers instead open an exchange that
// starts the buckets during backward (overlap.hpp).
//
// Before the buckets, one 8-byte allgather compares a hash of the gradient
// sizes: processes that step different parameters fail with an Error on
// every process instead of summing mismatched buffers.
//
// The debug check (Settings::check_parameters) hashes every parameter value
// after the update and compares the hashes of all processes.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../core/dtype.hpp"
#include "../nn/gradient_reducer.hpp"
#include "buckets.hpp"
#include "collectives.hpp"
#include "overlap.hpp"

namespace hybrid::dist {

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

  bool overlaps() const override {
    const detail::Runtime* r = detail::runtime_slot();
    return r && r->settings.overlap_backward;
  }
  std::shared_ptr<nn::OverlappedReduce<float>> overlap(const std::vector<int64_t>& sizes, float*) override {
    return open<float>(sizes);
  }
  std::shared_ptr<nn::OverlappedReduce<double>> overlap(const std::vector<int64_t>& sizes, double*) override {
    return open<double>(sizes);
  }

  const ReduceStats& stats() const { return *stats_; }
  void reset_stats() { *stats_ = ReduceStats{}; }

 private:
  template <class T>
  void run(const std::vector<TensorT<T>*>& grads, std::vector<T> (&buffers)[2]) {
    const auto start = std::chrono::steady_clock::now();
    detail::Runtime& r = detail::runtime("Trainer::step");
    uint64_t layout = detail::hash_value(static_cast<uint64_t>(dtype_of<T>()), 1469598103934665603ull);
    for (const TensorT<T>* g : grads) layout = detail::hash_value(static_cast<uint64_t>(g->size()), layout);
    const std::string differ = detail::differing_ranks(detail::allgather(layout, "Trainer::step (gradient sizes)"));
    if (!differ.empty()) throw Error(detail::other_gradients_message(differ));
    stats_->sync_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    detail::reduce_in_buckets(grads, r.settings.bucket_bytes / static_cast<int64_t>(sizeof(T)), buffers, r.comm,
                              *stats_);
    ++stats_->steps;
    stats_->seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  template <class T>
  std::shared_ptr<nn::OverlappedReduce<T>> open(const std::vector<int64_t>& sizes) {
    if (!overlaps()) return nullptr;
    detail::Runtime& r = detail::runtime("Trainer::step");
    uint64_t layout = detail::hash_value(static_cast<uint64_t>(dtype_of<T>()), 1469598103934665603ull);
    for (int64_t n : sizes) layout = detail::hash_value(static_cast<uint64_t>(n), layout);
    const std::string differ =
        detail::differing_ranks(detail::allgather(layout, "Trainer::step (trainable parameter sizes)"));
    if (!differ.empty())
      throw Error("Trainer::step with kvstore 'dist_sync': rank(s) " + differ +
                  " train other parameters than rank 0 (another set, other shapes or another dtype); every "
                  "process must train the same parameters. This step was applied; no overlapped exchange is open");
    // A communicator of its own, so its buckets pair with nothing else.
    MPI_Comm comm = MPI_COMM_NULL;
    MPI_Request request = MPI_REQUEST_NULL;
    detail::check(MPI_Comm_idup(r.comm, &comm, &request), "MPI_Comm_idup");
    detail::wait(request, "Trainer::step (a communicator for the overlapped exchange)");
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    return std::make_shared<detail::OverlappedExchange<T>>(
        sizes, r.settings.bucket_bytes / static_cast<int64_t>(sizeof(T)), comm, stats_);
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

  std::vector<float> float_buffers_[2];
  std::vector<double> double_buffers_[2];
  std::shared_ptr<ReduceStats> stats_ = std::make_shared<ReduceStats>();
  int64_t checked_steps_ = 0;
};

}  // namespace hybrid::dist
