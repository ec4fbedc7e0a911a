// The seed chapter's MLP, run eagerly: build it with deferred input sizes,
// print its summary, save its parameters and load them into a fresh copy.
#include <hybrid/hybrid.hpp>

#include <cstdio>
#include <iostream>

using namespace hybrid;

// As in the chapter: Dense(256, relu) → Dense(128, relu) → Dense(2).
nn::HybridSequential get_net() {
  nn::HybridSequential net;
  net.add(nn::Dense(256, "relu"), nn::Dense(128, "relu"), nn::Dense(2));
  net.initialize();
  return net;
}

// The chapter's custom block: two Dense children with relu in between.
class HybridNet : public nn::HybridBlock {
 public:
  HybridNet() {
    hidden = register_block("hidden", nn::Dense(4));
    output = register_block("output", nn::Dense(2));
  }
  Tensor forward(const Tensor& x) override {
    std::cout << "value  x: " << x << "\n";
    Tensor h = relu((*hidden)(x));
    return (*output)(h);
  }
  std::shared_ptr<nn::Dense> hidden, output;
};

int main() {
  random::seed(42);
  Tensor x = random::normal({1, 512});

  nn::HybridSequential net = get_net();
  Tensor y = net(x);  // the first call infers every in_units
  std::cout << "net(x) = " << y << "\n\n";
  net.summary(x);

  std::cout << "\nparameters:\n";
  for (const auto& p : net.collect_params()) std::cout << "  " << p->name() << " " << p->shape() << "\n";

  const std::string path = "mlp.safetensors";
  net.save_parameters(path);
  nn::HybridSequential copy = get_net();
  copy.load_parameters(path);  // shapes come from the file
  std::cout << "\nloaded copy agrees: " << std::boolalpha << allclose(copy(x), y, 0, 0) << "\n";
  std::remove(path.c_str());

  HybridNet custom;
  custom.initialize();
  std::cout << "\nHybridNet:\n" << custom(random::normal({2, 3})) << "\n";
  return 0;
}
