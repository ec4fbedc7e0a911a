#pragma once
// gzip (RFC 1952) decompression through zlib. This header, and every header
// that includes it, needs zlib at link time (CMake target hybrid::data);
// hybrid/hybrid.hpp never includes it, so the core stays header-only.
//
//   std::vector<unsigned char> raw = hybrid::io::gzip::read("train-images-idx3-ubyte.gz");
//
// A file may hold several members one after another (as `cat a.gz b.gz`
// makes); they decompress to the concatenation of their contents, as gunzip
// does. Bad content is FormatError naming the file: not gzip, truncated,
// corrupt (bad deflate data, wrong CRC or length), or bytes after the last
// member that do not start another one. A path that cannot be read is Error.
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <new>
#include <string>
#include <vector>

#include "../core/errors.hpp"
#include "file_bytes.hpp"

// Marks a translation unit that includes a zlib-dependent header; the
// header-only check (tests/header_only) fails when hybrid/hybrid.hpp defines it.
#define HYBRID_NEEDS_ZLIB 1

namespace hybrid::io::gzip {

/// Output beyond this is refused unless the caller raises it: a few kilobytes
/// of deflate data can expand a thousandfold.
inline constexpr size_t kDefaultMaxBytes = size_t{1} << 32;

namespace detail {

[[noreturn]] inline void fail(const std::string& source, const std::string& what) {
  throw FormatError("gzip file '" + source + "': " + what);
}

inline std::string hex_byte(unsigned char b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02x", b);
  return buf;
}

/// Ends a zlib stream however the caller leaves.
struct StreamGuard {
  z_stream* s;
  ~StreamGuard() { inflateEnd(s); }
};

}  // namespace detail

/// True when `bytes` start with the gzip magic 1f 8b.
inline bool is_gzip(const unsigned char* bytes, size_t n) { return n >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b; }

/// The decompressed content of the gzip data `bytes[0, n)`; `source` names
/// it in errors. More than `max_bytes` of output is FormatError.
inline std::vector<unsigned char> decompress(const unsigned char* bytes, size_t n, const std::string& source,
                                             size_t max_bytes = kDefaultMaxBytes) {
  if (!is_gzip(bytes, n)) {
    if (n < 2) detail::fail(source, "not gzip data: " + std::to_string(n) + " bytes, too short for the magic 1f 8b");
    detail::fail(source, "not gzip data: starts with " + detail::hex_byte(bytes[0]) + " " + detail::hex_byte(bytes[1]) +
                             ", expected the magic 1f 8b");
  }
  z_stream s{};
  if (inflateInit2(&s, 16 + MAX_WBITS) != Z_OK)  // 16: a gzip wrapper, not zlib's
    throw Error("gzip file '" + source + "': zlib could not start inflating (" + (s.msg ? s.msg : "no memory") + ")");
  detail::StreamGuard guard{&s};

  // A single member stores its length mod 2^32 in its last 4 bytes: a good
  // first guess for the output size, trusted only up to deflate's ratio limit.
  size_t guess = n * 4;
  if (n >= 18) {
    const uint32_t isize = static_cast<uint32_t>(bytes[n - 4]) | static_cast<uint32_t>(bytes[n - 3]) << 8 |
                           static_cast<uint32_t>(bytes[n - 2]) << 16 | static_cast<uint32_t>(bytes[n - 1]) << 24;
    if (isize / 1032 <= n) guess = static_cast<size_t>(isize) + 1;  // +1: end the stream without growing
  }
  std::vector<unsigned char> out(std::min(std::max<size_t>(guess, 4096), max_bytes));
  constexpr size_t kMaxChunk = std::numeric_limits<uInt>::max();  // zlib counts in uInt
  size_t in_pos = 0, out_pos = 0;
  for (;;) {
    if (s.avail_in == 0 && in_pos < n) {
      const size_t chunk = std::min(n - in_pos, kMaxChunk);
      s.next_in = const_cast<Bytef*>(bytes + in_pos);
      s.avail_in = static_cast<uInt>(chunk);
      in_pos += chunk;
    }
    if (out_pos == out.size()) {
      if (out.size() >= max_bytes)
        detail::fail(source, "decompresses to more than " + std::to_string(max_bytes) + " bytes, the limit");
      out.resize(out.size() > max_bytes / 2 ? max_bytes : out.size() * 2);
    }
    const uInt room = static_cast<uInt>(std::min(out.size() - out_pos, kMaxChunk));
    s.next_out = out.data() + out_pos;
    s.avail_out = room;
    const int rc = inflate(&s, Z_NO_FLUSH);
    out_pos += room - s.avail_out;
    if (rc == Z_OK) continue;
    if (rc == Z_STREAM_END) {
      const size_t consumed = in_pos - s.avail_in;
      if (consumed == n) break;
      if (!is_gzip(bytes + consumed, n - consumed))
        detail::fail(source, std::to_string(n - consumed) + " bytes after the end of the gzip data at offset " +
                                 std::to_string(consumed) + " are not another gzip member (corrupt or trailing garbage)");
      inflateReset(&s);  // the next member; the input position is kept
      continue;
    }
    if (rc == Z_BUF_ERROR && s.avail_in == 0 && in_pos == n)
      detail::fail(source, "truncated: the data ends after " + std::to_string(n) +
                               " bytes, inside a gzip member (" + std::to_string(out_pos) + " bytes decompressed so far)");
    if (rc == Z_BUF_ERROR) continue;
    if (rc == Z_MEM_ERROR) throw std::bad_alloc();
    detail::fail(source, std::string("corrupt data near input offset ") + std::to_string(in_pos - s.avail_in) + ": " +
                             (s.msg ? s.msg : "zlib error " + std::to_string(rc)));
  }
  out.resize(out_pos);
  return out;
}

inline std::vector<unsigned char> decompress(const std::vector<unsigned char>& bytes, const std::string& source,
                                             size_t max_bytes = kDefaultMaxBytes) {
  return decompress(bytes.data(), bytes.size(), source, max_bytes);
}

/// The decompressed content of the gzip file at `path`.
inline std::vector<unsigned char> read(const std::string& path, size_t max_bytes = kDefaultMaxBytes) {
  const std::vector<unsigned char> bytes = read_file_bytes(path);
  return decompress(bytes, path, max_bytes);
}

}  // namespace hybrid::io::gzip
