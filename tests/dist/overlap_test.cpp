// The exchange overlapped with backward (Settings::overlap_backward): the
// same parameters as the exchange at step, buckets started during
// backward (eager and hybridized), a second backward before step summed
// again, trainable sets that change, and the size check on every process.
#include <catch2/catch.hpp>
#include <hybrid/dist.hpp>

#include <string>
#include <utility>
#include <vector>

#include "dist_support.hpp"

using hybrid::Error;
using hybrid::Tensor;
namespace dist = hybrid::dist;
namespace nn = hybrid::nn;

namespace {

using Batch = std::pair<Tensor, Tensor>;
using dist_testing::ExchangeScope;
using dist_testing::my_part;
using dist_testing::same_as_rank0;
using dist_testing::train_step;
using dist_testing::values_of;

/// `steps` Adam steps of the MLP on this rank's parts; the parameters after.
std::vector<std::vector<float>> train(bool hybridized, int steps) {
  auto net = dist_testing::mlp(21);
  nn::loss::SoftmaxCrossEntropyLoss loss;
  if (hybridized) {
    net.hybridize();
    loss.hybridize();
  }
  nn::Trainer trainer(net.collect_params(), "adam", {{"learning_rate", 0.01}}, "dist_sync");
  for (int step = 0; step < steps; ++step) {
    train_step(net, trainer, loss, my_part(step));
    REQUIRE(same_as_rank0(net.collect_params()));
  }
  return values_of(net.collect_params());
}

}  // namespace

TEST_CASE("overlapping with backward steps exactly as summing at step, the buckets starting during backward",
          "[dist][overlap]") {
  if (dist::size() != 2) return;  // bit equality across groupings holds for two summands
  const bool hybridized = GENERATE(false, true);
  // The gradients, last parameter first: 1.bias 4 floats, 1.weight 64, 0.bias 16, 0.weight 128.
  // 4 MiB: one bucket; 80 bytes = 20 floats: {1.bias}, {1.weight}, {0.bias}, {0.weight}; 300 bytes = 75
  // floats: {1.bias, 1.weight} (68), {0.bias} (16), {0.weight} (128).
  const int64_t bucket_bytes = GENERATE(int64_t{4} << 20, int64_t{80}, int64_t{300});
  const int64_t buckets = bucket_bytes == 80 ? 4 : bucket_bytes == 300 ? 3 : 1;
  INFO((hybridized ? "hybridized" : "eager") << ", buckets of " << bucket_bytes << " bytes");
  const int steps = 6;

  std::vector<std::vector<float>> at_step, overlapped;
  {
    ExchangeScope scope(false, bucket_bytes);
    at_step = train(hybridized, steps);
    CHECK(dist_context->reduce_stats().early_messages == 0);
  }
  {
    ExchangeScope scope(true, bucket_bytes);
    overlapped = train(hybridized, steps);
    const dist::ReduceStats& s = dist_context->reduce_stats();
    CHECK(s.steps == steps);
    // The first step sums at step (one message per gradient bucket of the step-time plan) and opens the
    // exchange; from then on every bucket starts inside backward, when its last gradient is computed.
    CHECK(s.early_messages == (steps - 1) * buckets);
    CHECK(s.bytes == steps * 212 * 4);
  }
  CHECK(overlapped == at_step);
  CHECK(overlapped != values_of(dist_testing::mlp(21).collect_params()));
}

TEST_CASE("a second backward before step is summed again: accumulation and an extra backward on one process",
          "[dist][overlap]") {
  if (dist::size() != 2) return;
  const bool hybridized = GENERATE(false, true);
  INFO((hybridized ? "hybridized" : "eager"));
  // grad_req "add": two half-parts per step, accumulated. Rank 0 also runs a throw-away backward first,
  // in "write" mode before the accumulation, so the processes ran different numbers of backwards.
  auto run = [&](bool overlap) {
    ExchangeScope scope(overlap, 80);
    auto net = dist_testing::mlp(33);
    nn::loss::SoftmaxCrossEntropyLoss loss;
    if (hybridized) {
      net.hybridize();
      loss.hybridize();
    }
    nn::Trainer trainer(net.collect_params(), "sgd", {{"learning_rate", 0.1}, {"momentum", 0.9}}, "dist_sync");
    auto backward_on = [&](const Batch& b) {
      Tensor l;
      {
        auto rec = hybrid::autograd::record();
        l = loss(net(b.first), b.second);
      }
      l.backward();
    };
    for (int step = 0; step < 5; ++step) {
      const int64_t per = 64 / dist::size(), half = per / 2;
      for (const auto& p : net.collect_params()) p->set_grad_req("write");
      if (dist::rank() == 0) backward_on(my_part(step + 100));  // overwritten below
      for (const auto& p : net.collect_params()) p->set_grad_req("add");
      net.collect_params().zero_grad();
      backward_on(dist_testing::batch(step, per * dist::rank(), half));
      backward_on(dist_testing::batch(step, per * dist::rank() + half, half));
      trainer.step(per);
      REQUIRE(same_as_rank0(net.collect_params()));
    }
    return values_of(net.collect_params());
  };
  const auto at_step = run(false);
  const auto overlapped = run(true);
  CHECK(overlapped == at_step);
}

TEST_CASE("freezing and unfreezing parameters re-plans the exchange", "[dist][overlap]") {
  if (dist::size() != 2) return;
  auto run = [](bool overlap) {
    ExchangeScope scope(overlap, 80);
    auto net = dist_testing::mlp(44);
    nn::loss::SoftmaxCrossEntropyLoss loss;
    nn::Trainer trainer(net.collect_params(), "sgd", {{"learning_rate", 0.1}}, "dist_sync");
    const auto params = net.collect_params();
    for (int step = 0; step < 6; ++step) {
      if (step == 2) params["0.weight"]->set_grad_req("null");  // frozen: no longer a slot
      if (step == 4) params["0.weight"]->set_grad_req("write");
      train_step(net, trainer, loss, my_part(step));
      REQUIRE(same_as_rank0(params));
    }
    return values_of(params);
  };
  CHECK(run(true) == run(false));
}

