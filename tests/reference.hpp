#pragma once
// Naive reference implementations for the op tests: plain loops over
// row-major std::vector<double> data with explicit index arithmetic, written
// independently of the library's kernels and shape rules. Tests compute the
// expected values here and compare the library's results against them.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace ref {

using Dims = std::vector<int64_t>;
using Values = std::vector<double>;

/// A value array with its shape.
struct Array {
  Values v;
  Dims shape;
};

inline Dims dims(const hybrid::Shape& s) { return Dims(s.begin(), s.end()); }
inline hybrid::Shape shape(const Dims& d) { return hybrid::Shape(d); }

inline std::string text(const Dims& d) {
  std::ostringstream os;
  os << '(';
  for (size_t i = 0; i < d.size(); ++i) os << (i ? ", " : "") << d[i];
  if (d.size() == 1) os << ',';
  os << ')';
  return os.str();
}

inline int64_t count(const Dims& d) {
  int64_t n = 1;
  for (int64_t x : d) n *= x;
  return n;
}

/// NumPy broadcasting of two shapes, or nothing when they are incompatible.
inline std::optional<Dims> broadcast(const Dims& a, const Dims& b) {
  const size_t n = std::max(a.size(), b.size());
  Dims out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1) return std::nullopt;
    out[i] = da == 1 ? db : da;
  }
  return out;
}

/// The multi-index of a flat row-major position.
inline Dims unravel(int64_t flat, const Dims& s) {
  Dims idx(s.size());
  for (size_t d = s.size(); d-- > 0;) {
    idx[d] = flat % s[d];
    flat /= s[d];
  }
  return idx;
}

/// Flat position in `in` of the element broadcast to output index `idx`.
inline int64_t broadcast_offset(const Dims& idx, const Dims& in) {
  const size_t off = idx.size() - in.size();
  int64_t pos = 0;
  for (size_t d = 0; d < in.size(); ++d) pos = pos * in[d] + (in[d] == 1 ? 0 : idx[d + off]);
  return pos;
}

/// Flat row-major position of a full index.
inline int64_t ravel(const Dims& idx, const Dims& s) {
  int64_t pos = 0;
  for (size_t d = 0; d < s.size(); ++d) pos = pos * s[d] + idx[d];
  return pos;
}

template <class F>
Array unary(const Array& a, F f) {
  Array out{Values(a.v.size()), a.shape};
  for (size_t i = 0; i < a.v.size(); ++i) out.v[i] = f(a.v[i]);
  return out;
}

template <class F>
Array binary(const Array& a, const Array& b, F f) {
  Array out;
  out.shape = *broadcast(a.shape, b.shape);
  out.v.resize(static_cast<size_t>(count(out.shape)));
  for (int64_t i = 0; i < count(out.shape); ++i) {
    const Dims idx = unravel(i, out.shape);
    out.v[i] = f(a.v[broadcast_offset(idx, a.shape)], b.v[broadcast_offset(idx, b.shape)]);
  }
  return out;
}

template <class F>
Array ternary(const Array& a, const Array& b, const Array& c, F f) {
  Array out;
  out.shape = *broadcast(*broadcast(a.shape, b.shape), c.shape);
  out.v.resize(static_cast<size_t>(count(out.shape)));
  for (int64_t i = 0; i < count(out.shape); ++i) {
    const Dims idx = unravel(i, out.shape);
    out.v[i] = f(a.v[broadcast_offset(idx, a.shape)], b.v[broadcast_offset(idx, b.shape)],
                 c.v[broadcast_offset(idx, c.shape)]);
  }
  return out;
}

/// a @ b with NumPy's batch broadcasting over the leading dims (both >= 2-D).
inline Array matmul(const Array& a, const Array& b) {
  const int64_t m = a.shape[a.shape.size() - 2], k = a.shape.back(), n = b.shape.back();
  const Dims ba(a.shape.begin(), a.shape.end() - 2), bb(b.shape.begin(), b.shape.end() - 2);
  const Dims batch = *broadcast(ba, bb);
  Array out;
  out.shape = batch;
  out.shape.push_back(m);
  out.shape.push_back(n);
  out.v.assign(static_cast<size_t>(count(out.shape)), 0.0);
  for (int64_t bi = 0; bi < count(batch); ++bi) {
    const Dims idx = unravel(bi, batch);
    const int64_t oa = broadcast_offset(idx, ba) * m * k, ob = broadcast_offset(idx, bb) * k * n;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t p = 0; p < k; ++p) s += a.v[oa + i * k + p] * b.v[ob + p * n + j];
        out.v[bi * m * n + i * n + j] = s;
      }
  }
  return out;
}

