#pragma once
// HybridizeOptions lives with the passes it switches; blocks name it as
// nn::HybridizeOptions too.
#include "../passes/options.hpp"

namespace hybrid::nn {
using hybrid::HybridizeOptions;
}
