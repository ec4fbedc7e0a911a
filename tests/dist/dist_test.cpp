// hybrid::dist on 2 (or more) processes: the collectives, data-parallel
// steps equal to one process with the whole batch, identical parameters on
// every rank after every step, buckets that do not change the sums, the
// debug check and the gradient-size check, and checkpoints that resume
// exactly. Every process runs every test; the references are computed
// inside each process on the whole batch.
#include <catch2/catch.hpp>
#include <hybrid/dist.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "dist_support.hpp"

using Catch::Contains;
using hybrid::Error;
using hybrid::Tensor;
namespace dist = hybrid::dist;
namespace nn = hybrid::nn;
namespace optim = hybrid::optim;

namespace {

using Batch = std::pair<Tensor, Tensor>;

using dist_testing::my_part;
using dist_testing::same_as_rank0;
using dist_testing::train_step;
using dist_testing::values_of;

optim::Options options_of(const std::string& optimizer) {
  return optimizer == "sgd" ? optim::Options{{"learning_rate", 0.1}, {"momentum", 0.9}}
                            : optim::Options{{"learning_rate", 0.01}};
}

}  // namespace

TEST_CASE("rank, size, allreduce, broadcast and barrier", "[dist]") {
  REQUIRE(dist::size() >= 2);
  CHECK(dist::rank() >= 0);
  CHECK(dist::rank() < dist::size());
  CHECK(dist_context->rank() == dist::rank());
  const int n = dist::size(), r = dist::rank();

  Tensor t = hybrid::full<float>({2, 3}, static_cast<float>(r + 1));
  t.data()[5] = static_cast<float>(r * 10);
  dist::allreduce(t);
  CHECK(t.at({0, 0}) == static_cast<float>(n * (n + 1) / 2));
  CHECK(t.at({1, 2}) == static_cast<float>(10 * n * (n - 1) / 2));

  hybrid::TensorT<double> d = hybrid::full<double>({4}, r + 0.5);
  dist::broadcast(d, n - 1);
  CHECK(d.to_vector() == std::vector<double>(4, n - 0.5));
  dist::barrier();

  SECTION("shapes that differ between processes fail on every process") {
    Tensor odd = hybrid::zeros<float>({r == 1 ? 3 : 2});
    CHECK_THROWS_MATCHES(dist::allreduce(odd), Error,
                         Catch::Message("hybrid::dist::allreduce: rank(s) 1 hold a tensor of other shapes than rank 0, "
                                        "so nothing was exchanged"));
    CHECK_THROWS_MATCHES(dist::broadcast(odd, n), Error,
                         Catch::Message("hybrid::dist::broadcast: root " + std::to_string(n) + " is not a rank in [0, " +
                                        std::to_string(n) + ")"));
  }
}

TEST_CASE("broadcast_parameters gives every process root's initial parameters", "[dist]") {
  auto net = dist_testing::mlp(10 + static_cast<uint64_t>(dist::rank()));  // a different start everywhere
  CHECK(same_as_rank0(net.collect_params()) == (dist::rank() == 0));
  dist::broadcast_parameters(net.collect_params());
  CHECK(values_of(net.collect_params()) == values_of(dist_testing::mlp(10).collect_params()));
  CHECK(same_as_rank0(net.collect_params()));

  SECTION("deferred parameters are an error on every process, naming the ranks") {
    nn::HybridSequential deferred;
    deferred.add(nn::Dense(3));
    deferred.initialize();
    std::string ranks;
    for (int i = 0; i < dist::size(); ++i) ranks += (i ? ", " : "") + std::to_string(i);
    CHECK_THROWS_WITH(dist::broadcast_parameters(deferred.collect_params()),
                      Contains("parameters not initialized on rank(s) " + ranks + " (here: 0.weight)"));
  }
}

