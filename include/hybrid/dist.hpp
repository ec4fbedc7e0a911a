#pragma once
// hybrid/dist.hpp: data-parallel training on MPI, the optional dist
// component (CMake: find_package(hybrid CONFIG REQUIRED COMPONENTS dist),
// target hybrid::dist). Everything else of hybrid stays free of MPI.
//
//   hybrid::dist::Context ctx(argc, argv);
//   net.initialize();
//   hybrid::dist::broadcast_parameters(net.collect_params());
//   hybrid::nn::Trainer trainer(net.collect_params(), "sgd", {{"learning_rate", 0.1}}, "dist_sync");
//   hybrid::data::DataLoader loader(train, 32, true, "discard", hybrid::dist::size(), hybrid::dist::rank());
//
// docs/distributed.md explains the design, the faults and the cost model.
#include "hybrid.hpp"
#include "dist/runtime.hpp"
#include "dist/collectives.hpp"
#include "dist/reducer.hpp"
#include "dist/context.hpp"
#include "dist/checkpoint.hpp"
