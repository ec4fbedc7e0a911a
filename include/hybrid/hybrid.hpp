#pragma once
// hybrid: deep-learning blocks that run eagerly and, after hybridize(),
// trace into an optimized graph replayed on CPU kernels.
//
//   hybrid::Tensor x = hybrid::random::normal({1, 512});
//   hybrid::nn::HybridSequential net;
//   net.add(hybrid::nn::Dense(256, "relu"), hybrid::nn::Dense(2));
//   net.initialize();
//   auto y = net(x);      // eager
//   net.hybridize();
//   y = net(x);           // traced once, then replayed
//
// Headers follow the data flow: core → ops/kernels → trace/graph → passes →
// exec → nn → io.
#include "core/benchmark.hpp"
#include "core/dtype.hpp"
#include "core/errors.hpp"
#include "core/random.hpp"
#include "core/shape.hpp"
#include "core/tensor.hpp"
#include "ops/api.hpp"
#include "ops/creation.hpp"
#include "core/print.hpp"
#include "trace/trace_function.hpp"
#include "graph/print.hpp"
#include "graph/verify.hpp"
#include "passes/pipeline.hpp"
#include "exec/executable.hpp"
#include "exec/plan_cache.hpp"
#include "nn/nn.hpp"
#include "io/parameter_file.hpp"
#include "io/graph_json.hpp"
#include "io/symbol_block.hpp"