TEST_CASE("p processes with batch 64/p step exactly as one process with batch 64, every rank identical",
          "[dist][equivalence]") {
  const std::string optimizer = GENERATE(as<std::string>{}, "sgd", "adam");
  const bool hybridized = GENERATE(false, true);
  INFO(optimizer << (hybridized ? ", hybridized" : ", eager"));
  REQUIRE(64 % dist::size() == 0);

  auto reference = dist_testing::mlp(3);  // one process, the whole batch
  auto net = dist_testing::mlp(100 + static_cast<uint64_t>(dist::rank()));
  dist::broadcast_parameters(net.collect_params());
  for (const auto& p : net.collect_params()) p->set_data(reference.collect_params()[p->name()]->data().clone());
  nn::loss::SoftmaxCrossEntropyLoss loss, reference_loss;
  if (hybridized) {
    net.hybridize();
    loss.hybridize();
    reference.hybridize();
    reference_loss.hybridize();
  }
  nn::Trainer trainer(net.collect_params(), optimizer, options_of(optimizer), "dist_sync");
  nn::Trainer reference_trainer(reference.collect_params(), optimizer, options_of(optimizer));
  dist_context->reset_reduce_stats();

  double worst = 0;
  for (int step = 0; step < 20; ++step) {
    train_step(net, trainer, loss, my_part(step));
    train_step(reference, reference_trainer, reference_loss, dist_testing::batch(step, 0, 64));
    const auto got = values_of(net.collect_params()), want = values_of(reference.collect_params());
    for (size_t i = 0; i < got.size(); ++i)
      for (size_t j = 0; j < got[i].size(); ++j)
        worst = std::max(worst, std::abs(double(got[i][j]) - double(want[i][j])) /
                                    std::max(1.0, std::abs(double(want[i][j]))));
    INFO("step " << step);
    REQUIRE(worst <= 1e-5);
    REQUIRE(same_as_rank0(net.collect_params()));
  }
  // The parameters moved: the comparison is not of two untouched models.
  CHECK(values_of(net.collect_params()) != values_of(dist_testing::mlp(3).collect_params()));
  // 4 gradients of 8*16 + 16 + 16*4 + 4 floats fit one 4 MiB bucket: one message a step.
  CHECK(dist_context->reduce_stats().steps == 20);
  CHECK(dist_context->reduce_stats().messages == 20);
  CHECK(dist_context->reduce_stats().bytes == 20 * 212 * 4);
}

TEST_CASE("bucket sizes change the messages, not the sums", "[dist][buckets]") {
  if (dist::size() != 2) return;  // exact equality across groupings holds for two summands
  const int64_t default_bytes = dist_context->settings().bucket_bytes;
  auto run = [](int64_t bucket_bytes) {
    dist_context->set_bucket_bytes(bucket_bytes);
    dist_context->reset_reduce_stats();
    auto net = dist_testing::mlp(7);
    nn::Trainer trainer(net.collect_params(), "adam", {{"learning_rate", 0.01}}, "dist_sync");
    nn::loss::SoftmaxCrossEntropyLoss loss;
    for (int step = 0; step < 5; ++step) train_step(net, trainer, loss, my_part(step));
    return std::make_pair(values_of(net.collect_params()), dist_context->reduce_stats().messages);
  };
  const auto one_bucket = run(default_bytes);
  const auto per_tensor = run(0);
  // The gradients, in order: 0.weight 128 floats, 0.bias 16, 1.weight 64, 1.bias 4.
  // 80 bytes = 20 floats: both weights in place, each bias packed alone (buckets hold neighbours only).
  const auto small = run(80);
  // 600 bytes = 150 floats: {0.weight, 0.bias} (144) and {1.weight, 1.bias} (68), both packed.
  const auto two = run(600);
  dist_context->set_bucket_bytes(default_bytes);
  CHECK(one_bucket.second == 5);
  CHECK(per_tensor.second == 5 * 4);
  CHECK(small.second == 5 * 4);
  CHECK(two.second == 5 * 2);
  // Two summands give the same sums in any grouping (with more, MPI may order them differently).
  CHECK(per_tensor.first == one_bucket.first);
  CHECK(small.first == one_bucket.first);
  CHECK(two.first == one_bucket.first);
}

