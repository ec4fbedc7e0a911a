// The GEMM question, settled by measurement: Eigen's product as hybrid's
// kernels call it (row blocks or images split over hybrid's pool) against
// Eigen's own OpenMP threading, OpenBLAS, BLIS and oneDNN's matmul, on the
// products hybrid runs: the seed MLP (512 → 256 → 128 → 2) at batch 1 to
// 1024, the 784 → 256 → 10 MLP, and LeNet (its dense layers at batch 64 and
// its convolutions as the per-image im2col products of kernels/conv.hpp,
// forward, data gradient and weight gradient, 64 images).
//
// Each library is optional (CMake finds it or skips it). OpenBLAS and BLIS
// both export cblas_sgemm, so they are opened with dlopen (RTLD_DEEPBIND),
// each in its own scope. Variants:
//   eigen/T       hybrid's partition on T pool threads, Eigen in each chunk
//   eigen_omp/T   one Eigen product per call, Eigen's OpenMP threads
//   openblas/T    one cblas_sgemm per call, the library's own T threads
//   blis/T, dnnl/T  likewise
//   openblas_pool/T, blis_pool/T  hybrid's partition on T pool threads,
//                 the library on one thread in each chunk (what a backend
//                 switch in kernels/ would run)
// Every variant's result is checked against Eigen on one thread before
// timing (the max_abs_diff counter). The closing table gives GFLOP/s and
// the ratio to eigen/1 for every shape.
//
//   build-bench/bench/gemm_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <dlfcn.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <hybrid/hybrid.hpp>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "median_collector.hpp"

#ifdef HYBRID_BENCH_HAVE_DNNL
#include <dnnl.hpp>
#endif
#ifdef HYBRID_BENCH_HAVE_EIGEN_OMP
extern "C" void hybrid_bench_eigen_omp_set_threads(int n);
extern "C" void hybrid_bench_eigen_omp_gemm(bool ta, bool tb, int m, int n, int k, const float* a, const float* b,
                                            bool accumulate, float* c);
#endif

namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const RowMatrix>;
using Map = Eigen::Map<RowMatrix>;

/// How hybrid issues a product: one dense layer (x · Wᵀ, split over row
/// blocks) or one per image (split over images; the weight gradient sums
/// over images in fixed chunks).
enum class Kind { dense, conv_forward, conv_data, conv_weight };

/// C (m × n) = op(A) · op(B), `count` times (once per image for the conv kinds).
struct Shape {
  std::string name;
  Kind kind;
  int m, n, k;
  bool ta, tb;
  int count;
  double flops() const { return 2.0 * m * n * k * count; }
};

std::vector<Shape> shapes() {
  std::vector<Shape> s;
  // Dense: x (batch × in) · Wᵀ (W is out × in): NT.
  auto dense = [&](const std::string& net, int batch, int in, int out) {
    s.push_back({net + "_" + std::to_string(in) + "x" + std::to_string(out) + "_b" + std::to_string(batch), Kind::dense,
                 batch, out, in, false, true, 1});
  };
  for (int b : {1, 8, 64, 256, 1024}) {
    dense("seed", b, 512, 256);
    dense("seed", b, 256, 128);
    dense("seed", b, 128, 2);
  }
  for (int b : {64, 256}) {
    dense("mnist", b, 784, 256);
    dense("mnist", b, 256, 10);
  }
  dense("lenet", 64, 400, 120);
  dense("lenet", 64, 120, 84);
  dense("lenet", 64, 84, 10);
  // LeNet's convolutions, per image, 64 images (conv.hpp): forward W · col
  // (O × patch · patch × pixels), data Wᵀ · dy, weight Σ dy · colᵀ.
  auto conv = [&](const std::string& name, int o, int patch, int pixels) {
    s.push_back({"lenet_" + name + "_fwd", Kind::conv_forward, o, pixels, patch, false, false, 64});
    s.push_back({"lenet_" + name + "_data", Kind::conv_data, patch, pixels, o, true, false, 64});
    s.push_back({"lenet_" + name + "_weight", Kind::conv_weight, o, patch, pixels, false, true, 64});
  };
  conv("conv1", 6, 25, 784);    // 1 → 6, 5×5, pad 2, 28×28
  conv("conv2", 16, 150, 100);  // 6 → 16, 5×5, 14×14 → 10×10
  return s;
}

