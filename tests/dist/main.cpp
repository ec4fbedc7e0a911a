// hybrid_dist_tests' main: Catch2 inside one dist::Context, run under
// `mpirun -np 2` (tests/CMakeLists.txt). With --fault <kind> it instead
// trains and lets rank 1 fail at step 5, for the fault tests:
//   throw  rank 1 throws an uncaught exception
//   die    rank 1 is killed by SIGKILL
//   hang   rank 1 stops taking part (sleeps); rank 0's collective times out
//          and names rank 1 as the one that did not arrive
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <hybrid/dist.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

#include "dist_support.hpp"

hybrid::dist::Context* dist_context = nullptr;

namespace {

int run_fault(const std::string& kind) {
  using namespace hybrid;
  const int rank = dist::rank();
  auto net = dist_testing::mlp(1);
  dist::broadcast_parameters(net.collect_params());
  nn::Trainer trainer(net.collect_params(), "sgd", {{"learning_rate", 0.1}}, "dist_sync");
  nn::loss::SoftmaxCrossEntropyLoss loss;
  for (int step = 0; step < 20; ++step) {
    if (rank == 1 && step == 5) {
      std::fprintf(stderr, "rank 1: injecting fault '%s' at step 5\n", kind.c_str());
      std::fflush(stderr);
      if (kind == "throw") throw std::runtime_error("injected fault at step 5");
      if (kind == "die") std::raise(SIGKILL);
      if (kind == "hang") std::this_thread::sleep_for(std::chrono::seconds(120));
    }
    const int64_t per = 64 / dist::size();
    const auto batch = dist_testing::batch(step, per * rank, per);
    Tensor l;
    {
      auto rec = autograd::record();
      l = loss(net(batch.first), batch.second);
    }
    l.backward();
    trainer.step(per);
  }
  std::fprintf(stderr, "rank %d: finished all steps, which a fault test must not do\n", rank);
  return 3;
}

}  // namespace

int main(int argc, char** argv) {
  hybrid::dist::Context context(argc, argv);
  dist_context = &context;
  if (argc == 3 && std::strcmp(argv[1], "--fault") == 0) return run_fault(argv[2]);
  const int failed = Catch::Session().run(argc, argv);
  dist_context = nullptr;
  return failed;
}
