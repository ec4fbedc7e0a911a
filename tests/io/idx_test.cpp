// The gzip and idx readers: hand-made files, and every bad-input path named.
#include <zlib.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include <hybrid/io/gzip.hpp>
#include <hybrid/io/idx.hpp>

#include "../support/files.hpp"
#include "../support/matchers.hpp"

namespace {

using hybrid::Error;
using hybrid::FormatError;
using hybrid::Shape;
using testing::What;
namespace idx = hybrid::io::idx;
namespace gzip = hybrid::io::gzip;

std::vector<unsigned char> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

/// An idx file's bytes: magic with `type`, the dims, then `data`.
std::string idx_file(uint8_t type, const std::vector<uint32_t>& dims, const std::string& data) {
  std::string s{'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims) s += be32(d);
  return s + data;
}

/// `raw` as one gzip member, written with zlib.
std::string gzip_member(const std::string& raw) {
  z_stream s{};
  REQUIRE(deflateInit2(&s, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&s, static_cast<uLong>(raw.size())) + 32, '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  s.avail_in = static_cast<uInt>(raw.size());
  s.next_out = reinterpret_cast<Bytef*>(&out[0]);
  s.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&s, Z_FINISH) == Z_STREAM_END);
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + i / 13) & 0xff);
  return s;
}

}  // namespace

TEST_CASE("idx parses a ubyte array of three dimensions", "[io][idx]") {
  const std::string data = pattern(2 * 3 * 4);
  const idx::Array a = idx::parse(bytes_of(idx_file(0x08, {2, 3, 4}, data)), "hand.idx");
  CHECK(a.type == idx::Type::ubyte);
  CHECK(a.shape == Shape{2, 3, 4});
  CHECK(a.size() == 24);
  CHECK(std::memcmp(a.data(), data.data(), data.size()) == 0);
  const hybrid::Tensor t = idx::to_tensor<float>(a);
  REQUIRE(t.shape() == Shape{2, 3, 4});
  for (int i = 0; i < 24; ++i) CHECK(t.data()[i] == static_cast<float>(static_cast<unsigned char>(data[i])));
}

TEST_CASE("idx divides bytes onto [0, 1] with 255 exactly 1", "[io][idx]") {
  const std::string data{'\0', static_cast<char>(51), static_cast<char>(255)};
  const idx::Array a = idx::parse(bytes_of(idx_file(0x08, {3}, data)), "px.idx");
  const auto f = idx::to_tensor<float>(a, 255.0).to_vector();
  const auto d = idx::to_tensor<double>(a, 255.0).to_vector();
  CHECK(f == std::vector<float>{0.0f, 0.2f, 1.0f});
  CHECK(d == std::vector<double>{0.0, 0.2, 1.0});
}

TEST_CASE("idx reads the other element types big-endian", "[io][idx]") {
  SECTION("sbyte") {
    const auto a = idx::parse(bytes_of(idx_file(0x09, {2}, std::string{'\x7f', '\x80'})), "s.idx");
    CHECK(idx::to_tensor<double>(a).to_vector() == std::vector<double>{127, -128});
  }
  SECTION("int16") {
    const auto a = idx::parse(bytes_of(idx_file(0x0B, {2}, std::string{'\x01', '\x02', '\xff', '\xfe'})), "i16.idx");
    CHECK(idx::to_tensor<double>(a).to_vector() == std::vector<double>{258, -2});
  }
  SECTION("int32") {
    const auto a = idx::parse(bytes_of(idx_file(0x0C, {1, 2}, be32(70000) + be32(0xffffffffu))), "i32.idx");
    CHECK(a.shape == Shape{1, 2});
    CHECK(idx::to_tensor<double>(a).to_vector() == std::vector<double>{70000, -1});
  }
  SECTION("float32") {
    uint32_t bits;
    const float v = -1.5f;
    std::memcpy(&bits, &v, 4);
    const auto a = idx::parse(bytes_of(idx_file(0x0D, {1}, be32(bits))), "f32.idx");
    CHECK(idx::to_tensor<float>(a).item() == -1.5f);
  }
  SECTION("float64") {
    uint64_t bits;
    const double v = 0.1;
    std::memcpy(&bits, &v, 8);
    const auto a = idx::parse(
        bytes_of(idx_file(0x0E, {1}, be32(static_cast<uint32_t>(bits >> 32)) + be32(static_cast<uint32_t>(bits)))),
        "f64.idx");
    CHECK(idx::to_tensor<double>(a).item() == 0.1);
  }
  SECTION("an empty array") {
    const auto a = idx::parse(bytes_of(idx_file(0x08, {0, 28, 28}, "")), "empty.idx");
    CHECK(a.shape == Shape{0, 28, 28});
    CHECK(idx::to_tensor<float>(a).size() == 0);
  }
}

