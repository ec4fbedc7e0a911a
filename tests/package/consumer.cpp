// The program both consumer projects build (find_package, add_subdirectory):
// a small hybridized model whose compiled graph must agree with eager execution.
#include <hybrid/hybrid.hpp>

#include <iostream>

int main() {
  using namespace hybrid;
  nn::HybridSequential net;
  net.add(nn::Dense(8, "relu"), nn::Dense(2));
  net.initialize();
  const Tensor x = random::normal<float>({3, 4});
  const Tensor eager = net(x);
  net.hybridize();
  const Tensor compiled = net(x);
  if (!allclose(eager, compiled) || net.graph_ops().size() != 2) {
    std::cerr << "hybridized output differs from eager output\n";
    return 1;
  }
  std::cout << "ok\n";
  return 0;
}
