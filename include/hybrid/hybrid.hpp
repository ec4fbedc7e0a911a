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
// Headers are layered: each folder includes only folders before it in this
// list (docs/ARCHITECTURE.md; tests/layering checks it):
// core → ops → kernels → table → graph → trace → api → autograd → passes →
// exec → io → optim → nn → data.
//
// Header-only with no binary dependency: the readers that need zlib (io/gzip,
// io/idx, data/vision) are in hybrid/data.hpp instead (CMake target
// hybrid::data); tests/header_only checks that none of them is included here.
#include "core/benchmark.hpp"
#include "core/dtype.hpp"
#include "core/errors.hpp"
#include "core/random.hpp"
#include "core/shape.hpp"
#include "core/tensor.hpp"
#include "core/thread_pool.hpp"
#include "table/op_table.hpp"
#include "graph/print.hpp"
#include "graph/verify.hpp"
#include "trace/trace_function.hpp"
#include "api/tensor_ops.hpp"
#include "api/creation.hpp"
#include "api/print.hpp"
#include "api/mode_ops.hpp"
#include "autograd/gradients.hpp"
#include "autograd/mode.hpp"
#include "autograd/backward.hpp"
#include "passes/pipeline.hpp"
#include "exec/executable.hpp"
#include "exec/plan_cache.hpp"
#include "io/graph_json.hpp"
#include "io/safetensors.hpp"
#include "optim/optimizer.hpp"
#include "nn/nn.hpp"
#include "data/dataset.hpp"
#include "data/dataloader.hpp"
