#pragma once
// The safetensors layout, read and written (https://github.com/huggingface/safetensors):
//
//   [8 bytes]  N, the header length, unsigned little-endian
//   [N bytes]  JSON: {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]}, ...,
//                     "__metadata__": {"key": "value"}}   (optional, strings only)
//   [rest]     raw little-endian tensor data; offsets count from the end of the header
//
// The reader trusts nothing in the file: the header length is checked against
// the file size before anything is allocated, the header is strict JSON
// (io/json_reader.hpp), every tensor's offsets must lie in the data section,
// match its dtype and shape, and together the tensors must cover the data
// section exactly, without overlaps or gaps. Reading takes time proportional
// to the file's size, times a log factor for sorting the tensors. Bad content
// is FormatError naming the file; a path that cannot be read is Error.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/tensor.hpp"
#include "extents.hpp"
#include "file_bytes.hpp"
#include "json_reader.hpp"

namespace hybrid::io::safetensors {

/// Headers above this are rejected (the reference implementation's limit).
inline constexpr uint64_t kMaxHeaderBytes = 100'000'000;
/// A valid header nests 3 levels (header, entry, shape); this bounds hostile ones.
inline constexpr int kMaxHeaderDepth = 16;

/// One tensor of a file: where its bytes are in the data section.
struct TensorInfo {
  std::string name;
  DType dtype = DType::float32;
  Shape shape;
  uint64_t begin = 0, end = 0;
};

/// One tensor to write; `data` points to its values in host byte order.
struct Entry {
  std::string name;
  DType dtype = DType::float32;
  Shape shape;
  const void* data = nullptr;
};

namespace detail {

inline const char* dtype_code(DType t) { return t == DType::float32 ? "F32" : "F64"; }
inline size_t dtype_bytes(DType t) { return t == DType::float32 ? 4 : 8; }

inline bool host_little_endian() {
  const uint16_t one = 1;
  unsigned char first;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

/// Converts elements between host and little-endian order (a no-op on x86/ARM).
inline void to_little_endian(unsigned char* p, size_t bytes, size_t element) {
  if (host_little_endian()) return;
  for (size_t i = 0; i + element <= bytes; i += element) std::reverse(p + i, p + i + element);
}

[[noreturn]] inline void fail(const std::string& source, const std::string& what) {
  throw FormatError("safetensors file '" + source + "': " + what);
}

/// Reads a non-negative integer into `out`; false if `v` is none. An
/// integer is written without fraction or exponent ("3.0" is not one); "-0" is 0.
inline bool unsigned_value(const nlohmann::json& v, uint64_t& out) {
  if (v.is_number_unsigned()) {
    out = v.get<uint64_t>();
    return true;
  }
  out = 0;
  return v.is_number_integer() && v.get<int64_t>() == 0;
}

/// The header length from the first 8 bytes of a file of `size` bytes,
/// checked against the size and the limit before anything is allocated.
inline uint64_t header_length(const unsigned char* first8, uint64_t size, const std::string& source) {
  if (size < 8)
    fail(source, "the file is " + std::to_string(size) + " bytes, too short to hold the 8-byte header length (truncated?)");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | first8[i];
  if (n > size - 8)
    fail(source, "the header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(size) +
                     " bytes): truncated or not a safetensors file");
  if (n > kMaxHeaderBytes)
    fail(source, "the header length " + std::to_string(n) + " exceeds the limit of " + std::to_string(kMaxHeaderBytes) +
                     " bytes");
  return n;
}

}  // namespace detail

/// A validated file held in memory.
class File {
 public:
  /// Validates `bytes` (the whole file); `source` names it in errors.
  File(std::vector<unsigned char> bytes, std::string source);

