// hybrid::dist and the model's state beyond its trainable parameters:
// BatchNorm's running statistics averaged over the processes by a
// "dist_sync" Trainer (identical on every rank, equal to one process that
// runs the processes' parts one after another), and checkpoints that carry
// the random generators' states and whose two files must belong together.
#include <catch2/catch.hpp>
#include <hybrid/dist.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "dist_support.hpp"

using Catch::Contains;
using Catch::EndsWith;
using Catch::StartsWith;
using hybrid::Error;
using hybrid::Tensor;
namespace dist = hybrid::dist;
namespace nn = hybrid::nn;

namespace {

using dist_testing::same_as_rank0;
using dist_testing::train_step;
using dist_testing::values_of;

bool is_running_statistic(const nn::Parameter& p) { return p.grad_req() == "null"; }

/// One step of `net` as p processes take it, run by this process alone: each
/// part's forward and backward in turn from the same running statistics,
/// the gradients summed (grad_req "add"), the running statistics averaged
/// (summed in rank order, then divided by p), then the update.
void emulated_step(nn::HybridSequential& net, nn::Trainer& trainer, nn::loss::SoftmaxCrossEntropyLoss& loss,
                   int step, int parts) {
  const auto params = net.collect_params();
  std::vector<std::pair<nn::Parameter*, Tensor>> start, sum;
  for (const auto& p : params)
    if (is_running_statistic(*p)) {
      start.emplace_back(p.get(), p->data().clone());
      sum.emplace_back(p.get(), hybrid::zeros<float>(p->shape()));
    }
  const int64_t per = 32 / parts;
  for (int k = 0; k < parts; ++k) {
    for (auto& [p, value] : start) p->set_data(value.clone());
    const auto batch = dist_testing::images(step, per * k, per);
    Tensor l;
    {
      auto rec = hybrid::autograd::record();
      l = loss(net(batch.first), batch.second);
    }
    l.backward();
    for (auto& [p, total] : sum) {
      const std::vector<float> v = p->data().to_vector();
      for (size_t j = 0; j < v.size(); ++j) total.data()[j] += v[j];
    }
  }
  for (auto& [p, total] : sum) {
    for (int64_t j = 0; j < total.size(); ++j) total.data()[j] /= static_cast<float>(parts);
    p->set_data(total);
  }
  trainer.step(32);
  params.zero_grad();
}

/// A step whose forward runs in predict mode (running statistics unchanged).
void predict_mode_step(nn::HybridSequential& net, nn::Trainer& trainer, nn::loss::SoftmaxCrossEntropyLoss& loss,
                       const std::pair<Tensor, Tensor>& batch) {
  Tensor l;
  {
    auto rec = hybrid::autograd::record(/*train_mode=*/false);
    l = loss(net(batch.first), batch.second);
  }
  l.backward();
  trainer.step(batch.second.size());
}

double worst_difference(const nn::ParameterDict& got, const nn::ParameterDict& want, bool running_statistics) {
  double worst = 0;
  for (const auto& p : got) {
    if (is_running_statistic(*p) != running_statistics) continue;
    const std::vector<float> a = p->data().to_vector(), b = want[p->name()]->data().to_vector();
    for (size_t j = 0; j < a.size(); ++j)
      worst = std::max(worst, std::abs(double(a[j]) - double(b[j])) / std::max(1.0, std::abs(double(b[j]))));
  }
  return worst;
}

}  // namespace

