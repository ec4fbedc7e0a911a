// libFuzzer target for the ONNX importer (onnx::import_model_bytes): the
// protobuf parse, the model checks, the op mapping and shape folding.
//
// Any input may be rejected with hybrid::Error (FormatError); anything else —
// another exception, a crash, a sanitizer report, a timeout, or memory beyond
// the limit — is a finding. An accepted model with small inputs is also run
// once eagerly, where a run-time Error (an index out of range) is fine.
#include <cstddef>
#include <cstdint>
#include <string>

#include <hybrid/onnx/import.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::shared_ptr<hybrid::nn::SymbolBlockT<float>> net;
  try {
    net = hybrid::onnx::import_model_bytes<float>(data, size, "fuzz.onnx");
  } catch (const hybrid::Error&) {
    return 0;  // rejected cleanly
  }
  std::vector<hybrid::Tensor> inputs;
  int64_t total = 0;
  for (const auto& s : net->input_shapes()) {
    int64_t n = 1;
    for (int64_t d : s) {
      if (d > 4096) return 0;
      n *= d;
      if (n > 4096) return 0;
    }
    total += n;
    if (total > 4096) return 0;
    inputs.push_back(hybrid::zeros<float>(s));
  }
  try {
    net->forward_many(inputs);
  } catch (const hybrid::Error&) {
  }
  return 0;
}
