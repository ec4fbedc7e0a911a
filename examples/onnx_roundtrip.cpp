// A model trained elsewhere, run here: imports the LeNet that PyTorch trained
// on Fashion-MNIST and exported (tests/onnx/fixtures/lenet_trained, opset
// 17, symbolic batch), checks it against PyTorch's own output, runs it
// eagerly and hybridized, prints the optimized graph and the speed of both,
// classifies the Fashion-MNIST test set with it (where Debian's
// dataset-fashion-mnist is installed), and exports it back to ONNX and to
// hybrid's own format.
//
//   ./onnx_roundtrip [model.onnx] [input.npy output.npy]
#include <hybrid/data.hpp>
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

// Share of the rows of `logits` (N × classes) whose largest entry is at `labels`.
double accuracy(const hybrid::Tensor& logits, const hybrid::Tensor& labels) {
  const int64_t n = logits.shape()[0], classes = logits.shape()[1];
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = logits.data() + i * classes;
    correct += std::max_element(row, row + classes) - row == static_cast<int64_t>(labels.data()[i]);
  }
  return static_cast<double>(correct) / static_cast<double>(n);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string fixtures = std::string(HYBRID_EXAMPLE_SOURCE_DIR) + "/tests/onnx/fixtures/lenet_trained/";
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

    if (argc <= 1) {
      try {
        const hybrid::data::vision::FashionMNIST test_set(hybrid::data::vision::kFashionMNISTRoot, false);
        const hybrid::Tensor logits = (*net)(test_set.features());
        const hybrid::Tensor pytorch_predictions = hybrid::testing::read_npy(fixtures + "eval_predictions.npy").tensor<float>();
        const int64_t n = pytorch_predictions.size();
        std::cout << "Fashion-MNIST test set, " << test_set.size() << " images: accuracy "
                  << 100 * accuracy(logits, test_set.labels()) << " %; the first " << n
                  << " labelled as PyTorch did: "
                  << 100 * accuracy(hybrid::slice(logits, 0, 0, n), pytorch_predictions) << " %\n";
      } catch (const hybrid::Error& e) {
        std::cout << "(Fashion-MNIST test set not classified: " << e.what() << ")\n";
      }
    }

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
