#pragma once
// FusedProgram: what a fused_elementwise node computes, as a list of op-table
// entries over slots (slots 0..n_inputs-1 are the node's inputs, slot
// n_inputs + s is step s's result; the last step is the output).
#include <vector>

#include "attrs.hpp"
#include "op_code.hpp"

namespace hybrid {

struct FusedStep {
  OpCode op;
  int arity;
  int arg[3];
  Attrs attrs;  // the fused node's own attributes (clip's bounds, pow's exponent, ...)
};

struct FusedProgram {
  int n_inputs = 0;
  std::vector<FusedStep> steps;
};

}  // namespace hybrid
