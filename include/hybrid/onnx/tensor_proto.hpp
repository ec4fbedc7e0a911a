#pragma once
// Decoding ONNX TensorProtos (initializers, Constant values) into host
// tensors of double, checked: the data must be inside the file
// (data_location EXTERNAL is refused), its size must match the dims and
// the element type, and the element type must be one hybrid can hold.
// double holds every float32 exactly and every integer up to 2^53; larger
// int64 values (INT64_MAX as a Slice end) only ever mean "past the end".
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

#include "../api/creation.hpp"
#include "../core/errors.hpp"
#include "../core/tensor.hpp"

namespace hybrid::onnx::detail {

/// The ONNX element type's name, for messages.
inline std::string elem_type_name(int t) {
  switch (t) {
    case ::onnx::TensorProto::FLOAT: return "float";
    case ::onnx::TensorProto::UINT8: return "uint8";
    case ::onnx::TensorProto::INT8: return "int8";
    case ::onnx::TensorProto::UINT16: return "uint16";
    case ::onnx::TensorProto::INT16: return "int16";
    case ::onnx::TensorProto::INT32: return "int32";
    case ::onnx::TensorProto::INT64: return "int64";
    case ::onnx::TensorProto::STRING: return "string";
    case ::onnx::TensorProto::BOOL: return "bool";
    case ::onnx::TensorProto::FLOAT16: return "float16";
    case ::onnx::TensorProto::DOUBLE: return "double";
    case ::onnx::TensorProto::UINT32: return "uint32";
    case ::onnx::TensorProto::UINT64: return "uint64";
    case ::onnx::TensorProto::COMPLEX64: return "complex64";
    case ::onnx::TensorProto::COMPLEX128: return "complex128";
    case ::onnx::TensorProto::BFLOAT16: return "bfloat16";
    default: return "element type " + std::to_string(t);
  }
}

inline bool is_float_type(int t) { return t == ::onnx::TensorProto::FLOAT || t == ::onnx::TensorProto::DOUBLE; }

/// Integer and bool types: values a T tensor holds exactly (indices, masks, shapes).
inline bool is_integer_type(int t) {
  switch (t) {
    case ::onnx::TensorProto::UINT8: case ::onnx::TensorProto::INT8: case ::onnx::TensorProto::UINT16:
    case ::onnx::TensorProto::INT16: case ::onnx::TensorProto::INT32: case ::onnx::TensorProto::INT64:
    case ::onnx::TensorProto::BOOL: case ::onnx::TensorProto::UINT32: case ::onnx::TensorProto::UINT64:
      return true;
    default: return false;
  }
}

inline size_t elem_size(int t) {
  switch (t) {
    case ::onnx::TensorProto::UINT8: case ::onnx::TensorProto::INT8: case ::onnx::TensorProto::BOOL: return 1;
    case ::onnx::TensorProto::UINT16: case ::onnx::TensorProto::INT16: return 2;
    case ::onnx::TensorProto::FLOAT: case ::onnx::TensorProto::INT32: case ::onnx::TensorProto::UINT32: return 4;
    default: return 8;
  }
}

struct HostTensor {
  TensorT<double> value;
  bool integer = false;  // an integer or bool element type
};

/// Decodes `t`; `what` names it in errors (e.g. "initializer 'fc.weight'").
inline HostTensor decode_tensor(const ::onnx::TensorProto& t, const std::string& what) {
  const int type = t.data_type();
  if (!is_float_type(type) && !is_integer_type(type))
    throw FormatError(what + " has the unsupported element type " + elem_type_name(type) +
                      " (supported: float, double and integer/bool types)");
  if (t.data_location() == ::onnx::TensorProto::EXTERNAL || t.external_data_size() > 0)
    throw FormatError(what + " keeps its data in an external file, which is not supported");
  if (t.has_segment()) throw FormatError(what + " is segmented, which is not supported");
  if (t.dims_size() > Shape::kMaxDims)
    throw FormatError(what + " has " + std::to_string(t.dims_size()) + " dimensions; at most " +
                      std::to_string(Shape::kMaxDims) + " are supported");
  Shape shape;
  for (int64_t d : t.dims()) {
    if (d < 0) throw FormatError(what + " has a negative dimension " + std::to_string(d));
    shape.push_back(d);
  }
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d != 0 && n > (int64_t{1} << 40) / d)
      throw FormatError(what + ": dims " + to_string(shape) + " have too many elements");
    n *= d;
  }
  const size_t count = static_cast<size_t>(n);
  const size_t esize = elem_size(type);
  std::vector<double> v;  // allocated once the data is known to be there: dims alone may claim anything
  auto mismatch = [&](const std::string& field, size_t have) {
    return FormatError(what + ": " + field + " holds " + std::to_string(have) + " but dims " + to_string(shape) +
                       " of " + elem_type_name(type) + " need " + std::to_string(count) +
                       (field == "raw_data" ? " elements (" + std::to_string(count * esize) + " bytes)" : " elements"));
  };
  if (t.has_raw_data()) {
    const std::string& raw = t.raw_data();
    if (raw.size() != count * esize) {
      throw FormatError(what + ": raw_data holds " + std::to_string(raw.size()) + " bytes but dims " +
                        to_string(shape) + " of " + elem_type_name(type) + " need " + std::to_string(count * esize));
    }
    v.resize(count);
    const char* p = raw.data();
    for (size_t i = 0; i < count; ++i, p += esize) {  // ONNX raw data is little-endian, as the host
      switch (type) {
        case ::onnx::TensorProto::FLOAT: { float x; std::memcpy(&x, p, 4); v[i] = x; break; }
        case ::onnx::TensorProto::DOUBLE: { double x; std::memcpy(&x, p, 8); v[i] = x; break; }
        case ::onnx::TensorProto::UINT8: case ::onnx::TensorProto::BOOL: v[i] = static_cast<unsigned char>(*p); break;
        case ::onnx::TensorProto::INT8: v[i] = static_cast<signed char>(*p); break;
        case ::onnx::TensorProto::UINT16: { uint16_t x; std::memcpy(&x, p, 2); v[i] = x; break; }
        case ::onnx::TensorProto::INT16: { int16_t x; std::memcpy(&x, p, 2); v[i] = x; break; }
        case ::onnx::TensorProto::INT32: { int32_t x; std::memcpy(&x, p, 4); v[i] = x; break; }
        case ::onnx::TensorProto::UINT32: { uint32_t x; std::memcpy(&x, p, 4); v[i] = x; break; }
        case ::onnx::TensorProto::INT64: { int64_t x; std::memcpy(&x, p, 8); v[i] = static_cast<double>(x); break; }
        default: { uint64_t x; std::memcpy(&x, p, 8); v[i] = static_cast<double>(x); break; }
      }
    }
  } else {
    size_t have;
    const char* field;
    switch (type) {
      case ::onnx::TensorProto::FLOAT: have = static_cast<size_t>(t.float_data_size()); field = "float_data"; break;
      case ::onnx::TensorProto::DOUBLE: have = static_cast<size_t>(t.double_data_size()); field = "double_data"; break;
      case ::onnx::TensorProto::INT64: have = static_cast<size_t>(t.int64_data_size()); field = "int64_data"; break;
      case ::onnx::TensorProto::UINT32: case ::onnx::TensorProto::UINT64:
        have = static_cast<size_t>(t.uint64_data_size()); field = "uint64_data"; break;
      default: have = static_cast<size_t>(t.int32_data_size()); field = "int32_data"; break;
    }
    if (have != count) throw mismatch(field, have);
    v.resize(count);
    switch (type) {
      case ::onnx::TensorProto::FLOAT:
        for (size_t i = 0; i < count; ++i) v[i] = t.float_data(static_cast<int>(i));
        break;
      case ::onnx::TensorProto::DOUBLE:
        for (size_t i = 0; i < count; ++i) v[i] = t.double_data(static_cast<int>(i));
        break;
      case ::onnx::TensorProto::INT64:
        for (size_t i = 0; i < count; ++i) v[i] = static_cast<double>(t.int64_data(static_cast<int>(i)));
        break;
      case ::onnx::TensorProto::UINT32: case ::onnx::TensorProto::UINT64:
        for (size_t i = 0; i < count; ++i) v[i] = static_cast<double>(t.uint64_data(static_cast<int>(i)));
        break;
      default:
        for (size_t i = 0; i < count; ++i) v[i] = t.int32_data(static_cast<int>(i));
        break;
    }
  }
  return {from_vector<double>(v, shape), is_integer_type(type)};
}

}  // namespace hybrid::onnx::detail