/// One product C = op(A) · op(B) (+ C when accumulate) on dense row-major
/// operands (A stored m × k, or k × m when ta; B k × n, or n × k when tb).
using GemmFn = std::function<void(const Shape&, const float* a, const float* b, bool accumulate, float* c, int m)>;

void eigen_gemm(const Shape& s, const float* a, const float* b, bool acc, float* c, int m) {
  Map C(c, m, s.n);
  auto run = [&](const auto& A, const auto& B) {
    if (acc)
      C.noalias() += A * B;
    else
      C.noalias() = A * B;
  };
  if (!s.ta && !s.tb) run(ConstMap(a, m, s.k), ConstMap(b, s.k, s.n));
  if (!s.ta && s.tb) run(ConstMap(a, m, s.k), ConstMap(b, s.n, s.k).transpose());
  if (s.ta && !s.tb) run(ConstMap(a, s.k, m).transpose(), ConstMap(b, s.k, s.n));
  if (s.ta && s.tb) run(ConstMap(a, s.k, m).transpose(), ConstMap(b, s.n, s.k).transpose());
}

// ---- cblas through dlopen ------------------------------------------------------

constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;
using SgemmFn = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*,
                         int);

struct Cblas {
  SgemmFn sgemm = nullptr;
  std::function<void(int)> set_threads;
  explicit operator bool() const { return sgemm != nullptr; }
};

Cblas open_cblas(const char* path, const char* threads_symbol, bool threads_int64) {
  Cblas c;
  if (!path || !*path) return c;
  void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  if (!h) {
    std::fprintf(stderr, "gemm_bench: cannot open %s: %s\n", path, dlerror());
    return c;
  }
  c.sgemm = reinterpret_cast<SgemmFn>(dlsym(h, "cblas_sgemm"));
  void* t = dlsym(h, threads_symbol);
  if (threads_int64)
    c.set_threads = [f = reinterpret_cast<void (*)(int64_t)>(t)](int n) { f(n); };
  else
    c.set_threads = [f = reinterpret_cast<void (*)(int)>(t)](int n) { f(n); };
  if (!t) c.sgemm = nullptr;
  return c;
}

#ifndef HYBRID_BENCH_OPENBLAS
#define HYBRID_BENCH_OPENBLAS ""
#endif
#ifndef HYBRID_BENCH_BLIS
#define HYBRID_BENCH_BLIS ""
#endif

Cblas& openblas() {
  static Cblas c = open_cblas(HYBRID_BENCH_OPENBLAS, "openblas_set_num_threads", false);
  return c;
}
Cblas& blis() {
  static Cblas c = open_cblas(HYBRID_BENCH_BLIS, "bli_thread_set_num_threads", true);
  return c;
}

GemmFn cblas_gemm(const Cblas& lib) {
  return [f = lib.sgemm](const Shape& s, const float* a, const float* b, bool acc, float* c, int m) {
    f(kRowMajor, s.ta ? kTrans : kNoTrans, s.tb ? kTrans : kNoTrans, m, s.n, s.k, 1.0f, a, s.ta ? m : s.k, b,
      s.tb ? s.k : s.n, acc ? 1.0f : 0.0f, c, s.n);
  };
}

// ---- Operands and the two ways of running a shape --------------------------------

