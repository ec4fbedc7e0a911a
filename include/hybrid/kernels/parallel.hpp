#pragma once
// The kernels' cost model for splitting work over the thread pool: a chunk
// must carry enough work (kChunkCost, in flops or element-steps) to pay for
// waking a worker, so small calls, batch 1 above all, stay inline on the
// caller. Every grain here is a function of shapes only, never of the thread
// count, so the partition, and with it every result, is the same for any
// number of threads.
#include <algorithm>
#include <cstdint>

#include "../core/thread_pool.hpp"

namespace hybrid::kernels {

/// Work per chunk, in flops (multiply-adds count two) or element-steps: a
/// few tens of microseconds on one core, well above a worker's wake-up.
inline constexpr int64_t kChunkCost = int64_t{1} << 18;

/// Items per chunk so that a chunk costs at least kChunkCost.
inline int64_t grain_for(int64_t cost_per_item) {
  return std::max<int64_t>(1, (kChunkCost + cost_per_item - 1) / std::max<int64_t>(cost_per_item, 1));
}

/// Rows below which a GEMM row block loses efficiency (Eigen repacks the
/// right-hand matrix for every block): measured 16 rows 25% slower than 128,
/// 64 rows within 5%.
inline constexpr int64_t kMinGemmRows = 64;

/// Rows per block of a row-blocked GEMM: at least kMinGemmRows and enough
/// work to be worth a chunk, about 8 blocks when there are rows to spare (so
/// that threads balance), and at most `max_rows` (the cache limit of an
/// epilogue).
inline int64_t gemm_row_block(int64_t rows, int64_t row_cost, int64_t max_rows) {
  const int64_t by_balance = (rows + 7) / 8;
  return std::max<int64_t>(1, std::min(max_rows, std::max({kMinGemmRows, grain_for(row_cost), by_balance})));
}

/// The calling thread's working memory for one chunk: the run's own scratch
/// on the thread that called the kernel, the worker's buffer on a pool worker.
/// A chunk holding it must not run another kernel that takes it too (on a
/// worker both would get the same buffer).
template <class T>
T* chunk_scratch(T* run_scratch, int64_t elements) {
  return threads::on_worker() ? threads::worker_scratch<T>(elements) : run_scratch;
}

}  // namespace hybrid::kernels
