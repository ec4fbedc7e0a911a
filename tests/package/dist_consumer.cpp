// The dist component as both consumer projects use it (COMPONENTS dist,
// hybrid::dist): MPI comes with the target. Run as a single process (MPI
// allows a program started without mpirun), where the sum over processes
// is the tensor itself and a "dist_sync" step equals a local one.
#include <hybrid/dist.hpp>

#include <iostream>

int main(int argc, char** argv) {
  hybrid::dist::Context ctx(argc, argv);
  hybrid::Tensor t = hybrid::full<float>({3}, 2.0f);
  hybrid::dist::allreduce(t);
  hybrid::nn::HybridSequential net;
  net.add(hybrid::nn::Dense(2, "", true, 3));
  net.initialize();
  hybrid::dist::broadcast_parameters(net.collect_params());
  hybrid::nn::Trainer trainer(net.collect_params(), "sgd", {{"learning_rate", 0.1}}, "dist_sync");
  if (hybrid::dist::size() != 1 || hybrid::dist::rank() != 0 || t.at({1}) != 2.0f || trainer.kvstore() != "dist_sync") {
    std::cerr << "dist did not work as one process\n";
    return 1;
  }
  std::cout << "dist ok\n";
  return 0;
}
