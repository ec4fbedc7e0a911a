// Built against hybrid::hybrid alone: hybrid/hybrid.hpp, data loading
// included, must need nothing at link time, zlib least of all, and must not
// include MPI (hybrid/dist.hpp, the dist component, does).
#include <hybrid/hybrid.hpp>

#ifdef HYBRID_PLANT_ZLIB  // proves the check below bites (CTest header_only_rejects_zlib)
#include <hybrid/io/gzip.hpp>
#endif

#if defined(HYBRID_NEEDS_ZLIB) || defined(ZLIB_H)
#error "hybrid/hybrid.hpp includes a zlib-dependent header; keep io/gzip, io/idx and data/vision in hybrid/data.hpp"
#endif

#if defined(MPI_VERSION) || defined(OMPI_MPI_H)
#error "hybrid/hybrid.hpp includes mpi.h; keep MPI in hybrid/dist.hpp (the Trainer reaches it through nn::GradientReducer)"
#endif

#include <iostream>

int main() {
  hybrid::random::seed(1);
  hybrid::data::ArrayDataset ds(hybrid::random::normal({8, 3}), hybrid::arange(8));
  hybrid::data::DataLoader loader(ds, 4, /*shuffle=*/true);
  int batches = 0;
  for (const auto& [x, y] : loader) batches += x.shape()[0] == 4 && y.shape()[0] == 4;
  const hybrid::Tensor sum = hybrid::sum(ds.features());
  std::cout << "header-only: " << batches << " batches, sum " << sum.item() << "\n";
  return batches == 2 ? 0 : 1;
}