TEST_CASE("dist_sync averages BatchNorm's running statistics: identical on every rank, as one process stepping "
          "the parts in turn",
          "[dist][state]") {
  const bool hybridized = GENERATE(false, true);
  const bool overlap = GENERATE(false, true);  // the exchange at step(), or started during backward
  INFO((hybridized ? "hybridized" : "eager") << (overlap ? ", overlapped" : ""));
  dist_testing::ExchangeScope exchange(overlap, dist_context->settings().bucket_bytes);
  const int p = dist::size(), rank = dist::rank();
  REQUIRE(32 % p == 0);
  const int64_t per = 32 / p;

  auto net = dist_testing::lenet_bn(3);
  auto emulated = dist_testing::lenet_bn(3);  // p parts in turn, in this process
  auto whole = dist_testing::lenet_bn(3);     // one process, BatchNorm over the whole batch of 32
  for (const auto& q : emulated.collect_params())
    if (!is_running_statistic(*q)) q->set_grad_req("add");
  nn::loss::SoftmaxCrossEntropyLoss loss, emulated_loss, whole_loss;
  if (hybridized) {
    for (auto* n : {&net, &emulated, &whole}) n->hybridize();
    for (auto* l : {&loss, &emulated_loss, &whole_loss}) l->hybridize();
  }
  const hybrid::optim::Options sgd{{"learning_rate", 0.1}, {"momentum", 0.9}};
  nn::Trainer trainer(net.collect_params(), "sgd", sgd, "dist_sync");
  nn::Trainer emulated_trainer(emulated.collect_params(), "sgd", sgd);
  nn::Trainer whole_trainer(whole.collect_params(), "sgd", sgd);
  dist_context->set_check_parameters(true);  // hashes the running statistics too

  const auto params = net.collect_params();
  for (int step = 0; step < 10; ++step) {
    INFO("step " << step);
    train_step(net, trainer, loss, dist_testing::images(step, per * rank, per));
    emulated_step(emulated, emulated_trainer, emulated_loss, step, p);
    train_step(whole, whole_trainer, whole_loss, dist_testing::images(step, 0, 32));
    // Every parameter, the running statistics included, bit for bit rank 0's.
    REQUIRE(same_as_rank0(params));
    REQUIRE(worst_difference(params, emulated.collect_params(), false) <= 1e-5);
    REQUIRE(worst_difference(params, emulated.collect_params(), true) <= 1e-5);
    if (step == 0) {
      // Before the first update every process computes the first BatchNorm's
      // input as the whole-batch process does: the average of the parts'
      // running means is that process's running mean (the update is
      // linear), and the average of the parts' variances is at most the
      // whole batch's (it lacks the variance of the parts' means).
      const std::vector<float> mean = params["1.running_mean"]->data().to_vector(),
                               whole_mean = whole.collect_params()["1.running_mean"]->data().to_vector(),
                               var = params["1.running_var"]->data().to_vector(),
                               whole_var = whole.collect_params()["1.running_var"]->data().to_vector();
      bool some_var_smaller = false;
      for (size_t c = 0; c < mean.size(); ++c) {
        CHECK(mean[c] == Approx(whole_mean[c]).margin(1e-6));
        CHECK(mean[c] != 0.0f);
        CHECK(var[c] <= whole_var[c] + 1e-6f);
        some_var_smaller = some_var_smaller || var[c] < whole_var[c] - 1e-4f;
      }
      CHECK(some_var_smaller);
    }
  }
  dist_context->set_check_parameters(false);
  // The statistics moved and travelled with the gradients: one message a step. Overlapped, from the
  // second step on, the gradients' bucket leaves during backward and the statistics follow at step().
  CHECK(params["5.running_var"]->data().to_vector() != std::vector<float>(6, 1.0f));
  CHECK(dist_context->reduce_stats().messages == (overlap ? 1 + 9 * 2 : 10));
  CHECK(dist_context->reduce_stats().early_messages == (overlap ? 9 : 0));
  int64_t trainable = 0, running = 0;
  for (const auto& q : params) (is_running_statistic(*q) ? running : trainable) += q->size();
  CHECK(running == 2 * (4 + 6 + 12));
  CHECK(dist_context->reduce_stats().bytes == 10 * (trainable + running) * 4);
}

TEST_CASE("dist_sync leaves unchanged non-trainable parameters alone", "[dist][state]") {
  auto net = dist_testing::lenet_bn(4);
  nn::Trainer trainer(net.collect_params(), "sgd", {{"learning_rate", 0.1}}, "dist_sync");
  nn::loss::SoftmaxCrossEntropyLoss loss;
  const int64_t per = 32 / dist::size();
  const auto batch = dist_testing::images(0, per * dist::rank(), per);
  train_step(net, trainer, loss, batch);
  dist_context->reset_reduce_stats();
  // A step whose forward ran in predict mode changes no running statistic:
  // only the gradients are exchanged.
  const auto before = values_of(net.collect_params());
  predict_mode_step(net, trainer, loss, batch);
  int64_t trainable = 0;
  for (const auto& q : net.collect_params())
    if (!is_running_statistic(*q)) trainable += q->size();
  CHECK(dist_context->reduce_stats().bytes == trainable * 4);
  const auto after = values_of(net.collect_params());
  size_t i = 0;
  for (const auto& q : net.collect_params()) {
    if (is_running_statistic(*q)) CHECK(after[i] == before[i]);
    ++i;
  }
}

