#pragma once
// Collectives on tensors and parameters: allreduce (sum, in place),
// broadcast, barrier and broadcast_parameters. Every process must make the
// same calls in the same order; each waits with the deadline of runtime.hpp.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "../core/tensor.hpp"
#include "../nn/parameter.hpp"
#include "runtime.hpp"

namespace hybrid::dist {

namespace detail {

/// FNV-1a over bytes, continuing from `h`.
inline uint64_t hash_bytes(const void* data, size_t n, uint64_t h = 1469598103934665603ull) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}
inline uint64_t hash_value(uint64_t v, uint64_t h) { return hash_bytes(&v, sizeof v, h); }

/// Every process's `value`, indexed by rank.
inline std::vector<uint64_t> allgather(uint64_t value, const char* what) {
  Runtime& r = runtime(what);
  std::vector<uint64_t> all(static_cast<size_t>(r.size));
  MPI_Request request;
  check(MPI_Iallgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, r.comm, &request), "MPI_Iallgather");
  wait(request, what);
  return all;
}

/// Every process's `mine` on `root` (indexed by rank; empty elsewhere).
inline std::vector<std::string> gather_strings(const std::string& mine, int root, const char* what) {
  Runtime& r = runtime(what);
  const std::vector<uint64_t> lengths = allgather(mine.size(), what);
  std::vector<int> counts, offsets;
  int64_t total = 0;
  for (uint64_t n : lengths) {
    if (total + static_cast<int64_t>(n) > kMaxCount)
      throw Error(std::string("hybrid::dist::") + what + ": the gathered text exceeds " + std::to_string(kMaxCount) +
                  " bytes");
    counts.push_back(static_cast<int>(n));
    offsets.push_back(static_cast<int>(total));
    total += static_cast<int64_t>(n);
  }
  std::string all(r.rank == root ? static_cast<size_t>(total) : 0, '\0');
  MPI_Request request;
  check(MPI_Igatherv(mine.data(), static_cast<int>(mine.size()), MPI_CHAR, all.data(), counts.data(), offsets.data(),
                     MPI_CHAR, root, r.comm, &request),
        "MPI_Igatherv");
  wait(request, what);
  std::vector<std::string> texts;
  if (r.rank == root)
    for (size_t i = 0; i < counts.size(); ++i)
      texts.push_back(all.substr(static_cast<size_t>(offsets[i]), static_cast<size_t>(counts[i])));
  return texts;
}

/// The ranks whose value differs from rank 0's, as "1, 3"; empty when all agree.
inline std::string differing_ranks(const std::vector<uint64_t>& all) {
  std::string ranks;
  for (size_t i = 1; i < all.size(); ++i)
    if (all[i] != all[0]) ranks += (ranks.empty() ? "" : ", ") + std::to_string(i);
  return ranks;
}

/// In-place sum of n values over all processes, in calls of at most kMaxCount.
template <class T>
void allreduce_values(T* values, int64_t n, const char* what) {
  Runtime& r = runtime(what);
  for (int64_t done = 0; done < n; done += kMaxCount) {
    MPI_Request request;
    const int count = static_cast<int>(std::min(kMaxCount, n - done));
    check(MPI_Iallreduce(MPI_IN_PLACE, values + done, count, mpi_type<T>(), MPI_SUM, r.comm, &request),
          "MPI_Iallreduce");
    wait(request, what);
  }
}

template <class T>
void broadcast_values(T* values, int64_t n, int root, const char* what) {
  Runtime& r = runtime(what);
  for (int64_t done = 0; done < n; done += kMaxCount) {
    MPI_Request request;
    const int count = static_cast<int>(std::min(kMaxCount, n - done));
    check(MPI_Ibcast(values + done, count, mpi_type<T>(), root, r.comm, &request), "MPI_Ibcast");
    wait(request, what);
  }
}

inline void check_root(int root, const char* who) {
  const int n = runtime(who).size;
  if (root < 0 || root >= n)
    throw Error(std::string("hybrid::dist::") + who + ": root " + std::to_string(root) + " is not a rank in [0, " +
                std::to_string(n) + ")");
}