/// out[idx] = x[idx permuted back]: output axis d is input axis perm[d].
inline Array transpose(const Array& x, const Dims& perm) {
  Array out;
  for (int64_t p : perm) out.shape.push_back(x.shape[p]);
  out.v.resize(x.v.size());
  for (int64_t i = 0; i < count(out.shape); ++i) {
    const Dims oi = unravel(i, out.shape);
    Dims ii(x.shape.size());
    for (size_t d = 0; d < perm.size(); ++d) ii[perm[d]] = oi[d];
    out.v[i] = x.v[ravel(ii, x.shape)];
  }
  return out;
}

enum class Reduce { sum, mean, max };

/// Reduction over one axis (already non-negative) or over all (axis = -1).
inline Array reduce(const Array& x, int axis, bool keepdims, Reduce kind) {
  Array out;
  for (size_t d = 0; d < x.shape.size(); ++d) {
    const bool reduced = axis < 0 || static_cast<int>(d) == axis;
    if (!reduced) out.shape.push_back(x.shape[d]);
    else if (keepdims) out.shape.push_back(1);
  }
  const int64_t n_out = count(out.shape);
  Values acc(static_cast<size_t>(n_out), kind == Reduce::max ? -std::numeric_limits<double>::infinity() : 0.0);
  std::vector<int64_t> hits(static_cast<size_t>(n_out), 0);
  for (int64_t i = 0; i < count(x.shape); ++i) {
    const Dims idx = unravel(i, x.shape);
    int64_t o = 0;
    for (size_t d = 0; d < x.shape.size(); ++d) {
      if (axis < 0 || static_cast<int>(d) == axis) continue;
      o = o * x.shape[d] + idx[d];
    }
    acc[o] = kind == Reduce::max ? std::max(acc[o], x.v[i]) : acc[o] + x.v[i];
    ++hits[o];
  }
  if (kind == Reduce::mean)
    for (int64_t o = 0; o < n_out; ++o)
      acc[o] = hits[o] ? acc[o] / static_cast<double>(hits[o]) : std::numeric_limits<double>::quiet_NaN();
  out.v = acc;
  return out;
}

/// softmax (or log_softmax) along a non-negative axis.
inline Array softmax(const Array& x, int axis, bool log) {
  Array out{Values(x.v.size()), x.shape};
  const int64_t ext = x.shape[axis];
  for (int64_t i = 0; i < count(x.shape); ++i) {
    Dims idx = unravel(i, x.shape);
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t e = 0; e < ext; ++e) {
      idx[axis] = e;
      m = std::max(m, x.v[ravel(idx, x.shape)]);
    }
    double s = 0;
    for (int64_t e = 0; e < ext; ++e) {
      idx[axis] = e;
      s += std::exp(x.v[ravel(idx, x.shape)] - m);
    }
    out.v[i] = log ? x.v[i] - m - std::log(s) : std::exp(x.v[i] - m) / s;
  }
  return out;
}

/// Joins arrays along a non-negative axis.
inline Array concat(const std::vector<Array>& xs, int axis) {
  Array out;
  out.shape = xs[0].shape;
  out.shape[axis] = 0;
  for (const Array& x : xs) out.shape[axis] += x.shape[axis];
  out.v.resize(static_cast<size_t>(count(out.shape)));
  for (int64_t i = 0; i < count(out.shape); ++i) {
    Dims idx = unravel(i, out.shape);
    size_t which = 0;
    while (idx[axis] >= xs[which].shape[axis]) idx[axis] -= xs[which++].shape[axis];
    out.v[i] = xs[which].v[ravel(idx, xs[which].shape)];
  }
  return out;
}

