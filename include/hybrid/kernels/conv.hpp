#pragma once
// 2-D convolution, NCHW, on Eigen's GEMM. For each image and channel group,
// the input patches are unfolded (im2col) into the run's scratch as a
// (C/groups · kh · kw) × (Ho · Wo) matrix and multiplied by the group's
// weight rows; bias and the activation then run over that image's output
// while it is still in cache. A 1×1 kernel with stride 1 and no padding
// needs no unfolding: the image itself is the patch matrix.
//
// The backward ops are the transposed products of the same matrices:
// data = col2im(Wᵀ · dy) (patches summed back onto the pixels they came
// from), weight = Σ_images dy · colᵀ.
//
// On the thread pool, the forward and data ops split over images (each
// image's output is one chunk's). With too few images to split (batch 1 or
// 2 of small images), the forward splits each product over blocks of output
// channels, the data op over blocks of patch-matrix rows (then col2im over
// blocks of dx rows) and the weight op over blocks of dW columns (taps). The
// weight op sums over images, so with enough images it cuts the batch into
// chunks fixed by the geometry alone, sums each chunk into its own buffer and
// adds the buffers in chunk order: the same sums in the same order for any
// thread count. Each thread unfolds patches into its own buffer (the run's
// scratch on the calling thread, a worker's own elsewhere). Every partition
// is a function of the shapes alone.
// Built with HYBRID_USE_CBLAS, the products go to the CBLAS (blas.hpp).
#include <algorithm>
#include <cstring>

#include "linalg.hpp"
#include "parallel.hpp"

namespace hybrid::kernels {

template <class T>
using ColVector = Eigen::Matrix<T, Eigen::Dynamic, 1>;

/// The sizes of one convolution, from the data and weight shapes and the
/// attributes (already validated by the shape rule).
struct ConvGeometry {
  int64_t n = 0, c = 0, h = 0, w = 0;  // data (N, C, H, W)
  int64_t o = 0, kh = 0, kw = 0;       // weight (O, C / groups, kh, kw)
  int64_t groups = 1;
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  int64_t ho = 0, wo = 0;  // output (N, O, ho, wo)