struct Operands {
  std::vector<float> a, b, c;  // per image for the conv kinds (a shared for forward and data)
  std::vector<float> partials;  // the weight gradient's chunk sums
  int64_t a_size, b_size, c_size;
  explicit Operands(const Shape& s) {
    std::mt19937 gen(7);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    const bool shared_a = s.kind == Kind::conv_forward || s.kind == Kind::conv_data;
    const bool shared_c = s.kind == Kind::conv_weight || s.kind == Kind::dense;
    a_size = int64_t{s.m} * s.k;
    b_size = int64_t{s.k} * s.n;
    c_size = int64_t{s.m} * s.n;
    a.resize(a_size * (shared_a ? 1 : s.count));
    b.resize(b_size * s.count);
    c.assign(c_size * (shared_c ? 1 : s.count), 0.0f);
    for (float& x : a) x = u(gen);
    for (float& x : b) x = u(gen);
    partials.assign(c_size * 8, 0.0f);
  }
  const float* A(const Shape& s, int i) const {
    return a.data() + (s.kind == Kind::conv_forward || s.kind == Kind::conv_data ? 0 : i * a_size);
  }
  const float* B(int i) const { return b.data() + i * b_size; }
  float* C(const Shape& s, int i) { return c.data() + (s.kind == Kind::conv_weight ? 0 : i * c_size); }
};

/// The whole shape as one library call per product (the library threads it).
void run_whole(const Shape& s, Operands& o, const GemmFn& gemm) {
  if (s.kind == Kind::conv_weight) {
    std::fill(o.c.begin(), o.c.end(), 0.0f);
    for (int i = 0; i < s.count; ++i) gemm(s, o.A(s, i), o.B(i), true, o.C(s, i), s.m);
    return;
  }
  for (int i = 0; i < s.count; ++i) gemm(s, o.A(s, i), o.B(i), false, o.C(s, i), s.m);
}

/// The shape cut as hybrid's kernels cut it (kernels/linalg.hpp,
/// kernels/conv.hpp), chunks on the pool, `gemm` in each chunk.
void run_partitioned(const Shape& s, Operands& o, const GemmFn& gemm) {
  using namespace hybrid;
  const int64_t image_cost = std::max<int64_t>(1, int64_t{2} * s.m * s.n * s.k);
  switch (s.kind) {
    case Kind::dense: {  // fully_connected_kernel's row blocks
      const int64_t rows = s.m, units = s.n;
      const int64_t l2_rows = std::max<int64_t>(8, 65536 / std::max<int64_t>(units, 1));
      const int64_t block = kernels::gemm_row_block(rows, int64_t{2} * s.k * units, l2_rows);
      parallel_for(0, (rows + block - 1) / block, 1, [&](int64_t lo, int64_t hi) {
        for (int64_t bl = lo; bl < hi; ++bl) {
          const int64_t r0 = bl * block, nr = std::min(block, rows - r0);
          gemm(s, o.a.data() + r0 * s.k, o.b.data(), false, o.c.data() + r0 * units, static_cast<int>(nr));
        }
      });
      return;
    }
    case Kind::conv_forward:
    case Kind::conv_data:
      parallel_for(0, s.count, kernels::grain_for(image_cost), [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i)
          gemm(s, o.A(s, static_cast<int>(i)), o.B(static_cast<int>(i)), false, o.C(s, static_cast<int>(i)), s.m);
      });
      return;
    case Kind::conv_weight: {  // fixed chunks of images, summed in chunk order
      const int64_t chunks =
          std::clamp<int64_t>(threads::chunk_count(s.count, kernels::grain_for(image_cost)), 1, kernels::kMaxWeightChunks);
      parallel_chunks(chunks, [&](int64_t c) {
        float* dw = c == 0 ? o.c.data() : o.partials.data() + (c - 1) * o.c_size;
        std::fill(dw, dw + o.c_size, 0.0f);
        int64_t lo, hi;
        threads::chunk_bounds(0, s.count, chunks, c, lo, hi);
        for (int64_t i = lo; i < hi; ++i) gemm(s, o.A(s, static_cast<int>(i)), o.B(static_cast<int>(i)), true, dw, s.m);
      });
      for (int64_t c = 1; c < chunks; ++c)
        for (int64_t i = 0; i < o.c_size; ++i) o.c[i] += o.partials[(c - 1) * o.c_size + i];
      return;
    }
  }
}