TEST_CASE("two overlapped Trainers keep their buckets apart, even when one process runs an extra backward",
          "[dist][overlap]") {
  if (dist::size() != 2) return;
  // A body and a head with a Trainer each (a GAN's or a fine-tuning's pattern). Rank 0 first runs a
  // backward that reaches the body only, so its body buckets go out before the head's; without an
  // exchange of its own, the head's buckets would pair with the body's on the other process.
  auto run = [](bool overlap) {
    ExchangeScope scope(overlap, 80);
    hybrid::random::seed(55);
    nn::HybridSequential body, head;
    body.add(nn::Dense(16, "relu", true, dist_testing::kInputs));
    head.add(nn::Dense(dist_testing::kClasses, "", true, 16));
    body.initialize(nn::init::Xavier());
    head.initialize(nn::init::Xavier());
    nn::Trainer body_trainer(body.collect_params(), "sgd", {{"learning_rate", 0.1}}, "dist_sync");
    nn::Trainer head_trainer(head.collect_params(), "adam", {{"learning_rate", 0.01}}, "dist_sync");
    nn::loss::SoftmaxCrossEntropyLoss loss;
    for (int step = 0; step < 5; ++step) {
      const Batch b = my_part(step);
      if (dist::rank() == 0) {
        Tensor extra;
        {
          auto rec = hybrid::autograd::record();
          extra = hybrid::sum(body(b.first));
        }
        extra.backward();
      }
      Tensor l;
      {
        auto rec = hybrid::autograd::record();
        l = loss(head(body(b.first)), b.second);
      }
      l.backward();
      head_trainer.step(b.second.size());
      body_trainer.step(b.second.size());
      REQUIRE(same_as_rank0(body.collect_params()));
      REQUIRE(same_as_rank0(head.collect_params()));
    }
    // Overlapped, the buckets went out during backward (on rank 0 the body's even twice a step).
    CHECK((dist_context->reduce_stats().early_messages > 0) == overlap);
    std::vector<std::vector<float>> all = values_of(body.collect_params());
    for (auto& v : values_of(head.collect_params())) all.push_back(v);
    return all;
  };
  CHECK(run(true) == run(false));
}

TEST_CASE("a Trainer destroyed between backward and step completes the round on every process, whatever its "
          "backward reached",
          "[dist][overlap]") {
  ExchangeScope scope(true, 80);
  auto net = dist_testing::mlp(66);
  nn::loss::SoftmaxCrossEntropyLoss loss;
  {
    nn::Trainer trainer(net.collect_params(), "sgd", {{"learning_rate", 0.1}}, "dist_sync");
    train_step(net, trainer, loss, my_part(0));  // opens the exchange
    // Rank 0 reaches every parameter, so it starts every bucket; the others reach the first layer only,
    // whose buckets come last, so they start none: their destructor sends zeros for the rest.
    Tensor l;
    {
      auto rec = hybrid::autograd::record();
      const Batch b = my_part(1);
      l = dist::rank() == 0 ? loss(net(b.first), b.second) : hybrid::sum((*net[0])(b.first));
    }
    l.backward();
    if (dist::rank() == 0) CHECK(dist_context->reduce_stats().early_messages == 4);
  }
  // Every process finished the same round: a new Trainer steps as usual.
  nn::Trainer again(net.collect_params(), "sgd", {{"learning_rate", 0.1}}, "dist_sync");
  train_step(net, again, loss, my_part(2));
  CHECK(same_as_rank0(net.collect_params()));
}

TEST_CASE("with overlap, processes that step or would plan different parameters fail on every process, before "
          "any update",
          "[dist][overlap][check]") {
  ExchangeScope scope(true, 80);
  auto net = dist_testing::mlp(5);
  const auto params = net.collect_params();
  nn::Trainer trainer(params, "sgd", {{"learning_rate", 0.1}}, "dist_sync");
  nn::loss::SoftmaxCrossEntropyLoss loss;
  train_step(net, trainer, loss, my_part(0));  // opens the exchange
  Tensor l;
  {
    auto rec = hybrid::autograd::record();
    l = loss(net(my_part(1).first), my_part(1).second);
  }
  l.backward();
  const auto before = values_of(params);
  SECTION("rank 1 skips a stale gradient the others step") {
    if (dist::rank() == 1) nn::detail::ParameterAccess::grad_meta(*params["1.bias"])->fresh = false;
    CHECK_THROWS_WITH(trainer.step(32, /*ignore_stale_grad=*/true),
                      Catch::StartsWith("Trainer::step with kvstore 'dist_sync': rank(s) 1 step other gradients "
                                        "than rank 0") &&
                          Catch::EndsWith("Nothing was updated"));
  }
  SECTION("rank 1 freezes a weight after backward, so it would not plan it next") {
    if (dist::rank() == 1) params["0.weight"]->set_grad_req("null");
    CHECK_THROWS_WITH(trainer.step(32), Catch::StartsWith("Trainer::step with kvstore 'dist_sync' overlapped with "
                                                          "backward: rank(s) 1 would train other parameters than "
                                                          "rank 0 from the next step"));
    params["0.weight"]->set_grad_req("write");
  }
  CHECK(values_of(params) == before);
  // The exchange is usable again: the next step sums as usual.
  train_step(net, trainer, loss, my_part(2));
  CHECK(same_as_rank0(params));
}