/// Throws on every process when the processes' shapes differ (rank 0's is the reference).
inline void agree_on_shapes(uint64_t layout, const std::string& who, const std::string& what) {
  const std::string differ = differing_ranks(allgather(layout, "shape check"));
  if (!differ.empty())
    throw Error("hybrid::dist::" + who + ": rank(s) " + differ + " hold " + what +
                " of other shapes than rank 0, so nothing was exchanged");
}

}  // namespace detail

/// Sums `tensor` over all processes, in place (every process passes a tensor
/// of the same shape). Error on a shape that differs between processes.
template <class T>
void allreduce(TensorT<T>& tensor) {
  uint64_t layout = detail::hash_value(static_cast<uint64_t>(tensor.ndim()), 1469598103934665603ull);
  for (int64_t d : tensor.shape()) layout = detail::hash_value(static_cast<uint64_t>(d), layout);
  detail::agree_on_shapes(layout, "allreduce", "a tensor");
  detail::allreduce_values(tensor.data(), tensor.size(), "allreduce");
}

/// Replaces `tensor` with root's, in place (same shape everywhere).
template <class T>
void broadcast(TensorT<T>& tensor, int root = 0) {
  detail::check_root(root, "broadcast");
  uint64_t layout = detail::hash_value(static_cast<uint64_t>(tensor.ndim()), 1469598103934665603ull);
  for (int64_t d : tensor.shape()) layout = detail::hash_value(static_cast<uint64_t>(d), layout);
  detail::agree_on_shapes(layout, "broadcast", "a tensor");
  detail::broadcast_values(tensor.data(), tensor.size(), root, "broadcast");
}

/// Waits until every process has called barrier().
inline void barrier() {
  detail::Runtime& r = detail::runtime("barrier");
  MPI_Request request;
  detail::check(MPI_Ibarrier(r.comm, &request), "MPI_Ibarrier");
  detail::wait(request, "barrier");
}

/// Gives every process root's parameter values (call it after initialize()
/// so all start from the same point). The parameters must be initialized
/// (deferred shapes: after one forward pass) and have the same names and
/// shapes everywhere; Error otherwise, on every process. The new values are
/// published together, as a load.
template <class T>
void broadcast_parameters(const nn::ParameterDictT<T>& params, int root = 0) {
  detail::check_root(root, "broadcast_parameters");
  std::vector<TensorT<T>> values;
  nn::detail::ParameterAccess::read_values<T>(params, values, /*skip_uninitialized=*/true);
  uint64_t layout = 1469598103934665603ull;
  std::string uninitialized;
  size_t i = 0;
  for (const auto& p : params) {
    layout = detail::hash_bytes(p->name().data(), p->name().size(), layout);
    if (!values[i].defined()) uninitialized += (uninitialized.empty() ? "" : ", ") + p->name();
    else
      for (int64_t d : values[i].shape()) layout = detail::hash_value(static_cast<uint64_t>(d), layout);
    ++i;
  }
  // Agreeing first keeps every process on the same path when one of them fails.
  const std::vector<uint64_t> ok = detail::allgather(uninitialized.empty() ? 1 : 0, "broadcast_parameters");
  std::string not_ready;
  for (size_t r = 0; r < ok.size(); ++r)
    if (!ok[r]) not_ready += (not_ready.empty() ? "" : ", ") + std::to_string(r);
  if (!not_ready.empty())
    throw Error("hybrid::dist::broadcast_parameters: parameters not initialized on rank(s) " + not_ready +
                (uninitialized.empty() ? std::string() : " (here: " + uninitialized + ")") +
                "; call initialize() and, for deferred shapes, run one forward pass first");
  detail::agree_on_shapes(layout, "broadcast_parameters", "parameters");
  std::vector<std::pair<nn::ParameterT<T>*, TensorT<T>>> updates;
  i = 0;
  for (const auto& p : params) {
    TensorT<T> value = values[i++].clone();
    detail::broadcast_values(value.data(), value.size(), root, "broadcast_parameters");
    updates.emplace_back(p.get(), std::move(value));
  }
  nn::detail::ParameterAccess::publish<T>(updates, "dist::broadcast_parameters");
}

}  // namespace hybrid::dist
