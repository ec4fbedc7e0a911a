#pragma once
// The training loop shared by the Fashion-MNIST examples: command-line
// options, the data, one run per mode (eager, hybridized) with a progress
// bar on a terminal, a line per epoch and a CSV row per epoch
// (mode,model,epoch,loss,train_acc,test_acc,seconds,samples_per_s) that
// scripts/plot.sh draws.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <hybrid/data.hpp>
#include <hybrid/hybrid.hpp>
#include <string>
#include <utility>
#include <vector>

namespace fashion_mnist {

using namespace hybrid;

struct Options {
  std::string program;  // for messages
  std::string model, mode = "both", csv, root = data::vision::kFashionMNISTRoot;
  std::string optimizer = "sgd";
  int epochs = 5;
  int batch = 256;
  double lr = 0.1, momentum = 0.9;
  int64_t train_limit = 0;  // 0: the whole training set
};

/// Parses the common flags over `defaults`; `models` are the valid --model values.
inline Options parse(int argc, char** argv, Options o, const std::vector<std::string>& models) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw Error(o.program + ": " + arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--model") o.model = value();
    else if (arg == "--mode") o.mode = value();
    else if (arg == "--epochs") o.epochs = std::stoi(value());
    else if (arg == "--batch") o.batch = std::stoi(value());
    else if (arg == "--lr") o.lr = std::stod(value());
    else if (arg == "--momentum") o.momentum = std::stod(value());
    else if (arg == "--optimizer") o.optimizer = value();
    else if (arg == "--csv") o.csv = value();
    else if (arg == "--root") o.root = value();
    else if (arg == "--train-limit") o.train_limit = std::stoll(value());
    else throw Error(o.program + ": unknown argument '" + arg + "' (see the comment at the top of the source)");
  }
  bool known = false;
  std::string valid;
  for (const auto& m : models) {
    known = known || m == o.model;
    valid += (valid.empty() ? "" : " or ") + m;
  }
  if (!known) throw Error("--model is " + valid + ", not '" + o.model + "'");
  if (o.mode != "eager" && o.mode != "hybrid" && o.mode != "both")
    throw Error("--mode is eager, hybrid or both, not '" + o.mode + "'");
  return o;
}

/// Correct predictions among the rows of `logits`.
inline int64_t correct(const Tensor& logits, const Tensor& labels) {
  return static_cast<int64_t>(sum(equal(argmax(logits, 1), labels)).item());
}

inline double accuracy(nn::HybridBlock& net, data::DataLoader& loader) {
  int64_t right = 0, seen = 0;
  for (const auto& [x, y] : loader) {
    right += correct(net(x), y);
    seen += y.size();
  }
  return seen ? static_cast<double>(right) / static_cast<double>(seen) : 0.0;
}

inline void progress(int epoch, int64_t done, int64_t total, double loss) {
  constexpr int kWidth = 30;
  const int filled = total ? static_cast<int>(kWidth * done / total) : kWidth;
  std::printf("\r  epoch %d [%s%s] %lld/%lld  loss %.4f", epoch, std::string(static_cast<size_t>(filled), '#').c_str(),
              std::string(static_cast<size_t>(kWidth - filled), '.').c_str(), static_cast<long long>(done),
              static_cast<long long>(total), loss);
  std::fflush(stdout);
}

using NetFactory = std::function<std::shared_ptr<nn::HybridBlock>(const std::string& model)>;

/// Trains one model in one mode; appends one CSV row per epoch; returns the last test accuracy.
inline double run(const Options& o, const NetFactory& make_net, bool hybridized, const data::ArrayDataset& train,
                  const data::ArrayDataset& test, std::ofstream& csv) {
  random::seed(42);  // the same initial weights, batch order and dropout masks in both modes
  std::shared_ptr<nn::HybridBlock> net = make_net(o.model);
  nn::loss::SoftmaxCrossEntropyLoss loss;
  if (hybridized) {
    net->hybridize();
    loss.hybridize();
  }
  nn::Trainer trainer(net->collect_params(), o.optimizer,
                      o.optimizer == "sgd" ? optim::Options{{"learning_rate", o.lr}, {"momentum", o.momentum}}
                                           : optim::Options{{"learning_rate", o.lr}});
  data::DataLoader train_loader(train, o.batch, true);
  data::DataLoader test_loader(test, 1000);
  const bool tty = isatty(STDOUT_FILENO);
  const char* mode = hybridized ? "hybridized" : "eager";
  std::printf("%s %s (%lld parameters)\n", mode, o.model.c_str(), static_cast<long long>(net->collect_params().count()));
  double test_acc = 0;
  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    double loss_sum = 0;
    int64_t samples = 0, right = 0;
    for (const auto& [x, y] : train_loader) {
      Tensor l, logits;
      {
        auto rec = autograd::record();
        logits = (*net)(x);
        l = loss(logits, y);
      }
      l.backward();
      trainer.step(y.size());
      loss_sum += static_cast<double>(sum(l).item());
      right += correct(logits, y);
      samples += y.size();
      if (tty) progress(epoch, samples, static_cast<int64_t>(train.size()), loss_sum / static_cast<double>(samples));
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double train_acc = static_cast<double>(right) / static_cast<double>(samples);
    test_acc = accuracy(*net, test_loader);
    if (tty) std::printf("\r%80s\r", "");
    std::printf("  epoch %d  loss %.4f  train acc %.4f  test acc %.4f  %.2f s  %.0f samples/s\n", epoch,
                loss_sum / static_cast<double>(samples), train_acc, test_acc, seconds,
                static_cast<double>(samples) / seconds);
    std::fflush(stdout);
    csv << mode << ',' << o.model << ',' << epoch << ',' << loss_sum / static_cast<double>(samples) << ',' << train_acc
        << ',' << test_acc << ',' << seconds << ',' << static_cast<double>(samples) / seconds << '\n';
  }
  return test_acc;
}

/// The Fashion-MNIST training set (its first `o.train_limit` images when
/// set) and test set, from `o.root`.
inline std::pair<data::ArrayDataset, data::ArrayDataset> load(const Options& o) {
  data::vision::FashionMNIST train_set(o.root, true), test_set(o.root, false);
  Tensor features = train_set.features(), labels = train_set.labels();
  if (o.train_limit > 0 && o.train_limit < features.shape()[0]) {
    features = slice(features, 0, 0, o.train_limit);
    labels = slice(labels, 0, 0, o.train_limit);
  }
  return {data::ArrayDataset(features, labels), data::ArrayDataset(test_set.features(), test_set.labels())};
}

/// Loads the data, runs the modes `o.mode` asks for, writes the CSV; returns
/// the lowest final test accuracy of the runs.
inline double train_all(const Options& o, const NetFactory& make_net) {
  const auto [train, test] = load(o);
  std::printf("Fashion-MNIST: %lld training and %lld test images from %s\n", static_cast<long long>(train.size()),
              static_cast<long long>(test.size()), o.root.c_str());
  std::ofstream csv(o.csv);
  if (!csv) throw Error("cannot write " + o.csv);
  csv << "mode,model,epoch,loss,train_acc,test_acc,seconds,samples_per_s\n";
  double lowest = 1;
  for (bool hybridized : {false, true}) {
    if ((hybridized && o.mode == "eager") || (!hybridized && o.mode == "hybrid")) continue;
    lowest = std::min(lowest, run(o, make_net, hybridized, train, test, csv));
  }
  std::printf("curves written to %s (scripts/plot.sh %s draws them)\n", o.csv.c_str(), o.csv.c_str());
  return lowest;
}

}  // namespace fashion_mnist
