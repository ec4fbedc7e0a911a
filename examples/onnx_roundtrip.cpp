// A model trained elsewhere, run here: imports the PyTorch-exported LeNet
// committed with the tests (tests/onnx/fixtures/lenet, opset 17, symbolic
// batch), checks it against PyTorch's own output, runs it eagerly and
// hybridized, prints the optimized graph and the speed of both, and exports
// it back to ONNX and to hybrid's own format.
//
//   ./onnx_roundtrip [model.onnx] [input.npy output.npy]
#include <hybrid/onnx.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <string>

#include "../tests/support/npy.hpp"

namespace {

// Median time per call of `f`, in microseconds.
template <class F>
double median_us(F&& f, int calls) {
  std::vector<double> times;
  for (int i = 0; i < calls; ++i) {
    const auto start = std::chrono::steady_clock::now();
    f();
    times.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
  }
  std::nth_element(times.begin(), times.begin() + calls / 2, times.end());
  return times[static_cast<size_t>(calls / 2)];
}

double max_abs_difference(const hybrid::Tensor& a, const hybrid::Tensor& b) {
  double m = 0;
  for (int64_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(double(a.data()[i]) - double(b.data()[i])));
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string fixtures = std::string(HYBRID_EXAMPLE_SOURCE_DIR) + "/tests/onnx/fixtures/lenet/";
  const std::string model = argc > 1 ? argv[1] : fixtures + "model.onnx";
  const std::string input = argc > 3 ? argv[2] : fixtures + "input_0.npy";
  const std::string expected = argc > 3 ? argv[3] : fixtures + "output_0.npy";
  try {
    auto net = hybrid::onnx::import_model<float>(model);
    std::cout << "imported " << model << "\n";
    const hybrid::Tensor x = hybrid::testing::read_npy(input).tensor<float>();
    const hybrid::Tensor reference = hybrid::testing::read_npy(expected).tensor<float>();

    net->hybridize(false);
    const hybrid::Tensor eager = (*net)(x);
    net->hybridize();
    const hybrid::Tensor hybridized = (*net)(x);
    std::cout << "input " << hybrid::to_string(x.shape()) << " -> output " << hybrid::to_string(eager.shape())
              << "\nmax |hybrid - PyTorch|: eager " << max_abs_difference(eager, reference) << ", hybridized "
              << max_abs_difference(hybridized, reference) << "\n\noptimized graph:\n"
              << net->graph_text() << "\n";

    const int calls = 200;
    net->hybridize(false);
    const double eager_us = median_us([&] { (*net)(x); }, calls);
    net->hybridize();
    (*net)(x);
    const double hybrid_us = median_us([&] { (*net)(x); }, calls);
    std::cout << "batch " << x.shape()[0] << ", median of " << calls << " calls: eager " << eager_us
              << " us, hybridized " << hybrid_us << " us (" << eager_us / hybrid_us << "x)\n";

    hybrid::onnx::export_model(*net, "lenet-roundtrip.onnx");
    net->export_model("lenet-roundtrip");
    auto again = hybrid::onnx::import_model<float>("lenet-roundtrip.onnx");
    std::cout << "exported lenet-roundtrip.onnx and lenet-roundtrip-symbol.json/-0000.params; "
              << "re-imported: max |difference| " << max_abs_difference((*again)(x), hybridized) << "\n";
  } catch (const hybrid::Error& e) {
    std::cerr << "onnx_roundtrip: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
