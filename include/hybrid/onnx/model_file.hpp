#pragma once
// Reading and writing ONNX model files (the protobuf ModelProto). A file that
// is not a model, or one that refers to data outside itself, is FormatError
// naming the file; a path that cannot be read is Error. Writes go through a
// temporary file renamed into place, so a failed export leaves nothing
// half-written.
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>

#include <onnx/onnx_pb.h>

#include "../io/file_bytes.hpp"

namespace hybrid::onnx {

/// The parsed model in `path`. Protobuf refuses messages over 2 GiB, and
/// so does this: such models keep their weights in external data files,
/// which are not supported.
inline ::onnx::ModelProto read_model_file(const std::string& path) {
  const std::vector<unsigned char> bytes = io::read_file_bytes(path);
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
    throw FormatError(path + ": " + std::to_string(bytes.size()) +
                      " bytes is larger than a protobuf message can be (2 GiB); external data is not supported");
  ::onnx::ModelProto model;
  if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    throw FormatError(path + ": not an ONNX model (the protobuf ModelProto does not parse)");
  if (!model.has_graph()) throw FormatError(path + ": the ONNX model has no graph");
  return model;
}

/// Writes `model` to `path` through `path`.tmp renamed into place.
inline void write_model_file(const ::onnx::ModelProto& model, const std::string& path) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot open '" + tmp + "' for writing");
    if (!model.SerializeToOstream(&out) || !out.flush()) {
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

}  // namespace hybrid::onnx
