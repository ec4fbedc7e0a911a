#pragma once
// The Gluon-style layer API: blocks, parameters, initializers and layers.
#include "init.hpp"
#include "parameter.hpp"
#include "hybridize_options.hpp"
#include "block.hpp"
#include "hybrid_block.hpp"
#include "activation.hpp"
#include "dense.hpp"
#include "lambda.hpp"
#include "sequential.hpp"
#include "summary.hpp"
#include "parameter_file.hpp"
#include "symbol_block.hpp"
