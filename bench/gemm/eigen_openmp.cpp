// Eigen's own threaded product (OpenMP), for bench/gemm_bench.cpp. It is a
// shared library of its own, built with -fopenmp and hidden visibility: the
// benchmark binary instantiates the same Eigen templates without OpenMP, and
// the two instantiations must not merge at link time.
#include <Eigen/Core>

namespace {
using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const RowMatrix>;
using Map = Eigen::Map<RowMatrix>;

template <class A, class B>
void product(const A& a, const B& b, bool accumulate, Map& c) {
  if (accumulate)
    c.noalias() += a * b;
  else
    c.noalias() = a * b;
}
}  // namespace

extern "C" __attribute__((visibility("default"))) void hybrid_bench_eigen_omp_set_threads(int n) {
  Eigen::setNbThreads(n);
}

/// C (m × n) = op(A) · op(B) (+ C when accumulate); dense row-major operands,
/// A stored m × k (k × m when ta), B stored k × n (n × k when tb).
extern "C" __attribute__((visibility("default"))) void hybrid_bench_eigen_omp_gemm(bool ta, bool tb, int m, int n,
                                                                                   int k, const float* a,
                                                                                   const float* b, bool accumulate,
                                                                                   float* c) {
  Map C(c, m, n);
  if (!ta && !tb) product(ConstMap(a, m, k), ConstMap(b, k, n), accumulate, C);
  if (!ta && tb) product(ConstMap(a, m, k), ConstMap(b, n, k).transpose(), accumulate, C);
  if (ta && !tb) product(ConstMap(a, k, m).transpose(), ConstMap(b, k, n), accumulate, C);
  if (ta && tb) product(ConstMap(a, k, m).transpose(), ConstMap(b, n, k).transpose(), accumulate, C);
}