TEST_CASE("idx rejects bad headers, naming the file", "[io][idx]") {
  const std::string ok = idx_file(0x08, {2, 2}, "abcd");
  SECTION("too short for the magic") {
    CHECK_THROWS_MATCHES(idx::parse(bytes_of(std::string(2, '\0')), "short.idx"), FormatError,
                         Catch::Message("idx file 'short.idx': the file is 2 bytes, too short for the 4-byte magic (truncated?)"));
  }
  SECTION("bad magic") {
    std::string bad = ok;
    bad[0] = 0x1f;
    CHECK_THROWS_MATCHES(idx::parse(bytes_of(bad), "bad.idx"), FormatError,
                         Catch::Message("idx file 'bad.idx': bad magic: the first two bytes are 31 0, expected 0 0 "
                                        "(not an idx file)"));
  }
  SECTION("unknown element type") {
    std::string bad = ok;
    bad[2] = 0x07;
    CHECK_THROWS_MATCHES(idx::parse(bytes_of(bad), "type.idx"), FormatError,
                         What(Catch::Contains("idx file 'type.idx': bad magic: unknown element type 0x07")));
  }
  SECTION("more dimensions than a shape holds") {
    CHECK_THROWS_MATCHES(idx::parse(bytes_of(idx_file(0x08, std::vector<uint32_t>(9, 1), "x")), "deep.idx"),
                         FormatError, Catch::Message("idx file 'deep.idx': 9 dimensions; at most 8 are supported"));
  }
  SECTION("truncated header") {
    CHECK_THROWS_MATCHES(idx::parse(bytes_of(ok.substr(0, 9)), "head.idx"), FormatError,
                         Catch::Message("idx file 'head.idx': truncated header: 2 dimensions need 12 header bytes, "
                                        "the file has 9"));
  }
  SECTION("dimensions whose product overflows") {
    CHECK_THROWS_MATCHES(idx::parse(bytes_of(idx_file(0x0E, std::vector<uint32_t>(3, 0xffffffffu), "")), "huge.idx"),
                         FormatError,
                         Catch::Message("idx file 'huge.idx': dimensions (4294967295, 4294967295, 4294967295) of "
                                        "float64 hold more bytes than fit in 64 bits"));
  }
}

TEST_CASE("idx rejects a byte count that differs from the header", "[io][idx]") {
  SECTION("truncated data") {
    CHECK_THROWS_MATCHES(idx::parse(bytes_of(idx_file(0x08, {3, 4}, pattern(11))), "cut.idx"), FormatError,
                         Catch::Message("idx file 'cut.idx': truncated: a ubyte array of shape (3, 4) needs 12 data "
                                        "bytes after the 12-byte header, found 11"));
  }
  SECTION("truncated multi-byte data") {
    CHECK_THROWS_MATCHES(idx::parse(bytes_of(idx_file(0x0C, {2}, pattern(7))), "cut32.idx"), FormatError,
                         Catch::Message("idx file 'cut32.idx': truncated: a int32 array of shape (2,) needs 8 data "
                                        "bytes after the 8-byte header, found 7"));
  }
  SECTION("trailing bytes") {
    CHECK_THROWS_MATCHES(idx::parse(bytes_of(idx_file(0x08, {3, 4}, pattern(15))), "long.idx"), FormatError,
                         Catch::Message("idx file 'long.idx': 3 trailing bytes: a ubyte array of shape (3, 4) needs "
                                        "12 data bytes after the 12-byte header, found 15"));
  }
}

TEST_CASE("idx reads plain and gzip files, whatever their names", "[io][idx][gzip]") {
  testing::TempDir dir;
  const std::string data = pattern(5 * 7 * 3);
  const std::string raw = idx_file(0x08, {5, 7, 3}, data);
  testing::write_bytes(dir.file("plain-idx3-ubyte"), raw);
  testing::write_bytes(dir.file("packed-idx3-ubyte.gz"), gzip_member(raw));
  testing::write_bytes(dir.file("packed-no-suffix"), gzip_member(raw));
  // Two members, as `cat a.gz b.gz` makes, decompress to the concatenation.
  testing::write_bytes(dir.file("members.gz"), gzip_member(raw.substr(0, 50)) + gzip_member(raw.substr(50)));
  for (const char* name : {"plain-idx3-ubyte", "packed-idx3-ubyte.gz", "packed-no-suffix", "members.gz"}) {
    INFO(name);
    const idx::Array a = idx::read(dir.file(name));
    CHECK(a.shape == Shape{5, 7, 3});
    CHECK(a.source == dir.file(name));
    CHECK(std::string(a.data(), a.data() + a.size()) == data);
  }
}