/// x[..., begin:end, ...] along a non-negative axis, with Python's bounds.
inline Array slice(const Array& x, int axis, int64_t begin, int64_t end) {
  const int64_t ext = x.shape[axis];
  auto clamp = [ext](int64_t v) {
    if (v < 0) v += ext;
    return v < 0 ? 0 : (v > ext ? ext : v);
  };
  const int64_t b = clamp(begin), e = std::max(b, clamp(end));
  Array out;
  out.shape = x.shape;
  out.shape[axis] = e - b;
  out.v.resize(static_cast<size_t>(count(out.shape)));
  for (int64_t i = 0; i < count(out.shape); ++i) {
    Dims idx = unravel(i, out.shape);
    idx[axis] += b;
    out.v[i] = x.v[ravel(idx, x.shape)];
  }
  return out;
}

// ---------------------------------------------------------------------------
// Random test inputs (our own generator and transforms: same cases everywhere).

struct Rng {
  std::mt19937_64 engine;
  explicit Rng(uint64_t seed) : engine(seed) {}
  /// An integer in [0, n).
  int64_t below(int64_t n) { return static_cast<int64_t>(engine() % static_cast<uint64_t>(n)); }
  bool chance(int percent) { return below(100) < percent; }
  double uniform(double lo, double hi) {
    return lo + (hi - lo) * static_cast<double>(engine() >> 11) * 0x1.0p-53;
  }
};

/// A shape of rank [min_rank, max_rank] with extents in [1, max_extent],
/// sometimes 1 and, if allowed, sometimes 0.
inline Dims random_dims(Rng& r, int min_rank, int max_rank, int64_t max_extent, bool allow_zero = true) {
  Dims d(static_cast<size_t>(min_rank + r.below(max_rank - min_rank + 1)));
  for (int64_t& x : d) {
    x = 1 + r.below(max_extent);
    if (r.chance(15)) x = 1;
    if (allow_zero && r.chance(5)) x = 0;
  }
  return d;
}

/// A shape that broadcasts to `out`: a suffix of it, some extents set to 1.
inline Dims broadcastable_to(Rng& r, const Dims& out) {
  const size_t rank = static_cast<size_t>(r.below(static_cast<int64_t>(out.size()) + 1));
  Dims d(out.end() - static_cast<std::ptrdiff_t>(rank), out.end());
  for (int64_t& x : d)
    if (r.chance(35)) x = 1;
  return d;
}

inline Values random_values(Rng& r, int64_t n, double lo, double hi) {
  Values v(static_cast<size_t>(n));
  for (double& x : v) x = r.uniform(lo, hi);
  return v;
}

/// Small integers in [lo, hi]: comparisons and max/min then see ties.
inline Values random_integers(Rng& r, int64_t n, int lo, int hi) {
  Values v(static_cast<size_t>(n));
  for (double& x : v) x = static_cast<double>(lo + r.below(hi - lo + 1));
  return v;
}

// ---------------------------------------------------------------------------
// Tensors to and from reference arrays.

/// The values rounded to T: the reference then sees exactly the tensor's inputs.
template <class T>
Array rounded(Array a) {
  for (double& x : a.v) x = static_cast<double>(static_cast<T>(x));
  return a;
}

template <class T>
hybrid::TensorT<T> tensor(const Array& a) {
  std::vector<T> v(a.v.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<T>(a.v[i]);
  return hybrid::from_vector<T>(v, shape(a.shape));
}

template <class T>
Array array(const hybrid::TensorT<T>& t) {
  Array a;
  a.shape = dims(t.shape());
  const std::vector<T> v = t.to_vector();
  a.v.assign(v.begin(), v.end());
  return a;
}

template <class T>
Array random_array(Rng& r, const Dims& d, double lo, double hi) {
  return rounded<T>(Array{random_values(r, count(d), lo, hi), d});
}

// ---------------------------------------------------------------------------
// Comparison.

/// Relative tolerance of each element type: float 1e-5, double 1e-12.
template <class T>
constexpr double rtol() {
  return std::is_same_v<T, float> ? 1e-5 : 1e-12;
}
/// Absolute tolerance, for results near zero.
template <class T>
constexpr double atol() {
  return std::is_same_v<T, float> ? 1e-6 : 1e-13;
}

inline bool close(double got, double want, double rt, double at) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return got == want;
  return std::abs(got - want) <= at + rt * std::abs(want);
}

