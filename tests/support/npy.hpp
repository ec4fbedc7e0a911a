#pragma once
// Reads and writes NumPy .npy files (version 1.0/2.0, little-endian, C
// order) of float32, float64 and int64, for comparing with outputs computed
// by other frameworks.
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <hybrid/hybrid.hpp>

namespace hybrid::testing {

struct NpyArray {
  std::string dtype;           // "<f4", "<f8" or "<i8"
  std::vector<int64_t> shape;
  std::vector<unsigned char> bytes;

  template <class T>
  TensorT<T> tensor() const {
    TensorT<T> t = zeros<T>(Shape(shape));
    const size_t n = static_cast<size_t>(t.size());
    for (size_t i = 0; i < n; ++i) {
      if (dtype == "<f4") { float v; std::memcpy(&v, &bytes[i * 4], 4); t.data()[i] = static_cast<T>(v); }
      else if (dtype == "<f8") { double v; std::memcpy(&v, &bytes[i * 8], 8); t.data()[i] = static_cast<T>(v); }
      else { int64_t v; std::memcpy(&v, &bytes[i * 8], 8); t.data()[i] = static_cast<T>(v); }
    }
    return t;
  }
};

inline NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("read_npy: cannot open '" + path + "'");
  char magic[8];
  in.read(magic, 8);
  if (!in || std::memcmp(magic, "\x93NUMPY", 6) != 0) throw FormatError(path + ": not a .npy file");
  uint32_t header_len = 0;
  unsigned char len[4] = {0, 0, 0, 0};
  const int len_bytes = magic[6] == 1 ? 2 : 4;
  in.read(reinterpret_cast<char*>(len), len_bytes);
  for (int i = 0; i < len_bytes; ++i) header_len |= static_cast<uint32_t>(len[i]) << (8 * i);
  std::string header(header_len, ' ');
  in.read(header.data(), header_len);
  NpyArray a;
  const auto field = [&](const std::string& key) {
    const size_t at = header.find("'" + key + "':");
    if (at == std::string::npos) throw FormatError(path + ": .npy header lacks '" + key + "'");
    return at + key.size() + 3;
  };
  size_t p = header.find('\'', field("descr")) + 1;
  a.dtype = header.substr(p, header.find('\'', p) - p);
  if (a.dtype != "<f4" && a.dtype != "<f8" && a.dtype != "<i8")
    throw FormatError(path + ": unsupported .npy dtype '" + a.dtype + "'");
  if (header.find("True", field("fortran_order")) < header.find(',', field("fortran_order")))
    throw FormatError(path + ": Fortran-order .npy files are not supported");
  p = header.find('(', field("shape")) + 1;
  const size_t close = header.find(')', p);
  int64_t elements = 1;
  for (size_t q = p; q < close;) {
    while (q < close && (header[q] == ' ' || header[q] == ',')) ++q;
    if (q >= close) break;
    size_t end = q;
    while (end < close && header[end] >= '0' && header[end] <= '9') ++end;
    a.shape.push_back(std::stoll(header.substr(q, end - q)));
    elements *= a.shape.back();
    q = end;
  }
  a.bytes.resize(static_cast<size_t>(elements) * (a.dtype == "<f4" ? 4 : 8));
  in.read(reinterpret_cast<char*>(a.bytes.data()), static_cast<std::streamsize>(a.bytes.size()));
  if (!in) throw FormatError(path + ": .npy data is truncated");
  return a;
}

/// Writes `t` as float32 (T = float) or float64 (T = double).
template <class T>
void write_npy(const std::string& path, const TensorT<T>& t) {
  const int rank = t.ndim();
  std::string shape = "(";
  for (int d = 0; d < rank; ++d) shape += std::to_string(t.shape()[d]) + (rank == 1 ? "," : d + 1 < rank ? ", " : "");
  shape += ")";
  std::string header = std::string("{'descr': '") + (sizeof(T) == 4 ? "<f4" : "<f8") +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  header.append(63 - (10 + header.size()) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error("write_npy: cannot open '" + path + "'");
  out.write("\x93NUMPY\x01\x00", 8);
  const unsigned char len[2] = {static_cast<unsigned char>(header.size() & 0xff),
                                static_cast<unsigned char>(header.size() >> 8)};
  out.write(reinterpret_cast<const char*>(len), 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(t.data()), static_cast<std::streamsize>(t.size() * sizeof(T)));
  if (!out) throw Error("write_npy: cannot write '" + path + "'");
}

}  // namespace hybrid::testing
