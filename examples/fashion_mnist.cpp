// Loads Fashion-MNIST from Debian's dataset-fashion-mnist and runs shuffled
// epochs of batches through a DataLoader, timing each step:
//   fashion_mnist [root] [batch_size] [epochs]
#include <hybrid/data.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  namespace data = hybrid::data;
  const std::string root = argc > 1 ? argv[1] : data::vision::kFashionMNISTRoot;
  const int64_t batch_size = argc > 2 ? std::atoll(argv[2]) : 256;
  const int epochs = argc > 3 ? std::atoi(argv[3]) : 3;
  try {
    auto start = std::chrono::steady_clock::now();
    const data::vision::FashionMNIST train(root, true);
    std::printf("Load the training set %s: %.4f sec\n", hybrid::to_string(train.features().shape()).c_str(),
                seconds_since(start));
    start = std::chrono::steady_clock::now();
    const data::vision::FashionMNIST test(root, false);
    std::printf("Load the test set %s: %.4f sec\n", hybrid::to_string(test.features().shape()).c_str(),
                seconds_since(start));

    hybrid::random::seed(0);
    data::DataLoader loader(train, batch_size, /*shuffle=*/true);
    for (int e = 0; e < epochs; ++e) {
      start = std::chrono::steady_clock::now();
      double checksum = 0;
      for (const auto& [x, y] : loader) checksum += x.data()[0] + y.data()[0];
      std::printf("Shuffled epoch %d, %lld batches of %lld: %.4f sec (checksum %.1f)\n", e,
                  static_cast<long long>(loader.size()), static_cast<long long>(batch_size), seconds_since(start),
                  checksum);
    }
  } catch (const hybrid::Error& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  return 0;
}