#ifdef HYBRID_BENCH_HAVE_DNNL
/// oneDNN's Debian build threads with OpenMP: its thread count is libgomp's,
/// found at run time (linking libgomp here would need -fopenmp, which would
/// thread this file's own Eigen products).
void set_omp_threads(int n) {
  static auto f = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  if (f) f(n);
}

/// oneDNN's matmul for one product of the shape, the primitive created once;
/// the operands' handles change per image.
struct DnnlGemm {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  dnnl::matmul prim;
  dnnl::memory a, b, c;
  explicit DnnlGemm(const Shape& s) {
    using dt = dnnl::memory::data_type;
    using dims = dnnl::memory::dims;
    const int64_t m = s.m, n = s.n, k = s.k;
    dnnl::memory::desc ad(dims{m, k}, dt::f32, s.ta ? dims{1, m} : dims{k, 1});
    dnnl::memory::desc bd(dims{k, n}, dt::f32, s.tb ? dims{1, k} : dims{n, 1});
    dnnl::memory::desc cd(dims{m, n}, dt::f32, dims{n, 1});
    dnnl::primitive_attr attr;
    if (s.kind == Kind::conv_weight) {
      dnnl::post_ops po;
      po.append_sum(1.0f);
      attr.set_post_ops(po);
    }
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(ad, bd, cd), attr, eng);
    prim = dnnl::matmul(pd);
    a = dnnl::memory(ad, eng, nullptr);
    b = dnnl::memory(bd, eng, nullptr);
    c = dnnl::memory(cd, eng, nullptr);
  }
  void operator()(const float* pa, const float* pb, float* pc) {
    a.set_data_handle(const_cast<float*>(pa));
    b.set_data_handle(const_cast<float*>(pb));
    c.set_data_handle(pc);
    prim.execute(strm, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
    strm.wait();
  }
};
#endif

// ---- Benchmarks --------------------------------------------------------------------

