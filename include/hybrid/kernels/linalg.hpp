#pragma once
// Matrix products on Eigen maps: matmul (batched, broadcasting leading dims)
// and fully_connected (x·Wᵀ + b, then an optional activation applied to each
// block of output rows while it is still in cache). Both split over blocks of
// output rows (or matmul's batch) on the thread pool; each output element is
// computed by one block, with the same arithmetic for any thread count.
// Built with HYBRID_USE_CBLAS, the products go to the CBLAS (blas.hpp).
#include <Eigen/Core>
#include <algorithm>

#include "blas.hpp"
#include "elementwise.hpp"
#include "parallel.hpp"

namespace hybrid::kernels {

template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using RowVector = Eigen::Matrix<T, 1, Eigen::Dynamic>;

template <class T>
void matmul_kernel(const KernelArgs<T>& k) {
  const Shape &a = k.in_shape[0], &b = k.in_shape[1], &o = k.out_shape;
  const int64_t m = a[a.size() - 2], kk = a.back(), n = b.back();
  const int batch_dims = o.size() - 2;
  // Strides of each operand's matrices over the broadcast batch index.
  int64_t sa[Shape::kMaxDims], sb[Shape::kMaxDims];
  int64_t acc_a = m * kk, acc_b = kk * n;
  for (int d = batch_dims - 1; d >= 0; --d) {
    const int ia = d - (batch_dims - (a.size() - 2)), ib = d - (batch_dims - (b.size() - 2));
    const int64_t ea = ia >= 0 ? a[ia] : 1, eb = ib >= 0 ? b[ib] : 1;
    sa[d] = ea == 1 ? 0 : acc_a;
    sb[d] = eb == 1 ? 0 : acc_b;
    acc_a *= ea;
    acc_b *= eb;
  }
  int64_t batches = 1;
  for (int d = 0; d < batch_dims; ++d) batches *= o[d];
  // C[rows] = A[rows] · B for one batch's matrices.
  auto product = [&](int64_t bi, int64_t r0, int64_t r1) {
    int64_t rem = bi, oa = 0, ob = 0;
    for (int d = batch_dims - 1; d >= 0; --d) {
      const int64_t i = rem % o[d];
      rem /= o[d];
      oa += i * sa[d];
      ob += i * sb[d];
    }
    Eigen::Map<const RowMatrix<T>> A(k.in[0] + oa + r0 * kk, r1 - r0, kk), B(k.in[1] + ob, kk, n);
    Eigen::Map<RowMatrix<T>> C(k.out + bi * m * n + r0 * n, r1 - r0, n);
    if (kk == 0)
      C.setZero();
    else if (!cblas_gemm(false, false, r1 - r0, n, kk, A.data(), B.data(), false, C.data()))
      C.noalias() = A * B;
  };
  const int64_t row_cost = 2 * std::max<int64_t>(kk, 1) * std::max<int64_t>(n, 1);
  if (batches > 1) {  // whole matrices per chunk
    parallel_for(0, batches, grain_for(row_cost * std::max<int64_t>(m, 1)), [&](int64_t lo, int64_t hi) {
      for (int64_t bi = lo; bi < hi; ++bi) product(bi, 0, m);
    });
  } else if (batches == 1) {  // one matrix: blocks of rows
    const int64_t block = gemm_row_block(m, row_cost, m);
    parallel_for(0, (m + block - 1) / block, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t b = lo; b < hi; ++b) product(0, b * block, std::min(m, (b + 1) * block));
    });
  }
}

/// Rows of x·Wᵀ computed per block, so that bias and the activation `act`
/// (an elementwise tile function, or null) touch each block while it is in L2.
template <class T>
void fully_connected_kernel(const KernelArgs<T>& k, TileFn<T> act) {
  const Shape& w = k.in_shape[1];
  const int64_t units = w[0], in_units = w[1];
  const int64_t rows = units == 0 ? 0 : numel(k.out_shape) / units;
  Eigen::Map<const RowMatrix<T>> W(k.in[1], units, in_units);
  const T* bias = k.attrs.no_bias ? nullptr : k.in[2];
  // Blocks of at most about 256 KB of output, so that the epilogue finds them
  // in L2, with enough work each to be worth a chunk; about 16 of them when
  // the batch allows, so that threads balance.
  const int64_t l2_rows = std::max<int64_t>(8, 65536 / std::max<int64_t>(units, 1));
  const int64_t block = gemm_row_block(rows, 2 * std::max<int64_t>(in_units, 1) * std::max<int64_t>(units, 1), l2_rows);
  auto run_block = [&](int64_t r0) {
    const int64_t nr = std::min(block, rows - r0);
    T* y = k.out + r0 * units;
    if (in_units == 0) {
      std::fill(y, y + nr * units, T(0));
    } else if (cblas_gemm(false, true, nr, units, in_units, k.in[0] + r0 * in_units, k.in[1], false, y)) {
      // done by the external CBLAS (kernels/blas.hpp; only when built with it)
    } else if (nr == 1) {  // a matrix-vector product: Eigen's GEMV path
      Eigen::Map<const RowVector<T>> X(k.in[0] + r0 * in_units, in_units);
      Eigen::Map<RowVector<T>>(y, units).noalias() = X * W.transpose();
    } else {
      Eigen::Map<const RowMatrix<T>> X(k.in[0] + r0 * in_units, nr, in_units);
      Eigen::Map<RowMatrix<T>>(y, nr, units).noalias() = X * W.transpose();
    }
    if (bias) {
      Eigen::Map<RowMatrix<T>> Y(y, nr, units);
      Y.rowwise() += Eigen::Map<const RowVector<T>>(bias, units);
    }
    if (act) {
      const T* args[1] = {y};
      act(args, y, nr * units, k.attrs);
    }
  };
  parallel_for(0, (rows + block - 1) / block, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) run_block(b * block);
  });
}

}  // namespace hybrid::kernels