TEST_CASE("gzip round-trips with zlib, small and large", "[io][gzip]") {
  for (size_t n : {size_t{0}, size_t{1}, size_t{4096}, size_t{3'000'000}}) {
    INFO(n);
    const std::string raw = pattern(n);
    const std::string packed = gzip_member(raw);
    const auto out = gzip::decompress(bytes_of(packed), "mem.gz");
    CHECK(std::string(out.begin(), out.end()) == raw);
  }
}

TEST_CASE("gzip rejects bad files, naming them", "[io][gzip]") {
  testing::TempDir dir;
  const std::string raw = idx_file(0x08, {64, 64}, pattern(64 * 64));
  const std::string packed = gzip_member(raw);
  SECTION("not gzip") {
    const std::string path = dir.file("plain.gz");
    testing::write_bytes(path, raw);
    CHECK_THROWS_MATCHES(gzip::read(path), FormatError,
                         Catch::Message("gzip file '" + path + "': not gzip data: starts with 00 00, expected the magic 1f 8b"));
  }
  SECTION("empty") {
    const std::string path = dir.file("empty.gz");
    testing::write_bytes(path, "");
    CHECK_THROWS_MATCHES(gzip::read(path), FormatError,
                         Catch::Message("gzip file '" + path + "': not gzip data: 0 bytes, too short for the magic 1f 8b"));
  }
  SECTION("truncated") {
    const std::string path = dir.file("cut.gz");
    testing::write_bytes(path, packed.substr(0, packed.size() - 6));
    CHECK_THROWS_MATCHES(gzip::read(path), FormatError,
                         What(Catch::StartsWith("gzip file '" + path + "': truncated: the data ends after " +
                                                std::to_string(packed.size() - 6) + " bytes, inside a gzip member")));
    // The idx reader reports the gzip error for a compressed file.
    CHECK_THROWS_MATCHES(idx::read(path), FormatError, What(Catch::StartsWith("gzip file '" + path + "': truncated")));
  }
  SECTION("truncated in the header") {
    const std::string path = dir.file("head.gz");
    testing::write_bytes(path, packed.substr(0, 5));
    CHECK_THROWS_MATCHES(gzip::read(path), FormatError, What(Catch::StartsWith("gzip file '" + path + "': truncated")));
  }
  SECTION("corrupt deflate data") {
    std::string bad = packed;
    for (size_t i = 12; i < 40; ++i) bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    const std::string path = dir.file("corrupt.gz");
    testing::write_bytes(path, bad);
    CHECK_THROWS_MATCHES(idx::read(path), FormatError, What(Catch::StartsWith("gzip file '" + path + "': corrupt data")));
  }
  SECTION("a wrong checksum") {
    std::string bad = packed;
    bad[bad.size() - 8] = static_cast<char>(bad[bad.size() - 8] ^ 1);  // the CRC-32
    const std::string path = dir.file("crc.gz");
    testing::write_bytes(path, bad);
    CHECK_THROWS_MATCHES(gzip::read(path), FormatError,
                         What(Catch::StartsWith("gzip file '" + path + "': corrupt data") &&
                              Catch::Contains("incorrect data check")));
  }
  SECTION("garbage after the last member") {
    const std::string path = dir.file("tail.gz");
    testing::write_bytes(path, packed + "junk");
    CHECK_THROWS_MATCHES(gzip::read(path), FormatError,
                         Catch::Message("gzip file '" + path + "': 4 bytes after the end of the gzip data at offset " +
                                        std::to_string(packed.size()) +
                                        " are not another gzip member (corrupt or trailing garbage)"));
  }
  SECTION("more output than the limit") {
    CHECK_THROWS_MATCHES(gzip::decompress(bytes_of(packed), "big.gz", 1000), FormatError,
                         Catch::Message("gzip file 'big.gz': decompresses to more than 1000 bytes, the limit"));
  }
  SECTION("an idx file inside that is bad") {
    const std::string path = dir.file("trailing-idx.gz");
    testing::write_bytes(path, gzip_member(raw + "x"));
    CHECK_THROWS_MATCHES(idx::read(path), FormatError,
                         What(Catch::StartsWith("idx file '" + path + "': 1 trailing byte: ")));
  }
}

TEST_CASE("a missing file is Error naming the path, not FormatError", "[io][idx][gzip]") {
  testing::TempDir dir;
  const std::string path = dir.file("absent-idx1-ubyte.gz");
  for (int reader = 0; reader < 2; ++reader) {
    try {
      if (reader == 0) idx::read(path);
      else gzip::read(path);
      FAIL("no error for a missing file");
    } catch (const FormatError&) {
      FAIL("a missing file is not a format error");
    } catch (const Error& e) {
      CHECK(std::string(e.what()) == "cannot read '" + path + "': no such regular file");
    }
  }
}