TEST_CASE("the debug check names the rank whose parameters differ", "[dist][check]") {
  auto net = dist_testing::mlp(5);
  nn::Trainer trainer(net.collect_params(), "sgd", {{"learning_rate", 0.1}}, "dist_sync");
  nn::loss::SoftmaxCrossEntropyLoss loss;
  dist_context->set_check_parameters(true);
  train_step(net, trainer, loss, my_part(0));  // identical everywhere: passes
  if (dist::rank() == 1) {
    Tensor bias = net.collect_params()["1.bias"]->data().clone();
    bias.data()[0] += 1e-3f;
    net.collect_params()["1.bias"]->set_data(bias);
  }
  // The step number counts the checked steps of the whole run (other tests check too).
  CHECK_THROWS_WITH(train_step(net, trainer, loss, my_part(1)),
                    Catch::StartsWith("hybrid::dist: parameter check after dist_sync step ") &&
                        Catch::EndsWith(": the parameters of rank(s) 1 differ from rank 0's"));
  dist_context->set_check_parameters(false);
}

TEST_CASE("processes that step different parameters fail on every process, before any update", "[dist][check]") {
  auto net = dist_testing::mlp(5);
  const auto params = net.collect_params();
  nn::Trainer trainer(params, "sgd", {{"learning_rate", 0.1}}, "dist_sync");
  nn::loss::SoftmaxCrossEntropyLoss loss;
  Tensor l;
  {
    auto rec = hybrid::autograd::record();
    l = loss(net(my_part(0).first), my_part(0).second);
  }
  l.backward();
  // Rank 1 drops one fresh gradient, so with ignore_stale_grad it would step 3 parameters, the others 4.
  if (dist::rank() == 1) nn::detail::ParameterAccess::grad_meta(*params["1.bias"])->fresh = false;
  const auto before = values_of(params);
  CHECK_THROWS_MATCHES(trainer.step(32, /*ignore_stale_grad=*/true), Error,
                       Catch::Message("Trainer::step with kvstore 'dist_sync': rank(s) 1 step other gradients than "
                                      "rank 0 (another set of parameters, other shapes or another dtype), or changed "
                                      "other non-trainable parameters (running statistics: a forward pass in train "
                                      "mode on some processes only); every process must step the same parameters. "
                                      "Nothing was updated"));
  CHECK(values_of(params) == before);
}

TEST_CASE("a run resumed from a checkpoint equals the uninterrupted run", "[dist][checkpoint]") {
  const std::string prefix = "dist_test_checkpoint";
  nn::loss::SoftmaxCrossEntropyLoss loss;
  // Uninterrupted: 10 Adam steps, a checkpoint after the 5th.
  auto net = dist_testing::mlp(21);
  nn::Trainer trainer(net.collect_params(), "adam", {{"learning_rate", 0.01}}, "dist_sync");
  for (int step = 0; step < 10; ++step) {
    train_step(net, trainer, loss, my_part(step));
    if (step == 4) dist::save_checkpoint(net.collect_params(), trainer, prefix);
  }
  // Only rank 0 wrote, and no temporary file is left.
  CHECK(std::ifstream(prefix + ".params").good());
  CHECK(std::ifstream(prefix + ".states").good());
  CHECK_FALSE(std::ifstream(prefix + ".params.tmp").good());
  CHECK_FALSE(std::ifstream(prefix + ".states.tmp").good());

  // Resumed: another start, the checkpoint loaded on every rank, steps 5 to 9.
  auto resumed = dist_testing::mlp(99);
  nn::Trainer resumed_trainer(resumed.collect_params(), "adam", {{"learning_rate", 0.01}}, "dist_sync");
  dist::load_checkpoint(resumed.collect_params(), resumed_trainer, prefix);
  for (int step = 5; step < 10; ++step) train_step(resumed, resumed_trainer, loss, my_part(step));
  CHECK(values_of(resumed.collect_params()) == values_of(net.collect_params()));  // bit for bit

  SECTION("a missing checkpoint fails on every process") {
    CHECK_THROWS_WITH(dist::load_checkpoint(resumed.collect_params(), resumed_trainer, prefix + "_missing"),
                      Contains("hybrid::dist::load_checkpoint('dist_test_checkpoint_missing') failed on rank(s) 0"));
  }
  dist::barrier();
  if (dist::rank() == 0) {
    std::remove((prefix + ".params").c_str());
    std::remove((prefix + ".states").c_str());
  }
}