  const std::string& source() const { return source_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  /// Every tensor, in data order (by offsets, then by name).
  const std::vector<TensorInfo>& tensors() const { return tensors_; }

  /// The tensor named `name`, or null.
  const TensorInfo* find(const std::string& name) const {
    const auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
  }

  /// A new tensor holding a copy of `info`'s values; its dtype must be T's.
  template <class T>
  TensorT<T> tensor(const TensorInfo& info) const {
    if (info.dtype != dtype_of<T>())
      throw Error("safetensors file '" + source_ + "': tensor '" + info.name + "' is " + to_string(info.dtype) +
                  ", not " + to_string(dtype_of<T>()));
    TensorT<T> t = TensorT<T>::empty(info.shape);
    const size_t n = static_cast<size_t>(info.end - info.begin);
    if (n) {
      auto* dst = reinterpret_cast<unsigned char*>(t.data());
      std::memcpy(dst, bytes_.data() + data_start_ + info.begin, n);
      detail::to_little_endian(dst, n, sizeof(T));
    }
    return t;
  }

 private:
  void parse_entry(const std::string& name, const nlohmann::json& v, uint64_t data_size);

  std::string source_;
  std::vector<unsigned char> bytes_;
  size_t data_start_ = 0;
  std::map<std::string, std::string> metadata_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> index_;  // name → position in tensors_
};

inline File::File(std::vector<unsigned char> bytes, std::string source)
    : source_(std::move(source)), bytes_(std::move(bytes)) {
  const uint64_t size = bytes_.size();
  const uint64_t header_len = detail::header_length(bytes_.data(), size, source_);
  data_start_ = static_cast<size_t>(8 + header_len);
  const uint64_t data_size = size - data_start_;

  const char* text = reinterpret_cast<const char*>(bytes_.data() + 8);
  const nlohmann::json header =
      read_strict_json(text, text + header_len, kMaxHeaderDepth, "safetensors file '" + source_ + "': header: ");
  if (!header.is_object()) detail::fail(source_, "the header must be a JSON object, got " + std::string(header.type_name()));

  tensors_.reserve(header.size());  // bounded by the header's own size
  for (const auto& [name, v] : header.items()) {
    if (name == "__metadata__") {
      if (!v.is_object()) detail::fail(source_, "__metadata__ must be an object of strings");
      for (const auto& [key, value] : v.items()) {
        if (!value.is_string()) detail::fail(source_, "__metadata__ value of '" + key + "' is not a string");
        metadata_[key] = value.get<std::string>();
      }
      continue;
    }
    parse_entry(name, v, data_size);
  }

  // The tensors must tile the data section: sorted by offset, each starts
  // where the previous one ends and the last ends at the end of the file.
  // Zero-size tensors may share an offset with each other and with the next
  // tensor's start; they sort before it, and the name breaks ties, so the
  // outcome and its message never depend on the order of the header.
  std::sort(tensors_.begin(), tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  uint64_t covered = 0;
  const TensorInfo* previous = nullptr;
  for (const auto& t : tensors_) {
    if (t.begin < covered)
      detail::fail(source_, "tensor '" + t.name + "' (bytes " + std::to_string(t.begin) + ".." + std::to_string(t.end) +
                                ") overlaps tensor '" + previous->name + "' (bytes " + std::to_string(previous->begin) +
                                ".." + std::to_string(previous->end) + ")");
    if (t.begin > covered)
      detail::fail(source_, "data bytes " + std::to_string(covered) + ".." + std::to_string(t.begin) +
                                " belong to no tensor (gap before tensor '" + t.name + "')");
    covered = t.end;
    previous = &t;
  }
  if (covered != data_size)
    detail::fail(source_, "the data section has " + std::to_string(data_size) + " bytes but the tensors cover " +
                              std::to_string(covered) + " (truncated or trailing bytes)");
  index_.reserve(tensors_.size());
  for (size_t i = 0; i < tensors_.size(); ++i) index_.emplace(tensors_[i].name, i);
}

inline void File::parse_entry(const std::string& name, const nlohmann::json& v, uint64_t data_size) {
  // Messages are built only on failure: a header may hold very many entries.
  auto fail = [&](const std::string& what) { detail::fail(source_, "tensor '" + name + "'" + what); };
  auto integer = [&](const nlohmann::json& j, const char* what) {
    uint64_t value = 0;
    if (!detail::unsigned_value(j, value))
      fail(std::string(": ") + what + " must be a non-negative integer, got " + j.dump());
    return value;
  };
  if (!v.is_object()) fail(" must be an object, got " + v.dump());
  for (const auto& [key, unused] : v.items()) {
    (void)unused;
    if (key != "dtype" && key != "shape" && key != "data_offsets") fail(" has an unknown field '" + key + "'");
  }
  if (!v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
    fail(" needs the fields dtype, shape and data_offsets");

  TensorInfo info;
  info.name = name;
  const auto& dtype = v["dtype"];
  if (dtype == "F32") {
    info.dtype = DType::float32;
  } else if (dtype == "F64") {
    info.dtype = DType::float64;
  } else {
    fail(" has dtype " + dtype.dump() + "; supported dtypes are F32 and F64");
  }

  const auto& shape = v["shape"];
  if (!shape.is_array()) fail(": shape must be an array, got " + shape.dump());
  if (shape.size() > static_cast<size_t>(Shape::kMaxDims))
    fail(" has " + std::to_string(shape.size()) + " dimensions; at most " + std::to_string(Shape::kMaxDims) +
         " are supported");
  for (const auto& d : shape) {
    const uint64_t dim = integer(d, "a shape dimension");
    if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail(": shape dimension " + std::to_string(dim) + " is too large");
    info.shape.push_back(static_cast<int64_t>(dim));
  }
  const uint64_t element = detail::dtype_bytes(info.dtype);
  // The graph file's rule: counted without zero extents, the byte size fits int64.
  if (!byte_size_fits(info.shape, static_cast<int64_t>(element)))
    fail(": the byte size of shape " + shape.dump() + " overflows int64 (counting only its non-zero extents)");
  const uint64_t count = static_cast<uint64_t>(numel(info.shape));

  const auto& offsets = v["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2) fail(": data_offsets must be [begin, end], got " + offsets.dump());
  info.begin = integer(offsets[0], "data_offsets begin");
  info.end = integer(offsets[1], "data_offsets end");
  if (info.begin > info.end || info.end > data_size)
    fail(": data_offsets [" + std::to_string(info.begin) + ", " + std::to_string(info.end) +
         "] are out of range for a data section of " + std::to_string(data_size) + " bytes");
  const uint64_t bytes = info.end - info.begin;
  if (count * element != bytes)
    fail(" of shape " + shape.dump() + " and dtype " + dtype.get<std::string>() + " needs " +
         std::to_string(count * element) + " bytes but its data_offsets span " + std::to_string(bytes));
  tensors_.push_back(std::move(info));
}

/// Reads and validates a file. A path that cannot be opened or read is Error;
/// bad content is FormatError.
inline File read(const std::string& path) {
  uintmax_t size = 0;
  std::ifstream in = open_for_reading(path, size);
  // Check the header length before reading (and allocating for) the rest.
  unsigned char first8[8] = {};
  in.read(reinterpret_cast<char*>(first8), 8);
  detail::header_length(first8, size, path);
  std::vector<unsigned char> bytes(static_cast<size_t>(size));
  std::memcpy(bytes.data(), first8, 8);
  in.read(reinterpret_cast<char*>(bytes.data() + 8), static_cast<std::streamsize>(size - 8));
  if (static_cast<uintmax_t>(in.gcount()) != size - 8) throw Error("cannot read '" + path + "': short read");
  return File(std::move(bytes), path);
}

/// The __metadata__ of the file at `path`, reading its header only (to
/// check what a file is before loading its tensors). Errors as read(); the
/// tensors are not validated.
inline std::map<std::string, std::string> read_metadata(const std::string& path) {
  uintmax_t size = 0;
  std::ifstream in = open_for_reading(path, size);
  unsigned char first8[8] = {};
  in.read(reinterpret_cast<char*>(first8), 8);
  const uint64_t header_len = detail::header_length(first8, size, path);
  std::string text(static_cast<size_t>(header_len), '\0');
  in.read(text.data(), static_cast<std::streamsize>(header_len));
  if (static_cast<uint64_t>(in.gcount()) != header_len) throw Error("cannot read '" + path + "': short read");
  const nlohmann::json header =
      read_strict_json(text.data(), text.data() + text.size(), kMaxHeaderDepth, "safetensors file '" + path + "': header: ");
  if (!header.is_object()) detail::fail(path, "the header must be a JSON object, got " + std::string(header.type_name()));
  std::map<std::string, std::string> metadata;
  const auto it = header.find("__metadata__");
  if (it == header.end()) return metadata;
  if (!it->is_object()) detail::fail(path, "__metadata__ must be an object of strings");
  for (const auto& [key, value] : it->items()) {
    if (!value.is_string()) detail::fail(path, "__metadata__ value of '" + key + "' is not a string");
    metadata[key] = value.get<std::string>();
  }
  return metadata;
}

/// The header for `entries`, laid out in order, padded with spaces so the
/// data starts 8-byte aligned (as the reference writer does).
inline std::string header_json(const std::vector<Entry>& entries, const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::unordered_set<std::string> names;
  uint64_t offset = 0;
  for (const auto& e : entries) {
    if (e.name == "__metadata__" || !names.insert(e.name).second)
      throw Error("safetensors: cannot write a tensor named '" + e.name + "' (reserved or repeated)");
    const uint64_t bytes = static_cast<uint64_t>(checked_numel(e.shape, "safetensors")) * detail::dtype_bytes(e.dtype);
    header[e.name] = {{"dtype", detail::dtype_code(e.dtype)},
                      {"shape", e.shape.to_vector()},
                      {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

/// Writes `entries` to `path` through a temporary file renamed into place,
/// so a failed write never leaves a half-written file under `path`.
inline void write(const std::string& path, const std::vector<Entry>& entries,
                  const std::map<std::string, std::string>& metadata = {}) {
  const std::string header = header_json(entries, metadata);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot open '" + tmp + "' for writing");
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(static_cast<uint64_t>(header.size()) >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    std::vector<unsigned char> swapped;
    for (const auto& e : entries) {
      const size_t element = detail::dtype_bytes(e.dtype), bytes = static_cast<size_t>(numel(e.shape)) * element;
      const auto* p = static_cast<const unsigned char*>(e.data);
      if (!detail::host_little_endian()) {
        swapped.assign(p, p + bytes);
        detail::to_little_endian(swapped.data(), bytes, element);
        p = swapped.data();
      }
      if (bytes) out.write(reinterpret_cast<const char*>(p), static_cast<std::streamsize>(bytes));
    }
    out.flush();
    if (!out) {
      out.close();
      std::remove(tmp.c_str());
      throw Error("cannot write '" + tmp + "'");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error("cannot replace '" + path + "' with the newly written file");
  }
}

/// An entry over a tensor's values.
template <class T>
Entry entry(std::string name, const TensorT<T>& t) {
  return Entry{std::move(name), dtype_of<T>(), t.shape(), t.size() ? t.data() : nullptr};
}

}  // namespace hybrid::io::safetensors
