// Data-parallel training on Fashion-MNIST with MPI: every process holds the
// model, reads its own part of each epoch and the gradients are averaged
// over all processes before each update (kvstore "dist_sync").
//
//   mpirun -np 2 ./build/examples/train_distributed [--model mlp|lenet] [--mode eager|hybrid]
//       [--epochs 5] [--batch 128] [--optimizer sgd|adam|adamw] [--lr 0.1] [--momentum 0.9]
//       [--root /usr/share/datasets/fashion-mnist] [--train-limit N]
//       [--checkpoint PREFIX] [--bench STEPS] [--bucket-bytes B] [--overlap]
//   mpirun -np 2 ./build/examples/train_distributed --bench-allreduce
//
// --batch is the batch of one process; p processes together train on
// batches of p * batch. Rank 0 prints the progress. --checkpoint PREFIX
// saves PREFIX.params and PREFIX.states after every epoch and resumes from
// them when they exist. --bench STEPS skips the test set and times STEPS
// steps (after 5 warm-up steps): samples/s over all processes and the time
// spent summing gradients (docs/distributed.md). --bench-allreduce times
// dist::allreduce alone on 4 B to 64 MiB, for the cost model's latency and
// bandwidth. --overlap starts each bucket's allreduce during backward
// (dist::Settings::overlap_backward). Several hosts: README.md,
// "Training on several processes".
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <hybrid/dist.hpp>

#include "fashion_mnist_training.hpp"

using namespace hybrid;

namespace {

struct Extra {
  bool bench_allreduce = false;
  bool overlap = false;
  std::string checkpoint;
  int bench_steps = 0;
  int64_t bucket_bytes = -1;
};

/// Takes this program's own flags out of argv; the rest go to fashion_mnist::parse.
std::vector<char*> take_extra(int argc, char** argv, Extra& extra) {
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--bench-allreduce" || arg == "--overlap") {
      (arg == "--overlap" ? extra.overlap : extra.bench_allreduce) = true;
      continue;
    }
    const bool ours = arg == "--checkpoint" || arg == "--bench" || arg == "--bucket-bytes";
    if (!ours) {
      rest.push_back(argv[i]);
      continue;
    }
    if (i + 1 >= argc) throw Error("train_distributed: " + arg + " needs a value");
    const std::string value = argv[++i];
    if (arg == "--checkpoint") extra.checkpoint = value;
    else if (arg == "--bench") extra.bench_steps = std::stoi(value);
    else extra.bucket_bytes = std::stoll(value);
  }
  return rest;
}

std::shared_ptr<nn::HybridSequential> make_net(const std::string& model) {
  auto net = std::make_shared<nn::HybridSequential>();
  if (model == "mlp") {
    net->add(nn::Dense(256, "relu", true, 784), nn::Dense(10, "", true, 256));
    net->initialize(nn::init::Normal(0.01));  // d2l's initialization
  } else {
    net->add(nn::Conv2D(6, 5, 1, 2, 1, 1, "relu"), nn::MaxPool2D(2, 2), nn::Conv2D(16, 5, 1, 0, 1, 1, "relu"),
             nn::MaxPool2D(2, 2), nn::Dense(120, "relu"), nn::Dense(84, "relu"), nn::Dense(10));
    net->initialize(nn::init::Xavier());
    (void)(*net)(zeros<float>({1, 1, 28, 28}));  // infers the deferred shapes before the broadcast
  }
  return net;
}

bool exists(const std::string& path) { return std::ifstream(path).good(); }