  int64_t group_channels() const { return c / groups; }
  int64_t group_outputs() const { return o / groups; }
  /// Rows of the patch matrix: the taps of one output pixel in one group.
  int64_t patch() const { return group_channels() * kh * kw; }
  int64_t pixels() const { return ho * wo; }
  /// The data is its own patch matrix.
  bool pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
};

/// Output extent along one axis: floor((in + 2p − d(k − 1) − 1) / s) + 1.
inline int64_t conv_out_extent(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) {
  return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

inline ConvGeometry conv_geometry(const Shape& x, const Shape& weight, const Attrs& a) {
  ConvGeometry g;
  g.n = x[0], g.c = x[1], g.h = x[2], g.w = x[3];
  g.o = weight[0], g.kh = weight[2], g.kw = weight[3];
  g.groups = a.groups;
  g.sh = a.stride[0], g.sw = a.stride[1];
  g.ph = a.padding[0], g.pw = a.padding[1];
  g.dh = a.dilation[0], g.dw = a.dilation[1];
  g.ho = conv_out_extent(g.h, g.kh, g.sh, g.ph, g.dh);
  g.wo = conv_out_extent(g.w, g.kw, g.sw, g.pw, g.dw);
  return g;
}

/// The output columns [lo, hi) whose tap at offset `off` (= j·dw − pw) lands
/// inside a row of `w` pixels; the others read padding.
inline void conv_valid_range(int64_t off, int64_t stride, int64_t w, int64_t wo, int64_t& lo, int64_t& hi) {
  lo = off >= 0 ? 0 : std::min(wo, (-off + stride - 1) / stride);
  hi = w - 1 - off < 0 ? 0 : std::min(wo, (w - 1 - off) / stride + 1);
  hi = std::max(hi, lo);
}

/// Rows [r0, r1) of the patch matrix of one group of one image (`x` points
/// at its first channel) into `col` (row r at col + (r − r0) · pixels());
/// padding reads as zero. A row is one tap (c, i, j).
template <class T>
void im2col_rows(const T* x, const ConvGeometry& g, T* col, int64_t r0, int64_t r1) {
  const int64_t plane = g.h * g.w, pixels = g.pixels();
  // The tap's (c, i, j), stepped rather than divided out per row: a
  // division per tap measurably slowed batch-1 convolutions.
  int64_t c = r0 / (g.kh * g.kw), i = r0 / g.kw % g.kh, j = r0 % g.kw - 1;
  for (int64_t tap = r0; tap < r1; ++tap) {
    if (++j == g.kw) {
      j = 0;
      if (++i == g.kh) {
        i = 0;
        ++c;
      }
    }
    T* row = col + (tap - r0) * pixels;
    const int64_t off = j * g.dw - g.pw;
    int64_t lo, hi;
    conv_valid_range(off, g.sw, g.w, g.wo, lo, hi);
    for (int64_t oh = 0; oh < g.ho; ++oh) {
      T* r = row + oh * g.wo;
      const int64_t ih = oh * g.sh - g.ph + i * g.dh;
      if (ih < 0 || ih >= g.h) {
        std::fill(r, r + g.wo, T(0));
        continue;
      }
      const T* src = x + c * plane + ih * g.w;  // column ow reads src[ow·sw + off]
      std::fill(r, r + lo, T(0));
      if (g.sw == 1) {
        std::copy(src + lo + off, src + hi + off, r + lo);
      } else {
        for (int64_t ow = lo; ow < hi; ++ow) r[ow] = src[ow * g.sw + off];
      }
      std::fill(r + hi, r + g.wo, T(0));
    }
  }
}

/// Unfolds one group of one image (`x` points at its first channel) into
/// `col`, a patch() × pixels() row-major matrix; padding reads as zero.
template <class T>
void im2col(const T* x, const ConvGeometry& g, T* col) {
  im2col_rows(x, g, col, 0, g.patch());
}

/// The adjoint of im2col for channel `c` of one group and input rows
/// [ih0, ih1): adds each entry of `col` that was read from those rows onto
/// its pixel of `x` (one group of one image); padding entries are dropped.
/// Each pixel receives its entries in the order of the whole-image walk.
template <class T>
void col2im_add_rows(const T* col, const ConvGeometry& g, T* x, int64_t c, int64_t ih0, int64_t ih1) {
  const int64_t plane = g.h * g.w, pixels = g.pixels();
  for (int64_t i = 0; i < g.kh; ++i)
    for (int64_t j = 0; j < g.kw; ++j) {
      const T* row = col + ((c * g.kh + i) * g.kw + j) * pixels;
      const int64_t off = j * g.dw - g.pw;
      int64_t lo, hi;
      conv_valid_range(off, g.sw, g.w, g.wo, lo, hi);
      for (int64_t oh = 0; oh < g.ho; ++oh) {
        const int64_t ih = oh * g.sh - g.ph + i * g.dh;
        if (ih < ih0 || ih >= ih1) continue;
        const T* r = row + oh * g.wo;
        T* dst = x + c * plane + ih * g.w;
        for (int64_t ow = lo; ow < hi; ++ow) dst[ow * g.sw + off] += r[ow];
      }
    }
}

/// The adjoint of im2col: adds each entry of `col` onto the pixel of `x`
/// (one group of one image) it was read from; padding entries are dropped.
template <class T>
void col2im_add(const T* col, const ConvGeometry& g, T* x) {
  for (int64_t c = 0; c < g.group_channels(); ++c) col2im_add_rows(col, g, x, c, 0, g.h);
}

/// Scratch of the three ops: one patch matrix, none for pointwise kernels.
inline int64_t conv_patch_scratch(const ConvGeometry& g) { return g.pointwise() ? 0 : g.patch() * g.pixels(); }
/// Flops of one image through the convolution (any of the three products).
inline int64_t conv_image_cost(const ConvGeometry& g) {
  return std::max<int64_t>(1, 2 * g.o * g.patch() * g.pixels());
}
/// Output channels per block when a convolution splits over channels (too
/// few images): fewer repack the patch matrix for too little work.
inline constexpr int64_t kMinConvChannels = 16;
/// Flops of one image below which the backward ops never split inside it:
/// the split's smaller products cost a little on any thread count (LeNet's
/// conv2, 4.8·10⁵ flops per image, split in two made a batch-1 training step
/// 4–6 % slower on one thread, measured while im2col still divided per row),
/// so only images of several chunks' work pay.
inline constexpr int64_t kInImageSplitCost = 4 * kChunkCost;
/// At most this many weight-sized partial sums: memory, not threads, limits them.
inline constexpr int64_t kMaxWeightChunks = 8;
/// The weight op's fixed chunks of images; chunk c > 0 sums into its own
/// weight-sized buffer after the patch matrix.
inline int64_t conv_weight_chunks(const ConvGeometry& g) {
  return std::clamp<int64_t>(threads::chunk_count(g.n, grain_for(conv_image_cost(g))), 1, kMaxWeightChunks);
}
inline int64_t conv2d_scratch(const Attrs& a, const Shape* in, int, const Shape&) {
  return conv_patch_scratch(conv_geometry(in[0], in[1], a));
}
inline int64_t conv2d_backward_data_scratch(const Attrs& a, const Shape* in, int, const Shape& out) {
  return conv_patch_scratch(conv_geometry(out, in[1], a));
}
inline int64_t conv2d_backward_weight_scratch(const Attrs& a, const Shape* in, int, const Shape& out) {
  const ConvGeometry g = conv_geometry(in[0], out, a);
  return conv_patch_scratch(g) + (conv_weight_chunks(g) - 1) * numel(out);
}

/// y = act(W ⊛ x + b): inputs x, weight and (unless no_bias) bias; `act` is
/// an elementwise tile function or null.
template <class T>
void conv2d_kernel(const KernelArgs<T>& k, TileFn<T> act) {
  const ConvGeometry g = conv_geometry(k.in_shape[0], k.in_shape[1], k.attrs);
  const int64_t cg = g.group_channels(), og = g.group_outputs(), patch = g.patch(), pixels = g.pixels();
  const T* bias = k.attrs.no_bias ? nullptr : k.in[2];
  // Output channels [r0, r1) of group `grp` of image `n` from its patch
  // matrix `col`, then their epilogue while they are in cache.
  auto channels = [&](int64_t n, int64_t grp, const T* col, int64_t r0, int64_t r1) {
    T* y = k.out + (n * g.o + grp * og + r0) * pixels;
    Eigen::Map<RowMatrix<T>> Y(y, r1 - r0, pixels);
    if (patch == 0) {
      Y.setZero();
    } else {
      Eigen::Map<const RowMatrix<T>> W(k.in[1] + (grp * og + r0) * patch, r1 - r0, patch), C(col, patch, pixels);
      if (!cblas_gemm(false, false, r1 - r0, pixels, patch, W.data(), col, false, y)) Y.noalias() = W * C;
    }
    if (bias) Y.colwise() += Eigen::Map<const ColVector<T>>(bias + grp * og + r0, r1 - r0);
    if (act) {
      const T* args[1] = {y};
      act(args, y, (r1 - r0) * pixels, k.attrs);
    }
  };
  auto patches = [&](int64_t n, int64_t grp, T* scratch) -> const T* {
    const T* x = k.in[0] + (n * g.c + grp * cg) * g.h * g.w;
    if (g.pointwise() || patch == 0) return x;
    im2col(x, g, scratch);
    return scratch;
  };
  const int64_t image_grain = grain_for(conv_image_cost(g));
  if (threads::chunk_count(g.n, image_grain) > 1 || og < 2 * kMinConvChannels) {
    // Whole images per chunk.
    parallel_for(0, g.n, image_grain, [&](int64_t lo, int64_t hi) {
      T* scratch = chunk_scratch(k.scratch, conv_patch_scratch(g));
      for (int64_t n = lo; n < hi; ++n)
        for (int64_t grp = 0; grp < g.groups; ++grp) channels(n, grp, patches(n, grp, scratch), 0, og);
    });
    return;
  }
  // Too few images to split (batch 1): unfold on this thread, then split the
  // product over blocks of output channels, which share the patch matrix.
  const int64_t rows = std::max({kMinConvChannels, grain_for(2 * std::max<int64_t>(patch, 1) * pixels)});
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      const T* col = patches(n, grp, k.scratch);
      parallel_for(0, (og + rows - 1) / rows, 1, [&](int64_t lo, int64_t hi) {
        channels(n, grp, col, lo * rows, std::min(og, hi * rows));
      });
    }
}

/// dx of a convolution: inputs dy and weight; the output has attrs.shape (x's).
template <class T>
void conv2d_backward_data_kernel(const KernelArgs<T>& k) {
  const ConvGeometry g = conv_geometry(k.out_shape, k.in_shape[1], k.attrs);
  const int64_t cg = g.group_channels(), og = g.group_outputs(), patch = g.patch(), pixels = g.pixels();
  const int64_t image_size = g.c * g.h * g.w;
  const int64_t image_grain = grain_for(conv_image_cost(g));
  // Too few images to split (batch 1 or 2 of small images): blocks of the
  // patch-matrix rows Wᵀ · dy instead, then col2im over blocks of dx rows.
  const int64_t block = gemm_row_block(patch, 2 * std::max<int64_t>(og, 1) * pixels, patch);
  const int64_t blocks = patch == 0 ? 0 : (patch + block - 1) / block;
  if (threads::chunk_count(g.n, image_grain) > 1 || conv_image_cost(g) < kInImageSplitCost || og == 0 ||
      blocks < 2) {
    // Whole images per chunk.
    parallel_for(0, g.n, image_grain, [&](int64_t lo, int64_t hi) {
      std::fill(k.out + lo * image_size, k.out + hi * image_size, T(0));
      if (og == 0 || patch == 0) return;
      T* scratch = chunk_scratch(k.scratch, conv_patch_scratch(g));
      for (int64_t n = lo; n < hi; ++n)
        for (int64_t grp = 0; grp < g.groups; ++grp) {
          Eigen::Map<const RowMatrix<T>> W(k.in[1] + grp * og * patch, og, patch);
          Eigen::Map<const RowMatrix<T>> dY(k.in[0] + (n * g.o + grp * og) * pixels, og, pixels);
          T* dx = k.out + (n * g.c + grp * cg) * g.h * g.w;
          T* cols = g.pointwise() ? dx : scratch;
          if (!cblas_gemm(true, false, patch, pixels, og, W.data(), dY.data(), false, cols))
            Eigen::Map<RowMatrix<T>>(cols, patch, pixels).noalias() = W.transpose() * dY;
          if (!g.pointwise()) col2im_add(scratch, g, dx);
        }
    });
    return;
  }
  std::fill(k.out, k.out + g.n * image_size, T(0));
  // Input rows (c, ih) of one group per col2im chunk, each about kh·kw·pixels/h adds.
  const int64_t row_grain = grain_for(std::max<int64_t>(1, g.kh * g.kw * pixels / std::max<int64_t>(g.h, 1)));
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      Eigen::Map<const RowMatrix<T>> W(k.in[1] + grp * og * patch, og, patch);
      Eigen::Map<const RowMatrix<T>> dY(k.in[0] + (n * g.o + grp * og) * pixels, og, pixels);
      T* dx = k.out + (n * g.c + grp * cg) * g.h * g.w;
      // The blocks write disjoint rows of the run's patch matrix (or of dx).
      T* cols = g.pointwise() ? dx : k.scratch;
      parallel_for(0, blocks, 1, [&](int64_t lo, int64_t hi) {
        const int64_t r0 = lo * block, r1 = std::min(patch, hi * block);
        Eigen::Map<RowMatrix<T>>(cols + r0 * pixels, r1 - r0, pixels).noalias() =
            W.transpose().middleRows(r0, r1 - r0) * dY;
      });
      if (g.pointwise()) continue;
      parallel_for(0, cg * g.h, row_grain, [&](int64_t lo, int64_t hi) {
        for (int64_t item = lo; item < hi;) {
          const int64_t c = item / g.h, ih0 = item % g.h, ih1 = std::min(g.h, ih0 + (hi - item));
          col2im_add_rows(cols, g, dx, c, ih0, ih1);
          item += ih1 - ih0;
        }
      });
    }
}

