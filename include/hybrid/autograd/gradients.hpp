#pragma once
// The gradient column of the op table (filled in below).
#include "../api/tensor_ops.hpp"
