#pragma once
// Storage: one aligned, reference-counted buffer of elements. Tensors share it.
#include <cstddef>
#include <memory>
#include <new>

namespace hybrid {

/// Alignment of every buffer the library allocates: a cache line, which also
/// satisfies AVX-512 loads.
inline constexpr std::size_t kAlignment = 64;

// C++17's aligned operator new: portable (std::aligned_alloc is missing on MSVC).
struct AlignedFree {
  void operator()(void* p) const noexcept { ::operator delete(p, std::align_val_t{kAlignment}); }
};

/// Allocates `bytes` (rounded up to the alignment) of uninitialised memory.
inline std::unique_ptr<void, AlignedFree> aligned_alloc_bytes(std::size_t bytes) {
  const std::size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  return std::unique_ptr<void, AlignedFree>(::operator new(rounded == 0 ? kAlignment : rounded,
                                                           std::align_val_t{kAlignment}));
}

template <class T>
class Storage {
 public:
  explicit Storage(int64_t n) : n_(n), mem_(aligned_alloc_bytes(sizeof(T) * static_cast<std::size_t>(n))) {}
  T* data() { return static_cast<T*>(mem_.get()); }
  const T* data() const { return static_cast<const T*>(mem_.get()); }
  int64_t size() const { return n_; }

 private:
  int64_t n_;
  std::unique_ptr<void, AlignedFree> mem_;
};

}  // namespace hybrid
