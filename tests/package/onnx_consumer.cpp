// The onnx component as both consumer projects use it (COMPONENTS onnx,
// hybrid::onnx): a tiny hybridized model exported to ONNX, the file checked
// by ONNX's checker (the libonnx that hybrid::onnx carries), and, where the
// importer is installed, imported back and run.
#if __has_include(<hybrid/onnx/import.hpp>)
#include <hybrid/onnx.hpp>
#define HYBRID_CONSUMER_HAS_IMPORT 1
#else
#include <hybrid/onnx/export.hpp>
#endif
#include <hybrid/hybrid.hpp>
#include <onnx/checker.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>

int main() {
  using namespace hybrid;
  nn::HybridSequential net;
  net.add(nn::Dense(4, "relu"), nn::Dense(2));
  net.initialize();
  net.hybridize();
  const Tensor x = random::normal<float>({3, 5});
  const Tensor y = net(x);
  const std::string path = "consumer-model.onnx";
  hybrid::onnx::export_model(net, path);
  const ::onnx::ModelProto model = hybrid::onnx::read_model_file(path);
  ::onnx::checker::check_model(model);
  if (model.graph().initializer_size() != 4 || model.graph().input(0).name() != "data") {
    std::cerr << "the exported model does not hold the network\n";
    return 1;
  }
#ifdef HYBRID_CONSUMER_HAS_IMPORT
  const auto imported = hybrid::onnx::import_model<float>(path);
  const Tensor z = (*imported)(x);
  for (int64_t i = 0; i < y.size(); ++i)
    if (std::fabs(z.data()[i] - y.data()[i]) > 1e-5f * (1 + std::fabs(y.data()[i]))) {
      std::cerr << "the imported model computes something else\n";
      return 1;
    }
#endif
  std::remove(path.c_str());
  std::cout << "onnx ok\n";
  return 0;
}