/// The time of one allreduce of n floats: the median of repeated runs.
void bench_allreduce() {
  const int rank = dist::rank();
  if (rank == 0) std::printf("allreduce over %d processes: bytes, median us, GB/s of algorithm bandwidth\n", dist::size());
  for (int64_t bytes = 4; bytes <= (int64_t{64} << 20); bytes *= 4) {
    Tensor t = zeros<float>({bytes / 4});
    const int reps = bytes <= (int64_t{1} << 20) ? 200 : 20;
    std::vector<double> us;
    for (int r = 0; r < reps + 5; ++r) {
      dist::barrier();
      const auto start = std::chrono::steady_clock::now();
      dist::detail::allreduce_values(t.data(), t.size(), "bench");
      const double took = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
      if (r >= 5) us.push_back(took);
    }
    std::sort(us.begin(), us.end());
    const double median = us[us.size() / 2];
    if (rank == 0)
      std::printf("%10lld  %10.1f  %6.2f\n", static_cast<long long>(bytes), median,
                  static_cast<double>(bytes) / median / 1e3);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Outside the try: an exception escaping main ends the whole job (the
  // Context's terminate handler), rather than leaving the others waiting.
  dist::Context ctx(argc, argv);
  const int rank = dist::rank(), procs = dist::size();
  Extra extra;
  std::vector<char*> rest = take_extra(argc, argv, extra);
  fashion_mnist::Options defaults;
  defaults.program = "train_distributed";
  defaults.model = "mlp";
  defaults.mode = "hybrid";
  defaults.batch = 128;
  const fashion_mnist::Options o =
      fashion_mnist::parse(static_cast<int>(rest.size()), rest.data(), defaults, {"mlp", "lenet"});
  if (extra.bench_allreduce) {
    bench_allreduce();
    return 0;
  }
  if (o.mode == "both") throw Error("train_distributed: --mode is eager or hybrid");
  if (extra.bucket_bytes >= 0) ctx.set_bucket_bytes(extra.bucket_bytes);
  if (extra.overlap) ctx.set_overlap_backward(true);

  const auto [train, test] = fashion_mnist::load(o);

  random::seed(42);
  std::shared_ptr<nn::HybridSequential> net = make_net(o.model);
  dist::broadcast_parameters(net->collect_params());  // the same start everywhere
  nn::loss::SoftmaxCrossEntropyLoss loss;
  if (o.mode == "hybrid") {
    net->hybridize();
    loss.hybridize();
  }
  const optim::Options options = o.optimizer == "sgd"
                                     ? optim::Options{{"learning_rate", o.lr}, {"momentum", o.momentum}}
                                     : optim::Options{{"learning_rate", o.lr}};
  // One process trains alone: the plain kvstore, so a 1-process run is the baseline.
  nn::Trainer trainer(net->collect_params(), o.optimizer, options, procs > 1 ? "dist_sync" : "device");
  // Each rank reads its part of every epoch; the shuffle seed is the epoch, on every rank.
  data::DataLoader loader(train, o.batch, true, "discard", procs, rank);
  if (rank == 0)
    std::printf("%d process(es), %d thread(s) each: %s %s, batch %d per process (%d in all), %lld training images\n",
                procs, get_num_threads(), o.mode.c_str(), o.model.c_str(), o.batch, o.batch * procs,
                static_cast<long long>(train.size()));

  auto one_step = [&](const Tensor& x, const Tensor& y, double& loss_sum) {
    Tensor l;
    {
      auto rec = autograd::record();
      l = loss((*net)(x), y);
    }
    l.backward();
    trainer.step(y.size());
    loss_sum += static_cast<double>(sum(l).item());
  };

  if (extra.bench_steps > 0) {
    random::seed(1);
    auto it = loader.begin();
    double loss_sum = 0;
    using clock = std::chrono::steady_clock;
    clock::time_point start;
    const int warmup = 5;
    for (int step = 0; step < warmup + extra.bench_steps; ++step) {
      if (it == loader.end()) it = loader.begin();
      if (step == warmup) {
        dist::barrier();
        ctx.reset_reduce_stats();
        start = clock::now();
      }
      one_step(it->first, it->second, loss_sum);
      ++it;
    }
    if (procs > 1) dist::barrier();
    const double seconds = std::chrono::duration<double>(clock::now() - start).count();
    const dist::ReduceStats& s = ctx.reduce_stats();
    if (rank == 0) {
      const double per_step_ms = 1e3 * seconds / extra.bench_steps;
      const double reduce_ms = s.steps ? 1e3 * s.seconds / static_cast<double>(s.steps) : 0.0;
      const double sync_ms = s.steps ? 1e3 * s.sync_seconds / static_cast<double>(s.steps) : 0.0;
      std::printf("bench: %d steps, %.3f ms/step, %.0f samples/s; in the gradient exchange %.3f ms/step (%.1f%%): "
                  "waiting for the slower rank %.3f ms, transfer %.3f ms (%.1f%%); %lld messages/step "
                  "(%lld started during backward), %lld bytes/step\n",
                  extra.bench_steps, per_step_ms,
                  static_cast<double>(extra.bench_steps) * o.batch * procs / seconds, reduce_ms,
                  per_step_ms > 0 ? 100.0 * reduce_ms / per_step_ms : 0.0, sync_ms, reduce_ms - sync_ms,
                  per_step_ms > 0 ? 100.0 * (reduce_ms - sync_ms) / per_step_ms : 0.0,
                  static_cast<long long>(s.steps ? s.messages / s.steps : 0),
                  static_cast<long long>(s.steps ? s.early_messages / s.steps : 0),
                  static_cast<long long>(s.steps ? s.bytes / s.steps : 0));
    }
    return 0;
  }

  int first_epoch = 1;
  const std::string progress_file = extra.checkpoint + ".epoch";
  if (!extra.checkpoint.empty() && exists(extra.checkpoint + ".params")) {
    dist::load_checkpoint(net->collect_params(), trainer, extra.checkpoint);
    std::ifstream(progress_file) >> first_epoch;
    ++first_epoch;
    if (rank == 0) std::printf("resumed from %s after epoch %d\n", extra.checkpoint.c_str(), first_epoch - 1);
  }
  data::DataLoader test_loader(test, 1000, false, "keep", procs, rank);
  for (int epoch = first_epoch; epoch <= o.epochs; ++epoch) {
    random::seed(1000 + static_cast<uint64_t>(epoch));  // the epoch's order, the same on every rank
    const auto start = std::chrono::steady_clock::now();
    double loss_sum = 0;
    int64_t samples = 0;
    for (const auto& [x, y] : loader) {
      one_step(x, y, loss_sum);
      samples += y.size();
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // Loss and test accuracy over all processes' parts.
    int64_t right = 0, seen = 0;
    for (const auto& [x, y] : test_loader) {
      right += fashion_mnist::correct((*net)(x), y);
      seen += y.size();
    }
    Tensor totals = from_vector<float>({static_cast<float>(loss_sum), static_cast<float>(samples),
                                        static_cast<float>(right), static_cast<float>(seen)},
                                       {4});
    dist::allreduce(totals);
    if (!extra.checkpoint.empty()) {
      dist::save_checkpoint(net->collect_params(), trainer, extra.checkpoint);
      if (rank == 0) {  // through a temporary file too, so a crash leaves the old count or the new
        { std::ofstream(progress_file + ".tmp") << epoch << '\n'; }
        if (std::rename((progress_file + ".tmp").c_str(), progress_file.c_str()) != 0)
          throw Error("train_distributed: cannot write " + progress_file);
      }
    }
    if (rank == 0) {
      std::printf("epoch %d  loss %.4f  test acc %.4f  %.2f s  %.0f samples/s\n", epoch,
                  totals.at({0}) / totals.at({1}), totals.at({2}) / totals.at({3}), seconds,
                  static_cast<double>(totals.at({1})) / seconds);
      std::fflush(stdout);
    }
  }
  return 0;
}