/// Checks shape and every element of `got` against `want` with `same(got, want)`;
/// on a mismatch reports how many differ and the first one.
template <class T, class Same>
void check_elements(const hybrid::TensorT<T>& got, const Array& want, Same same) {
  INFO("expected shape " << text(want.shape) << ", got " << got.shape());
  REQUIRE(dims(got.shape()) == want.shape);
  const std::vector<T> v = got.to_vector();
  REQUIRE(v.size() == want.v.size());
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < v.size(); ++i)
    if (!same(static_cast<double>(v[i]), want.v[i]) && bad++ == 0) first = i;
  std::ostringstream report;  // INFO is scoped: it must stand beside the CHECK
  if (bad)
    report << bad << " of " << v.size() << " elements differ; first at flat index " << first << ": got "
           << static_cast<double>(v[first]) << ", expected " << want.v[first];
  INFO(report.str());
  CHECK(bad == 0);
}

/// Within the dtype's tolerance; `atol_scale` widens the absolute tolerance
/// for results that sum many terms.
template <class T>
void check_close(const hybrid::TensorT<T>& got, const Array& want, double atol_scale = 1) {
  check_elements(got, want, [&](double g, double w) { return close(g, w, rtol<T>(), atol<T>() * atol_scale); });
}

/// Exact comparison, for ops that only move or select values.
template <class T>
void check_equal(const hybrid::TensorT<T>& got, const Array& want) {
  check_elements(got, want, [](double g, double w) { return g == w; });
}

// ---------------------------------------------------------------------------
// Multi-axis reductions, stacking, broadcasting, padding and indexing.

/// Reduction over a set of non-negative axes (in any order, each once); an
/// empty set reduces nothing, unlike reduce()'s axis -1.
inline Array reduce_axes(const Array& x, const Dims& axes, bool keepdims, Reduce kind) {
  std::vector<bool> reduced(x.shape.size(), false);
  for (int64_t a : axes) reduced[static_cast<size_t>(a)] = true;
  Array out;
  for (size_t d = 0; d < x.shape.size(); ++d) {
    if (!reduced[d]) out.shape.push_back(x.shape[d]);
    else if (keepdims) out.shape.push_back(1);
  }
  const int64_t n_out = count(out.shape);
  Values acc(static_cast<size_t>(n_out), kind == Reduce::max ? -std::numeric_limits<double>::infinity() : 0.0);
  std::vector<int64_t> hits(static_cast<size_t>(n_out), 0);
  for (int64_t i = 0; i < count(x.shape); ++i) {
    const Dims idx = unravel(i, x.shape);
    int64_t o = 0;
    for (size_t d = 0; d < x.shape.size(); ++d)
      if (!reduced[d]) o = o * x.shape[d] + idx[d];
    acc[o] = kind == Reduce::max ? std::max(acc[o], x.v[i]) : acc[o] + x.v[i];
    ++hits[o];
  }
  if (kind == Reduce::mean)
    for (int64_t o = 0; o < n_out; ++o)
      acc[o] = hits[o] ? acc[o] / static_cast<double>(hits[o]) : std::numeric_limits<double>::quiet_NaN();
  out.v = acc;
  return out;
}

/// Arrays of one shape joined along a new axis in [0, r].
inline Array stack(const std::vector<Array>& xs, int axis) {
  Array out;
  out.shape = xs[0].shape;
  out.shape.insert(out.shape.begin() + axis, static_cast<int64_t>(xs.size()));
  out.v.resize(static_cast<size_t>(count(out.shape)));
  for (int64_t i = 0; i < count(out.shape); ++i) {
    Dims idx = unravel(i, out.shape);
    const int64_t which = idx[axis];
    idx.erase(idx.begin() + axis);
    out.v[i] = xs[which].v[ravel(idx, xs[which].shape)];
  }
  return out;
}

/// x repeated to `target` (x must broadcast to it).
inline Array broadcast_to(const Array& x, const Dims& target) {
  Array out{Values(static_cast<size_t>(count(target))), target};
  for (int64_t i = 0; i < count(target); ++i) out.v[i] = x.v[broadcast_offset(unravel(i, target), x.shape)];
  return out;
}

