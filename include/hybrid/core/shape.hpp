#pragma once
// Shape: up to kMaxDims extents stored inline, so copying a shape never
// touches the heap (the executor copies shapes on its hot path).
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "errors.hpp"

namespace hybrid {

class Shape {
 public:
  static constexpr int kMaxDims = 8;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) { assign(dims.begin(), dims.end()); }
  explicit Shape(const std::vector<int64_t>& dims) { assign(dims.begin(), dims.end()); }

  int size() const { return n_; }
  bool empty() const { return n_ == 0; }
  int64_t operator[](int i) const { return d_[i]; }
  int64_t& operator[](int i) { return d_[i]; }
  const int64_t* begin() const { return d_; }
  const int64_t* end() const { return d_ + n_; }
  int64_t* begin() { return d_; }
  int64_t* end() { return d_ + n_; }
  int64_t back() const { return d_[n_ - 1]; }

  void push_back(int64_t v) {
    if (n_ == kMaxDims)
      throw ShapeError("shape: more than " + std::to_string(kMaxDims) + " dimensions");
    d_[n_++] = v;
  }
  std::vector<int64_t> to_vector() const { return {begin(), end()}; }

  friend bool operator==(const Shape& a, const Shape& b) {
    return a.n_ == b.n_ && std::equal(a.begin(), a.end(), b.begin());
  }
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }

 private:
  template <class It>
  void assign(It first, It last) {
    for (; first != last; ++first) push_back(*first);
  }
  int64_t d_[kMaxDims] = {};
  int n_ = 0;
};

inline std::string to_string(const Shape& s) {
  std::ostringstream os;
  os << '(';
  for (int i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  if (s.size() == 1) os << ',';
  os << ')';
  return os.str();
}

inline std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << to_string(s); }

/// Element count; rejects negative extents and products that overflow int64.
inline int64_t checked_numel(const Shape& s, const char* op = "shape") {
  bool has_zero = false;
  for (int64_t d : s) {
    if (d < 0)
      throw ShapeError(std::string(op) + ": negative dimension in shape " + to_string(s));
    has_zero = has_zero || d == 0;
  }
  // The non-zero extents must multiply without overflow even when a zero
  // makes the count 0: kernels and shape rules multiply subsets of them.
  int64_t n = 1;
  for (int64_t d : s) {
    if (d == 0) continue;
    if (n > std::numeric_limits<int64_t>::max() / d)
      throw ShapeError(std::string(op) + ": element count of shape " + to_string(s) +
                       " overflows");
    n *= d;
  }
  return has_zero ? 0 : n;
}

/// Element count of a shape already known to be valid.
inline int64_t numel(const Shape& s) {
  for (int64_t d : s)
    if (d == 0) return 0;  // before multiplying: the other extents may overflow together
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

/// Row-major strides in elements.
inline Shape contiguous_strides(const Shape& s) {
  Shape st = s;
  int64_t acc = 1;
  for (int i = s.size() - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

/// NumPy broadcasting of two shapes; `op` names the operation in the error.
inline Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const int n = std::max(a.size(), b.size());
  Shape out;
  for (int i = 0; i < n; ++i) {
    const int ia = i - (n - a.size()), ib = i - (n - b.size());
    const int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da != db && da != 1 && db != 1)
      throw ShapeError(std::string(op) + ": shapes " + to_string(a) + " and " + to_string(b) +
                       " cannot be broadcast together");
    out.push_back(da == 1 ? db : da);
  }
  return out;
}

/// Maps a possibly negative axis into [0, ndim); `op` names the operation in the error.
inline int normalize_axis(int64_t axis, int ndim, const char* op) {
  if (axis < -ndim || axis >= ndim)
    throw ShapeError(std::string(op) + ": axis " + std::to_string(axis) +
                     " is out of range for a tensor of " + std::to_string(ndim) + " dimensions");
  return static_cast<int>(axis < 0 ? axis + ndim : axis);
}

}  // namespace hybrid