/// Runs `body` on fresh operands, first checking its result against Eigen on
/// one thread.
void measure(benchmark::State& state, const Shape& s, const std::function<void(Operands&)>& body) {
  Operands ref(s), o(s);
  hybrid::set_num_threads(1);
  run_whole(s, ref, eigen_gemm);
  body(o);
  double diff = 0;
  for (size_t i = 0; i < o.c.size(); ++i) diff = std::max(diff, static_cast<double>(std::fabs(o.c[i] - ref.c[i])));
  state.counters["max_abs_diff"] = diff;
  for (auto _ : state) {
    body(o);
    benchmark::DoNotOptimize(o.c.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(s.flops() * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

std::vector<std::string> g_variants;

void add(const std::string& variant, int threads, const Shape& s, std::function<void(benchmark::State&)> fn) {
  const std::string v = variant + "/" + std::to_string(threads);
  if (std::find(g_variants.begin(), g_variants.end(), v) == g_variants.end()) g_variants.push_back(v);
  benchmark::RegisterBenchmark(("gemm/" + s.name + "/" + v).c_str(), fn)->UseRealTime()->Unit(benchmark::kMicrosecond);
}

void register_all() {
  for (const Shape& s : shapes()) {
    for (int t : {1, 2}) {
      add("eigen", t, s, [s, t](benchmark::State& st) {
        measure(st, s, [&](Operands& o) {
          hybrid::set_num_threads(t);
          run_partitioned(s, o, eigen_gemm);
        });
      });
#ifdef HYBRID_BENCH_HAVE_EIGEN_OMP
      add("eigen_omp", t, s, [s, t](benchmark::State& st) {
        hybrid_bench_eigen_omp_set_threads(t);
        measure(st, s, [&](Operands& o) {
          run_whole(s, o, [](const Shape& sh, const float* a, const float* b, bool acc, float* c, int m) {
            hybrid_bench_eigen_omp_gemm(sh.ta, sh.tb, m, sh.n, sh.k, a, b, acc, c);
          });
        });
      });
#endif
      for (auto [name, lib] : {std::pair<const char*, Cblas*>{"openblas", &openblas()}, {"blis", &blis()}}) {
        if (!*lib) continue;
        add(name, t, s, [s, t, lib = lib](benchmark::State& st) {
          lib->set_threads(t);
          measure(st, s, [&](Operands& o) { run_whole(s, o, cblas_gemm(*lib)); });
        });
        if (t > 1)
          add(std::string(name) + "_pool", t, s, [s, t, lib = lib](benchmark::State& st) {
            lib->set_threads(1);
            measure(st, s, [&](Operands& o) {
              hybrid::set_num_threads(t);
              run_partitioned(s, o, cblas_gemm(*lib));
            });
          });
      }
#ifdef HYBRID_BENCH_HAVE_DNNL
      add("dnnl", t, s, [s, t](benchmark::State& st) {
        set_omp_threads(t);
        DnnlGemm g(s);
        measure(st, s, [&](Operands& o) {
          run_whole(s, o, [&](const Shape&, const float* a, const float* b, bool, float* c, int) { g(a, b, c); });
        });
      });
      // dnnl_sgemm, oneDNN's BLAS-like call (row-major): what a backend switch
      // would call, threads as for the matmul, or one per pool chunk.
      auto dnnl_sgemm_fn = [](const Shape& sh, const float* a, const float* b, bool acc, float* c, int m) {
        dnnl_sgemm(sh.ta ? 'T' : 'N', sh.tb ? 'T' : 'N', m, sh.n, sh.k, 1.0f, a, sh.ta ? m : sh.k, b,
                   sh.tb ? sh.k : sh.n, acc ? 1.0f : 0.0f, c, sh.n);
      };
      add("dnnl_sgemm", t, s, [s, t, dnnl_sgemm_fn](benchmark::State& st) {
        set_omp_threads(t);
        measure(st, s, [&](Operands& o) { run_whole(s, o, dnnl_sgemm_fn); });
      });
      if (t > 1)
        add("dnnl_sgemm_pool", t, s, [s, t, dnnl_sgemm_fn](benchmark::State& st) {
          measure(st, s, [&](Operands& o) {
            hybrid::set_num_threads(t);
            // OpenMP's thread count is per thread: one on every chunk's thread.
            run_partitioned(s, o, [&](const Shape& sh, const float* a, const float* b, bool acc, float* c, int m) {
              set_omp_threads(1);
              dnnl_sgemm_fn(sh, a, b, acc, c, m);
            });
          });
        });
#endif
    }
  }
}

/// Independent single-threaded Eigen products, one per benchmark thread (no
/// pool, nothing shared): whether two busy AVX threads run at full speed.
void BM_independent(benchmark::State& state) {
  const Shape s{"independent", Kind::dense, 256, 256, 512, false, true, 1};
  Operands o(s);
  for (auto _ : state) {
    run_whole(s, o, eigen_gemm);
    benchmark::DoNotOptimize(o.c.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(s.flops() * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

void report(const std::map<std::string, double>& medians) {
  std::printf("\nGFLOP/s (ratio to eigen/1), medians\n\n| shape | flops |");
  for (const auto& v : g_variants) std::printf(" %s |", v.c_str());
  std::printf("\n|---|---|");
  for (size_t i = 0; i < g_variants.size(); ++i) std::printf("---|");
  std::printf("\n");
  for (const Shape& s : shapes()) {
    auto time = [&](const std::string& v) {
      auto it = medians.find("gemm/" + s.name + "/" + v + "/real_time");
      if (it == medians.end()) it = medians.find("gemm/" + s.name + "/" + v);
      return it == medians.end() ? 0.0 : it->second;
    };
    const double base = time("eigen/1");
    if (base == 0) continue;
    std::printf("| %s | %.3g |", s.name.c_str(), s.flops());
    for (const auto& v : g_variants) {
      const double t = time(v);
      if (t == 0)
        std::printf(" – |");
      else
        std::printf(" %.1f (%.2f×) |", s.flops() / (t * 1e-6) / 1e9, base / t);
    }
    std::printf("\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::RegisterBenchmark("independent_eigen_512x256_b256", BM_independent)
      ->Threads(1)
      ->Threads(2)
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
  return run_benchmarks(argc, argv, report);
}