TEST_CASE("running statistics changed on some processes only fail on every process, and the debug check sees "
          "statistics that differ",
          "[dist][state][check]") {
  auto net = dist_testing::lenet_bn(5);
  nn::Trainer trainer(net.collect_params(), "sgd", {{"learning_rate", 0.1}}, "dist_sync");
  nn::loss::SoftmaxCrossEntropyLoss loss;
  const int64_t per = 32 / dist::size();
  const auto batch = dist_testing::images(1, per * dist::rank(), per);
  train_step(net, trainer, loss, batch);

  SECTION("a train-mode forward on rank 1 alone") {
    if (dist::rank() == 1) {
      auto training = hybrid::autograd::train_mode();
      (void)net(batch.first);
    }
    const auto before = values_of(net.collect_params());
    CHECK_THROWS_WITH(predict_mode_step(net, trainer, loss, batch),
                      Contains("rank(s) 1 step other gradients than rank 0") &&
                          Contains("or changed other non-trainable parameters (running statistics"));
    CHECK(values_of(net.collect_params()) == before);
  }
  SECTION("a running mean written in place on rank 1, which no step sees change") {
    if (dist::rank() == 1) net.collect_params()["5.running_mean"]->data().data()[0] += 0.5f;
    dist_context->set_check_parameters(true);
    CHECK_THROWS_WITH(predict_mode_step(net, trainer, loss, batch),
                      StartsWith("hybrid::dist: parameter check after dist_sync step ") &&
                          EndsWith(": the parameters of rank(s) 1 differ from rank 0's"));
    dist_context->set_check_parameters(false);
  }
}

namespace {

/// This rank's rows of step `step`'s 64-sample batch.
std::pair<Tensor, Tensor> my_rows(int step) {
  const int64_t per = 64 / dist::size();
  return dist_testing::batch(step, per * dist::rank(), per);
}

void remove_checkpoint(const std::string& prefix) {
  dist::barrier();
  if (dist::rank() == 0)
    for (const char* suffix : {".params", ".states", ".params.new", ".states.new", ".params.old"})
      std::remove((prefix + suffix).c_str());
  dist::barrier();
}

bool exists(const std::string& path) { return std::ifstream(path).good(); }

}  // namespace

TEST_CASE("a checkpoint carries every process's random generator: a resumed run with Dropout continues bit for bit",
          "[dist][checkpoint]") {
  const bool hybridized = GENERATE(false, true);
  const bool seeded_per_rank = GENERATE(false, true);  // generators that differ between the processes, or not
  INFO((hybridized ? "hybridized" : "eager") << (seeded_per_rank ? ", seeded per rank" : ", one seed"));
  const std::string prefix = "dist_test_rng_checkpoint";
  nn::loss::SoftmaxCrossEntropyLoss loss;
  auto make = [&](uint64_t seed) {
    auto net = dist_testing::mlp_dropout(seed);
    if (hybridized) net.hybridize();
    return net;
  };
  const uint64_t seed = seeded_per_rank ? 100 + static_cast<uint64_t>(dist::rank()) : 100;

  // Uninterrupted: 6 Adam steps, a checkpoint after the 3rd.
  auto net = make(8);
  nn::Trainer trainer(net.collect_params(), "adam", {{"learning_rate", 0.01}}, "dist_sync");
  hybrid::random::seed(seed);
  for (int step = 0; step < 6; ++step) {
    train_step(net, trainer, loss, my_rows(step));
    if (step == 2) dist::save_checkpoint(net.collect_params(), trainer, prefix);
  }
  CHECK(same_as_rank0(net.collect_params()));
  CHECK_FALSE(exists(prefix + ".params.new"));
  CHECK_FALSE(exists(prefix + ".states.new"));
  const auto meta = hybrid::io::safetensors::read_metadata(prefix + ".states");
  CHECK(meta.at("checkpoint.id") == hybrid::io::safetensors::read_metadata(prefix + ".params").at("checkpoint.id"));
  CHECK(meta.count("random.state") == (seeded_per_rank ? 0u : 1u));
  CHECK(meta.count("random.state.1") == (seeded_per_rank ? 1u : 0u));

  // Resumed in a fresh state: another start, another generator state, the
  // checkpoint loaded on every rank, steps 3 to 5.
  auto resumed = make(99);
  nn::Trainer resumed_trainer(resumed.collect_params(), "adam", {{"learning_rate", 0.01}}, "dist_sync");
  hybrid::random::seed(123456 + static_cast<uint64_t>(dist::rank()));
  dist::load_checkpoint(resumed.collect_params(), resumed_trainer, prefix);
  for (int step = 3; step < 6; ++step) train_step(resumed, resumed_trainer, loss, my_rows(step));
  CHECK(values_of(resumed.collect_params()) == values_of(net.collect_params()));  // bit for bit

  // The generator matters: resumed with another generator state, Dropout draws other masks.
  auto reseeded = make(99);
  nn::Trainer reseeded_trainer(reseeded.collect_params(), "adam", {{"learning_rate", 0.01}}, "dist_sync");
  dist::load_checkpoint(reseeded.collect_params(), reseeded_trainer, prefix);
  hybrid::random::seed(seed + 1);
  for (int step = 3; step < 6; ++step) train_step(reseeded, reseeded_trainer, loss, my_rows(step));
  CHECK(values_of(reseeded.collect_params()) != values_of(net.collect_params()));
  remove_checkpoint(prefix);
}