TEST_CASE("double parameters: the reducer's double path steps as one process with the whole batch",
          "[dist][equivalence]") {
  namespace hnn = hybrid::nn;
  auto make = [] {
    hnn::HybridSequentialT<double> net;
    net.add(hnn::DenseT<double>(6, "relu", true, dist_testing::kInputs),
            hnn::DenseT<double>(dist_testing::kClasses, "", true, 6));
    hybrid::random::seed(4);
    net.initialize(hnn::init::Xavier());
    return net;
  };
  auto to_double = [](const Batch& b) {
    const std::vector<float> x = b.first.to_vector(), y = b.second.to_vector();
    return std::make_pair(hybrid::from_vector<double>(std::vector<double>(x.begin(), x.end()), b.first.shape()),
                          hybrid::from_vector<double>(std::vector<double>(y.begin(), y.end()), b.second.shape()));
  };
  auto net = make(), reference = make();
  hnn::TrainerT<double> trainer(net.collect_params(), "adam", {{"learning_rate", 0.01}}, "dist_sync");
  hnn::TrainerT<double> reference_trainer(reference.collect_params(), "adam", {{"learning_rate", 0.01}});
  hnn::loss::SoftmaxCrossEntropyLossT<double> loss;
  auto step = [&](hnn::HybridSequentialT<double>& n, hnn::TrainerT<double>& t, const Batch& batch) {
    const auto b = to_double(batch);
    hybrid::TensorT<double> l;
    {
      auto rec = hybrid::autograd::record();
      l = loss(n(b.first), b.second);
    }
    l.backward();
    t.step(b.second.size());
  };
  for (int s = 0; s < 5; ++s) {
    step(net, trainer, my_part(s));
    step(reference, reference_trainer, dist_testing::batch(s, 0, 64));
  }
  const auto params = net.collect_params(), reference_params = reference.collect_params();
  auto want = reference_params.begin();
  for (auto got = params.begin(); got != params.end(); ++got, ++want) {
    const std::vector<double> a = (*got)->data().to_vector(), b = (*want)->data().to_vector();
    for (size_t j = 0; j < a.size(); ++j) CHECK(a[j] == Approx(b[j]).margin(1e-12));
  }
}

TEST_CASE("settings: the environment's values and bad ones by name", "[dist][settings]") {
  ::setenv("HYBRID_DIST_TIMEOUT", "7.5", 1);
  ::setenv("HYBRID_DIST_BUCKET_BYTES", "1024", 1);
  ::setenv("HYBRID_DIST_CHECK", "1", 1);
  const dist::Settings s = dist::Settings::from_environment();
  CHECK(s.timeout == 7.5);
  CHECK(s.bucket_bytes == 1024);
  CHECK(s.check_parameters);
  ::setenv("HYBRID_DIST_TIMEOUT", "soon", 1);
  CHECK_THROWS_MATCHES(dist::Settings::from_environment(), Error,
                       Catch::Message("hybrid::dist: HYBRID_DIST_TIMEOUT='soon' is not a non-negative number"));
  ::unsetenv("HYBRID_DIST_BUCKET_BYTES");
  ::unsetenv("HYBRID_DIST_CHECK");
  ::setenv("HYBRID_DIST_TIMEOUT", "20", 1);  // as CTest sets it
  CHECK_THROWS_MATCHES(dist_context->set_bucket_bytes(-1), Error,
                       Catch::Message("dist::Context: bucket_bytes must be >= 0, got -1"));
  CHECK_THROWS_WITH(dist_context->set_timeout(0), Contains("dist::Context: the timeout must be positive"));
  CHECK_THROWS_MATCHES(dist::Context(), Error,
                       Catch::Message("dist::Context: another dist::Context is alive; create one, in main"));
}
