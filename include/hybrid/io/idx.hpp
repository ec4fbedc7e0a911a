#pragma once
// The idx format of the MNIST files (http://yann.lecun.com/exdb/mnist/):
//
//   [2 bytes]  0x00 0x00
//   [1 byte ]  element type: 0x08 ubyte, 0x09 sbyte, 0x0B int16, 0x0C int32,
//              0x0D float32, 0x0E float64
//   [1 byte ]  number of dimensions, d
//   [4 d    ]  each extent, unsigned 32-bit big-endian
//   [rest   ]  the elements, row-major, big-endian
//
// parse() checks the magic, that the extents' product fits, and that the
// byte count matches the header exactly: too few bytes is "truncated", too
// many is "trailing bytes", each FormatError naming the file with what was
// expected and what was found. read() takes plain or gzip files (gzip is
// recognised by its magic, whatever the name), so it needs zlib.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "../core/errors.hpp"
#include "../core/tensor.hpp"
#include "extents.hpp"
#include "file_bytes.hpp"
#include "gzip.hpp"

namespace hybrid::io::idx {

enum class Type : uint8_t { ubyte = 0x08, sbyte = 0x09, int16 = 0x0B, int32 = 0x0C, float32 = 0x0D, float64 = 0x0E };

inline const char* to_string(Type t) {
  switch (t) {
    case Type::ubyte: return "ubyte";
    case Type::sbyte: return "sbyte";
    case Type::int16: return "int16";
    case Type::int32: return "int32";
    case Type::float32: return "float32";
    case Type::float64: return "float64";
  }
  return "unknown";
}

/// Bytes per element of `t`.
inline int64_t element_bytes(Type t) {
  switch (t) {
    case Type::ubyte:
    case Type::sbyte: return 1;
    case Type::int16: return 2;
    case Type::int32:
    case Type::float32: return 4;
    case Type::float64: return 8;
  }
  return 0;
}

/// A parsed file: the header, and the file's bytes with the elements from `offset`.
struct Array {
  Type type = Type::ubyte;
  Shape shape;
  std::vector<unsigned char> bytes;
  size_t offset = 0;
  std::string source;

  const unsigned char* data() const { return bytes.data() + offset; }
  int64_t size() const { return numel(shape); }
};

namespace detail {

[[noreturn]] inline void fail(const std::string& source, const std::string& what) {
  throw FormatError("idx file '" + source + "': " + what);
}

inline uint64_t big_endian(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

/// Element i of `a` as a double, from big-endian storage.
inline double element(const Array& a, int64_t i) {
  const unsigned char* p = a.data() + static_cast<size_t>(i * element_bytes(a.type));
  switch (a.type) {
    case Type::ubyte: return p[0];
    case Type::sbyte: return static_cast<int8_t>(p[0]);
    case Type::int16: return static_cast<int16_t>(static_cast<uint16_t>(big_endian(p, 2)));
    case Type::int32: return static_cast<int32_t>(static_cast<uint32_t>(big_endian(p, 4)));
    case Type::float32: {
      const uint32_t u = static_cast<uint32_t>(big_endian(p, 4));
      float f;
      std::memcpy(&f, &u, 4);
      return f;
    }
    case Type::float64: {
      const uint64_t u = big_endian(p, 8);
      double d;
      std::memcpy(&d, &u, 8);
      return d;
    }
  }
  return 0;
}

}  // namespace detail

/// Parses the whole content of an idx file; `source` names it in errors.
inline Array parse(std::vector<unsigned char> bytes, std::string source) {
  const size_t n = bytes.size();
  if (n < 4)
    detail::fail(source, "the file is " + std::to_string(n) + " bytes, too short for the 4-byte magic (truncated?)");
  if (bytes[0] != 0 || bytes[1] != 0)
    detail::fail(source, "bad magic: the first two bytes are " + std::to_string(bytes[0]) + " " +
                             std::to_string(bytes[1]) + ", expected 0 0 (not an idx file)");
  const uint8_t code = bytes[2];
  const Type type = static_cast<Type>(code);
  if (element_bytes(type) == 0)
    detail::fail(source, "bad magic: unknown element type 0x" + gzip::detail::hex_byte(code) +
                             " (expected 08 ubyte, 09 sbyte, 0b int16, 0c int32, 0d float32 or 0e float64)");
  const int ndims = bytes[3];
  if (ndims > Shape::kMaxDims)
    detail::fail(source, std::to_string(ndims) + " dimensions; at most " + std::to_string(Shape::kMaxDims) +
                             " are supported");
  const size_t header = 4 + 4 * static_cast<size_t>(ndims);
  if (n < header)
    detail::fail(source, "truncated header: " + std::to_string(ndims) + " dimensions need " + std::to_string(header) +
                             " header bytes, the file has " + std::to_string(n));
  Shape shape;
  for (int d = 0; d < ndims; ++d)
    shape.push_back(static_cast<int64_t>(detail::big_endian(bytes.data() + 4 + 4 * d, 4)));
  const int64_t element = element_bytes(type);
  if (!byte_size_fits(shape, element))
    detail::fail(source, "dimensions " + hybrid::to_string(shape) + " of " + to_string(type) +
                             " hold more bytes than fit in 64 bits");
  const uint64_t data_bytes = static_cast<uint64_t>(numel(shape)) * static_cast<uint64_t>(element);
  const std::string what = "a " + std::string(to_string(type)) + " array of shape " + hybrid::to_string(shape);
  const uint64_t found = n - header;
  if (found < data_bytes)
    detail::fail(source, "truncated: " + what + " needs " + std::to_string(data_bytes) + " data bytes after the " +
                             std::to_string(header) + "-byte header, found " + std::to_string(found));
  if (found > data_bytes)
    detail::fail(source, std::to_string(found - data_bytes) + (found - data_bytes == 1 ? " trailing byte: " : " trailing bytes: ") + what + " needs " +
                             std::to_string(data_bytes) + " data bytes after the " + std::to_string(header) +
                             "-byte header, found " + std::to_string(found));
  return Array{type, shape, std::move(bytes), header, std::move(source)};
}

/// Reads and parses the idx file at `path`, plain or gzip-compressed.
inline Array read(const std::string& path) {
  std::vector<unsigned char> bytes = read_file_bytes(path);
  if (gzip::is_gzip(bytes.data(), bytes.size())) bytes = gzip::decompress(bytes, path);
  return parse(std::move(bytes), path);
}

/// The elements of `a` as a tensor of its shape, each divided by `divisor`
/// (255 maps bytes onto [0, 1] with 255 exactly 1).
template <class T>
TensorT<T> to_tensor(const Array& a, double divisor = 1.0) {
  TensorT<T> t = TensorT<T>::empty(a.shape);
  T* out = t.data();
  const int64_t n = a.size();
  if (a.type == Type::ubyte) {  // the common case: one table lookup per byte
    T table[256];
    for (int v = 0; v < 256; ++v) table[v] = static_cast<T>(v / divisor);
    const unsigned char* in = a.data();
    for (int64_t i = 0; i < n; ++i) out[i] = table[in[i]];
    return t;
  }
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(detail::element(a, i) / divisor);
  return t;
}

}  // namespace hybrid::io::idx