TEST_CASE("checkpoint files from two different saves are refused on every process, naming both files",
          "[dist][checkpoint]") {
  const std::string prefix = "dist_test_mixed_checkpoint";
  nn::loss::SoftmaxCrossEntropyLoss loss;
  auto net = dist_testing::mlp(31);
  nn::Trainer trainer(net.collect_params(), "sgd", {{"learning_rate", 0.1}, {"momentum", 0.9}}, "dist_sync");
  train_step(net, trainer, loss, my_rows(0));
  dist::save_checkpoint(net.collect_params(), trainer, prefix);
  if (dist::rank() == 0) std::rename((prefix + ".params").c_str(), (prefix + ".params.old").c_str());
  train_step(net, trainer, loss, my_rows(1));
  dist::save_checkpoint(net.collect_params(), trainer, prefix);
  auto fresh = dist_testing::mlp(32);
  nn::Trainer fresh_trainer(fresh.collect_params(), "sgd", {{"learning_rate", 0.1}, {"momentum", 0.9}}, "dist_sync");
  const auto before = values_of(fresh.collect_params());
  const std::string generator = hybrid::random::state();

  SECTION("new states next to the parameters of the save before (a crash between the two renames)") {
    if (dist::rank() == 0) std::rename((prefix + ".params.old").c_str(), (prefix + ".params").c_str());
    dist::barrier();
    CHECK_THROWS_WITH(dist::load_checkpoint(fresh.collect_params(), fresh_trainer, prefix),
                      Contains("hybrid::dist::load_checkpoint('dist_test_mixed_checkpoint') failed on rank(s) 0, 1") &&
                          Contains("'dist_test_mixed_checkpoint.params' (checkpoint ") &&
                          Contains("and 'dist_test_mixed_checkpoint.states' (checkpoint ") &&
                          Contains("are not from the same save"));
  }
  SECTION("a parameters file that no checkpoint wrote") {
    if (dist::rank() == 0) nn::save_parameters(net.collect_params(), prefix + ".params");
    dist::barrier();
    CHECK_THROWS_WITH(dist::load_checkpoint(fresh.collect_params(), fresh_trainer, prefix),
                      Contains("'dist_test_mixed_checkpoint.params' has no checkpoint id: it was not written by "
                               "dist::save_checkpoint"));
  }
  // Nothing changed: neither the parameters nor the generator.
  CHECK(values_of(fresh.collect_params()) == before);
  CHECK(hybrid::random::state() == generator);
  remove_checkpoint(prefix);
}

TEST_CASE("generator states saved per process load only on as many processes; a shared one loads anywhere",
          "[dist][checkpoint]") {
  namespace d = hybrid::dist::detail;
  const std::map<std::string, std::string> shared{{"checkpoint.processes", "4"}, {"random.state", "s"}},
      per_rank{{"checkpoint.processes", "4"}, {"random.state.0", "a"}, {"random.state.1", "b"},
               {"random.state.2", "c"}, {"random.state.3", "d"}};
  CHECK(d::generator_state(shared, "c.states", 1, 2) == "s");
  CHECK(d::generator_state(per_rank, "c.states", 2, 4) == "c");
  CHECK_THROWS_MATCHES(d::generator_state(per_rank, "c.states", 1, 2), Error,
                       Catch::Message("'c.states' holds the random generator states of 4 processes, which differ, "
                                      "but 2 processes load it: resume with as many processes as saved it"));
  CHECK_THROWS_MATCHES(d::generator_state({{"checkpoint.processes", "4"}}, "c.states", 3, 4), hybrid::FormatError,
                       Catch::Message("'c.states' holds no random generator state for rank 3"));
  CHECK_THROWS_AS(d::generator_state({}, "c.states", 0, 2), hybrid::FormatError);
}
