#pragma once
// Opening a file for reading, and its whole content read at once. A path
// that cannot be read is Error naming it; what the bytes mean is for the
// caller to check.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../core/errors.hpp"

namespace hybrid::io {

/// Opens the regular file at `path` for binary reading and sets `size` to its length.
inline std::ifstream open_for_reading(const std::string& path, uintmax_t& size) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw Error("cannot read '" + path + "': no such regular file");
  size = std::filesystem::file_size(path, ec);
  if (ec) throw Error("cannot read '" + path + "': " + ec.message());
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open '" + path + "' for reading");
  return in;
}

inline std::vector<unsigned char> read_file_bytes(const std::string& path) {
  uintmax_t size = 0;
  std::ifstream in = open_for_reading(path, size);
  std::vector<unsigned char> bytes(static_cast<size_t>(size));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  if (static_cast<uintmax_t>(in.gcount()) != size) throw Error("cannot read '" + path + "': short read");
  return bytes;
}

}  // namespace hybrid::io
