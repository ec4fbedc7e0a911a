// libFuzzer target for the idx reader and the gzip reader beneath it: the
// input is an idx file, gzip-compressed when it starts with gzip's magic, as
// io::idx::read takes it.
//
// Any input may be rejected with hybrid::Error (FormatError); anything else —
// another exception, a crash, a sanitizer report, a timeout, or memory beyond
// the limit — is a finding. An accepted file must have exactly the byte count
// its header announces and convert to a tensor of its shape.
#include <cstddef>
#include <cstdint>
#include <vector>

#include <hybrid/io/idx.hpp>

namespace idx = hybrid::io::idx;
namespace gzip = hybrid::io::gzip;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    std::vector<unsigned char> bytes(data, data + size);
    // A small output limit keeps decompression bombs within the fuzzer's memory.
    if (gzip::is_gzip(bytes.data(), bytes.size())) bytes = gzip::decompress(bytes, "fuzz.gz", size_t{16} << 20);
    const size_t total = bytes.size();
    const idx::Array a = idx::parse(std::move(bytes), "fuzz");
    if (a.offset != 4 + 4 * static_cast<size_t>(a.shape.size()) ||
        total != a.offset + static_cast<size_t>(a.size() * idx::element_bytes(a.type)))
      __builtin_trap();
    const hybrid::TensorT<double> t = idx::to_tensor<double>(a);
    if (t.shape() != a.shape) __builtin_trap();
  } catch (const hybrid::Error&) {
    return 0;  // rejected cleanly
  }
  return 0;
}
