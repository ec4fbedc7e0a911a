#pragma once
// The optional external GEMM. By default every product in kernels/ is
// Eigen's, and hybrid stays header-only with no binary dependency. Built with
// HYBRID_USE_CBLAS (CMake: -DHYBRID_BLAS=openblas or blis), the float and
// double products of fully_connected, matmul and the convolutions call
// cblas_sgemm / cblas_dgemm instead: OpenBLAS measured 1.3–1.7× faster than
// Eigen's AVX2 product on the MLPs' layers (but 0.8× on 64-row blocks against
// Eigen built for AVX-512) and 1.4–2.8× on LeNet's convolution products
// (docs/benchmarks.md, "GEMM backends").
//
// The library must run on one thread: hybrid's pool splits the products over
// its fixed partition, so results stay bit-identical for any thread count;
// the library's own threads would oversubscribe the cores and could change
// the summation order. HYBRID_CBLAS_OPENBLAS / HYBRID_CBLAS_BLIS set that on
// the first product; with another CBLAS, the user must (e.g.
// OPENBLAS_NUM_THREADS=1, BLIS_NUM_THREADS=1).
#include <cstdint>
#include <type_traits>

#ifdef HYBRID_USE_CBLAS
#include <cblas.h>

#include <mutex>
#ifdef HYBRID_CBLAS_OPENBLAS
extern "C" void openblas_set_num_threads(int);
#endif
#ifdef HYBRID_CBLAS_BLIS
extern "C" void bli_thread_set_num_threads(int64_t);
#endif
#endif

namespace hybrid::kernels {

/// Whether products of T go to the external CBLAS.
template <class T>
inline constexpr bool kCblasGemm =
#ifdef HYBRID_USE_CBLAS
    std::is_same_v<T, float> || std::is_same_v<T, double>;
#else
    false;
#endif

/// Products the library is given (never empty ones, whose leading
/// dimensions the CBLAS would reject): Eigen's GEMV stays faster for one row
/// (batch 1: OpenBLAS 0.67–0.85× of Eigen), and OpenBLAS's packed path loses
/// on a few rows of a large product (8 × 512 → 256: 0.64×) while its small-
/// matrix path, up to m·n·k = 2¹⁸, wins (8 × 256 → 128: 1.8×).
inline bool cblas_takes(int64_t m, int64_t n, int64_t k) {
  return m >= 2 && n >= 1 && k >= 1 && (m >= 16 || m * n * k <= (int64_t{1} << 18));
}

/// C (m × n) = op(A) · op(B), plus C when `accumulate`, on the external
/// CBLAS; false (and nothing done) when products of T stay with Eigen. Dense
/// row-major operands: A stored m × k (k × m when ta), B stored k × n (n × k
/// when tb).
template <class T>
bool cblas_gemm([[maybe_unused]] bool ta, [[maybe_unused]] bool tb, [[maybe_unused]] int64_t m,
                [[maybe_unused]] int64_t n, [[maybe_unused]] int64_t k, [[maybe_unused]] const T* a,
                [[maybe_unused]] const T* b, [[maybe_unused]] bool accumulate, [[maybe_unused]] T* c) {
  if constexpr (!kCblasGemm<T>) {
    return false;
  } else {
#ifdef HYBRID_USE_CBLAS
    if (!cblas_takes(m, n, k)) return false;
    static std::once_flag single_thread;
    std::call_once(single_thread, [] {
#ifdef HYBRID_CBLAS_OPENBLAS
      openblas_set_num_threads(1);
#endif
#ifdef HYBRID_CBLAS_BLIS
      bli_thread_set_num_threads(1);
#endif
    });
    const auto op_a = ta ? CblasTrans : CblasNoTrans, op_b = tb ? CblasTrans : CblasNoTrans;
    const int lda = static_cast<int>(ta ? m : k), ldb = static_cast<int>(tb ? k : n);
    const T beta = accumulate ? T(1) : T(0);
    if constexpr (std::is_same_v<T, float>)
      cblas_sgemm(CblasRowMajor, op_a, op_b, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), 1.0f, a,
                  lda, b, ldb, beta, c, static_cast<int>(n));
    else
      cblas_dgemm(CblasRowMajor, op_a, op_b, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), 1.0, a,
                  lda, b, ldb, beta, c, static_cast<int>(n));
#endif
    return true;
  }
}

}  // namespace hybrid::kernels