/// dW of a convolution: inputs x and dy; the output has attrs.shape (the weight's).
template <class T>
void conv2d_backward_weight_kernel(const KernelArgs<T>& k) {
  const ConvGeometry g = conv_geometry(k.in_shape[0], k.out_shape, k.attrs);
  const int64_t cg = g.group_channels(), og = g.group_outputs(), patch = g.patch(), pixels = g.pixels();
  const int64_t weight_size = numel(k.out_shape);
  const int64_t chunks = conv_weight_chunks(g);
  // Too few images for two chunks (batch 1 or 2 of small images): blocks of
  // dW's columns (taps) instead; each chunk unfolds its own rows of every
  // patch matrix and adds the images in order, so no partial sums.
  // At least 64 taps a block: blocks of 16 cost 8 % on one thread (64 → 64
  // channels, 3×3, 28×28: 36 blocks of small products).
  const int64_t taps = std::max(kMinGemmRows, grain_for(2 * std::max<int64_t>(og, 1) * pixels * g.n));
  const int64_t tap_blocks = patch == 0 ? 0 : (patch + taps - 1) / taps;
  if (chunks == 1 && conv_image_cost(g) >= kInImageSplitCost && og > 0 && tap_blocks >= 2) {
    std::fill(k.out, k.out + weight_size, T(0));
    parallel_for(0, tap_blocks, 1, [&](int64_t lo, int64_t hi) {
      const int64_t r0 = lo * taps, r1 = std::min(patch, hi * taps);
      T* scratch = chunk_scratch(k.scratch, conv_patch_scratch(g));
      for (int64_t n = 0; n < g.n; ++n)
        for (int64_t grp = 0; grp < g.groups; ++grp) {
          const T* x = k.in[0] + (n * g.c + grp * cg) * g.h * g.w;
          const T* col = x + r0 * pixels;
          if (!g.pointwise()) {
            im2col_rows(x, g, scratch, r0, r1);
            col = scratch;
          }
          Eigen::Map<const RowMatrix<T>> C(col, r1 - r0, pixels);
          Eigen::Map<const RowMatrix<T>> dY(k.in[1] + (n * g.o + grp * og) * pixels, og, pixels);
          Eigen::Map<RowMatrix<T>, 0, Eigen::OuterStride<>> dW(k.out + grp * og * patch + r0, og, r1 - r0,
                                                                Eigen::OuterStride<>(patch));
          dW.noalias() += dY * C.transpose();
        }
    });
    return;
  }
  T* partials = k.scratch + conv_patch_scratch(g);  // chunks 1.. sum here; chunk 0 into out
  parallel_chunks(chunks, [&](int64_t c) {
    T* dw = c == 0 ? k.out : partials + (c - 1) * weight_size;
    std::fill(dw, dw + weight_size, T(0));
    if (og == 0 || patch == 0) return;
    T* scratch = chunk_scratch(k.scratch, conv_patch_scratch(g));
    int64_t lo, hi;
    threads::chunk_bounds(0, g.n, chunks, c, lo, hi);
    for (int64_t n = lo; n < hi; ++n)
      for (int64_t grp = 0; grp < g.groups; ++grp) {
        const T* x = k.in[0] + (n * g.c + grp * cg) * g.h * g.w;
        const T* col = x;
        if (!g.pointwise()) {
          im2col(x, g, scratch);
          col = scratch;
        }
        Eigen::Map<const RowMatrix<T>> C(col, patch, pixels);
        Eigen::Map<const RowMatrix<T>> dY(k.in[1] + (n * g.o + grp * og) * pixels, og, pixels);
        if (!cblas_gemm(false, true, og, patch, pixels, dY.data(), col, true, dw + grp * og * patch))
          Eigen::Map<RowMatrix<T>>(dw + grp * og * patch, og, patch).noalias() += dY * C.transpose();
      }
  });
  // The chunks' sums, added in chunk order.
  for (int64_t c = 1; c < chunks; ++c) {
    const T* p = partials + (c - 1) * weight_size;
    for (int64_t i = 0; i < weight_size; ++i) k.out[i] += p[i];
  }
}

}  // namespace hybrid::kernels
