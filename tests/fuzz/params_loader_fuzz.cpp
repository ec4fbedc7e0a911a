// libFuzzer target for the params-file reader (the safetensors parser,
// io::safetensors::File, which takes the file's bytes).
//
// Any input may be rejected with hybrid::Error (FormatError); anything else —
// another exception, a crash, a sanitizer report, a timeout, or memory beyond
// the limit — is a finding. An accepted file must yield every tensor, and
// writing those tensors again must give a file that reads back the same.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <hybrid/io/safetensors.hpp>

namespace st = hybrid::io::safetensors;

namespace {

/// The bytes of a file holding `f`'s tensors, laid out by the writer's header.
std::vector<unsigned char> rewrite(const st::File& f, const std::vector<std::vector<unsigned char>>& data) {
  std::vector<st::Entry> entries;
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const st::TensorInfo& t = f.tensors()[i];
    entries.push_back(st::Entry{t.name, t.dtype, t.shape, data[i].data()});
  }
  const std::string header = st::header_json(entries, f.metadata());
  std::vector<unsigned char> out(8);
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<unsigned char>(header.size() >> (8 * i));
  out.insert(out.end(), header.begin(), header.end());
  for (const auto& d : data) out.insert(out.end(), d.begin(), d.end());
  return out;
}

template <class T>
std::vector<unsigned char> bytes_of(const st::File& f, const st::TensorInfo& info) {
  const hybrid::TensorT<T> t = f.tensor<T>(info);
  std::vector<unsigned char> b(static_cast<size_t>(t.size()) * sizeof(T));
  if (!b.empty()) std::memcpy(b.data(), t.data(), b.size());
  return b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::vector<unsigned char>> values;
  std::vector<unsigned char> again;
  std::vector<st::TensorInfo> tensors;
  std::map<std::string, std::string> metadata;
  try {
    const st::File f(std::vector<unsigned char>(data, data + size), "fuzz");
    for (const auto& t : f.tensors())
      values.push_back(t.dtype == hybrid::DType::float32 ? bytes_of<float>(f, t) : bytes_of<double>(f, t));
    again = rewrite(f, values);
    tensors = f.tensors();
    metadata = f.metadata();
  } catch (const hybrid::Error&) {
    return 0;  // rejected cleanly
  }
  // Accepted: the rewritten file must read back with the same tensors and
  // values (an exception here escapes and is reported).
  const st::File g(again, "fuzz rewrite");
  if (g.tensors().size() != tensors.size() || g.metadata() != metadata) __builtin_trap();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const st::TensorInfo& t = tensors[i];
    const st::TensorInfo* u = g.find(t.name);
    if (!u || u->dtype != t.dtype || u->shape != t.shape || u->end - u->begin != t.end - t.begin) __builtin_trap();
    const std::vector<unsigned char> v =
        t.dtype == hybrid::DType::float32 ? bytes_of<float>(g, *u) : bytes_of<double>(g, *u);
    if (v != values[i]) __builtin_trap();
  }
  return 0;
}
