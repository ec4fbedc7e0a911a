#pragma once
// Buckets: consecutive gradients packed into one buffer and summed by one
// MPI_Iallreduce, so a model of many small tensors costs a few messages
// rather than one per tensor (each message pays the latency). Shared by the
// reducer that sums at step() (reducer.hpp) and the exchange overlapped
// with backward (overlap.hpp); ReduceStats counts what both did.
#include <mpi.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "../core/tensor.hpp"
#include "collectives.hpp"

namespace hybrid::dist {

/// What the gradient exchange did since the Context started (or since reset).
struct ReduceStats {
  int64_t steps = 0;     // Trainer steps that summed gradients
  int64_t messages = 0;  // allreduce calls for gradients (buckets)
  int64_t bytes = 0;     // gradient bytes summed
  /// Wall time spent exchanging: inside step() (the size check included)
  /// and, when overlapping with backward, in packing and starting buckets
  /// during backward.
  double seconds = 0;
  /// Of `seconds`, the size check: its allgather is the first point where a
  /// process waits for the others, so it holds the wait for the slowest
  /// process (load imbalance), and the rest is the gradients' transfer.
  double sync_seconds = 0;
  /// Of `messages`, the buckets started during backward (overlap_backward).
  int64_t early_messages = 0;
};

namespace detail {

/// The Error of processes that step different gradients.
inline std::string other_gradients_message(const std::string& ranks) {
  return "Trainer::step with kvstore 'dist_sync': rank(s) " + ranks +
         " step other gradients than rank 0 (another set of parameters, other shapes or another dtype), "
         "or changed other non-trainable parameters (running statistics: a forward pass in train mode on "
         "some processes only); every process must step the same parameters. Nothing was updated";
}

struct Bucket {
  size_t first = 0, last = 0;  // gradients [first, last)
  int64_t elements = 0;
  bool in_place = false;  // a single gradient at least `capacity` long: reduced in its own buffer
};

/// Consecutive gradients fill a bucket up to `capacity` elements; one at
/// least that large (or any, with capacity 0) is a bucket of its own, in
/// place. Empty gradients belong to no bucket.
inline std::vector<Bucket> plan_buckets(const std::vector<int64_t>& sizes, int64_t capacity) {
  std::vector<Bucket> buckets;
  Bucket open;
  for (size_t i = 0; i < sizes.size(); ++i) {
    const int64_t n = sizes[i];
    if (n == 0) continue;
    if (capacity <= 0 || n >= capacity) {
      if (open.elements) buckets.push_back(open);  // buckets stay in gradient order
      open = Bucket{};
      buckets.push_back(Bucket{i, i + 1, n, true});
      continue;
    }
    if (open.elements && (open.elements + n > capacity || open.last != i)) {
      buckets.push_back(open);
      open = Bucket{};
    }
    if (!open.elements) open.first = i;
    open.last = i + 1;
    open.elements += n;
  }
  if (open.elements) buckets.push_back(open);
  return buckets;
}

/// Sums every tensor of `grads` over all processes of `comm`, in place, in
/// buckets of at most `capacity` elements. Two buckets are in flight at a
/// time: bucket k+1 is packed while bucket k is being reduced.
template <class T>
void reduce_in_buckets(const std::vector<TensorT<T>*>& grads, int64_t capacity, std::vector<T> (&buffers)[2],
                       MPI_Comm comm, ReduceStats& stats) {
  std::vector<int64_t> sizes;
  sizes.reserve(grads.size());
  for (const TensorT<T>* g : grads) sizes.push_back(g->size());
  const std::vector<Bucket> buckets = plan_buckets(sizes, capacity);
  MPI_Request requests[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
  size_t in_flight[2] = {0, 0};
  auto finish = [&](int slot) {
    if (requests[slot] == MPI_REQUEST_NULL) return;
    wait(requests[slot], "Trainer::step (gradient allreduce)");
    requests[slot] = MPI_REQUEST_NULL;
    const Bucket& b = buckets[in_flight[slot]];
    if (b.in_place) return;
    const T* from = buffers[slot].data();
    for (size_t i = b.first; i < b.last; ++i) {
      const size_t n = static_cast<size_t>(grads[i]->size());
      std::memcpy(grads[i]->data(), from, n * sizeof(T));
      from += n;
    }
  };
  for (size_t k = 0; k < buckets.size(); ++k) {
    const Bucket& b = buckets[k];
    const int slot = static_cast<int>(k % 2);
    finish(slot);  // bucket k - 2 used this buffer
    stats.bytes += b.elements * static_cast<int64_t>(sizeof(T));
    if (b.elements > kMaxCount) {  // beyond one call's count: blocking, in pieces
      finish(1 - slot);
      allreduce_values(grads[b.first]->data(), b.elements, "Trainer::step (gradient allreduce)");
      stats.messages += (b.elements + kMaxCount - 1) / kMaxCount;
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
    check(MPI_Iallreduce(MPI_IN_PLACE, data, static_cast<int>(b.elements), mpi_type<T>(), MPI_SUM, comm,
                         &requests[slot]),
          "MPI_Iallreduce");
    in_flight[slot] = k;
    ++stats.messages;
  }
  // The older bucket first.
  finish(static_cast<int>(buckets.size() % 2));
  finish(static_cast<int>((buckets.size() + 1) % 2));
}

}  // namespace detail
}  // namespace hybrid::dist