/// Constant padding: widths holds (before, after) for every axis.
inline Array pad(const Array& x, const Dims& widths, double value) {
  Array out;
  for (size_t d = 0; d < x.shape.size(); ++d) out.shape.push_back(widths[2 * d] + x.shape[d] + widths[2 * d + 1]);
  out.v.assign(static_cast<size_t>(count(out.shape)), value);
  for (int64_t i = 0; i < count(out.shape); ++i) {
    Dims idx = unravel(i, out.shape);
    bool inside = true;
    for (size_t d = 0; d < idx.size(); ++d) {
      idx[d] -= widths[2 * d];
      inside = inside && idx[d] >= 0 && idx[d] < x.shape[d];
    }
    if (inside) out.v[i] = x.v[ravel(idx, x.shape)];
  }
  return out;
}

/// x's non-negative axis replaced by the indices' shape: out[o..., m..., i...] = x[o..., indices[m...], i...].
inline Array take(const Array& x, const Array& indices, int axis) {
  Array out;
  out.shape.assign(x.shape.begin(), x.shape.begin() + axis);
  out.shape.insert(out.shape.end(), indices.shape.begin(), indices.shape.end());
  out.shape.insert(out.shape.end(), x.shape.begin() + axis + 1, x.shape.end());
  out.v.resize(static_cast<size_t>(count(out.shape)));
  const size_t k = indices.shape.size();
  for (int64_t i = 0; i < count(out.shape); ++i) {
    const Dims oi = unravel(i, out.shape);
    const Dims mi(oi.begin() + axis, oi.begin() + axis + static_cast<std::ptrdiff_t>(k));
    Dims xi(oi.begin(), oi.begin() + axis);
    xi.push_back(static_cast<int64_t>(indices.v[ravel(mi, indices.shape)]));
    xi.insert(xi.end(), oi.begin() + axis + static_cast<std::ptrdiff_t>(k), oi.end());
    out.v[i] = x.v[ravel(xi, x.shape)];
  }
  return out;
}

/// One entry per line along a non-negative axis: out[..., ...] = x[..., index[...], ...].
/// `index` holds one value per line, in the lines' row-major order.
inline Array pick(const Array& x, const Array& index, int axis, bool keepdims) {
  Array out;
  for (size_t d = 0; d < x.shape.size(); ++d) {
    if (static_cast<int>(d) != axis) out.shape.push_back(x.shape[d]);
    else if (keepdims) out.shape.push_back(1);
  }
  Dims lines = x.shape;
  lines[axis] = 1;
  out.v.resize(static_cast<size_t>(count(lines)));
  for (int64_t i = 0; i < count(lines); ++i) {
    Dims idx = unravel(i, lines);
    idx[axis] = static_cast<int64_t>(index.v[i]);
    out.v[i] = x.v[ravel(idx, x.shape)];
  }
  return out;
}

/// A last axis of `depth` classes: on at each index, off elsewhere.
inline Array one_hot(const Array& indices, int64_t depth, double on, double off) {
  Array out;
  out.shape = indices.shape;
  out.shape.push_back(depth);
  out.v.assign(static_cast<size_t>(count(out.shape)), off);
  for (size_t p = 0; p < indices.v.size(); ++p)
    out.v[p * static_cast<size_t>(depth) + static_cast<size_t>(indices.v[p])] = on;
  return out;
}

/// The first index of the largest entry along a non-negative axis; NaN is larger than everything.
inline Array argmax(const Array& x, int axis, bool keepdims) {
  Array out;
  for (size_t d = 0; d < x.shape.size(); ++d) {
    if (static_cast<int>(d) != axis) out.shape.push_back(x.shape[d]);
    else if (keepdims) out.shape.push_back(1);
  }
  Dims lines = x.shape;
  lines[axis] = 1;
  out.v.resize(static_cast<size_t>(count(lines)));
  for (int64_t i = 0; i < count(lines); ++i) {
    Dims idx = unravel(i, lines);
    int64_t best = -1;
    double best_value = 0;
    for (int64_t e = 0; e < x.shape[axis]; ++e) {
      idx[axis] = e;
      const double v = x.v[ravel(idx, x.shape)];
      if (best < 0 || (!std::isnan(best_value) && (std::isnan(v) || v > best_value))) {
        best = e;
        best_value = v;
      }
    }
    out.v[i] = static_cast<double>(best);
  }
  return out;
}

/// GELU, exact form: x · Φ(x).
inline double gelu(double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }

/// SiLU: x · sigmoid(x).
inline double silu(double x) { return x / (1 + std::exp(-x)); }

}  // namespace ref
