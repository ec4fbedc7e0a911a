#pragma once
// DropoutT<T>: Gluon's Dropout. In train mode each element is zeroed with
// probability `rate` and the others scaled by 1 / (1 - rate), drawing from
// the library's generator (deterministic after random::seed); in predict
// mode it passes its input through, and a predict-mode plan has no trace of
// it (passes/lower_mode.hpp).
#include <cstdio>
#include <string>

#include "../api/mode_ops.hpp"
#include "hybrid_block.hpp"

namespace hybrid::nn {

template <class T>
class DropoutT : public HybridBlockT<T> {
 public:
  explicit DropoutT(double rate) : rate_(rate) {
    if (!(rate >= 0 && rate < 1)) throw Error("Dropout: rate must be in [0, 1), got " + std::to_string(rate));
  }

  TensorT<T> forward(const TensorT<T>& x) override { return dropout(x, rate_); }

  std::string type_name() const override { return "Dropout"; }
  std::string describe() const override {
    char buf[48];
    std::snprintf(buf, sizeof buf, "Dropout(p = %g)", rate_);
    return buf;
  }
  double rate() const { return rate_; }

 private:
  double rate_;
};

using Dropout = DropoutT<float>;

}  // namespace hybrid::nn
