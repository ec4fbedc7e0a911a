// Trains d2l's multilayer perceptrons on Fashion-MNIST, eagerly and
// hybridized, and writes the learning curves as CSV.
//
//   train_fashion_mnist [--model mlp|deep] [--mode eager|hybrid|both] [--epochs 5]
//                       [--batch 256] [--lr 0.1] [--momentum 0.9] [--csv fashion_mnist.csv]
//                       [--root /usr/share/datasets/fashion-mnist] [--train-limit N]
//
// mlp is 784 → 256 → 10 with ReLU (d2l's "concise implementation of
// multilayer perceptrons"), deep is 784 → 256 → 128 → 10. scripts/plot.sh
// turns the CSV into an SVG.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <hybrid/data.hpp>
#include <hybrid/hybrid.hpp>
#include <string>

using namespace hybrid;

namespace {

struct Options {
  std::string model = "mlp", mode = "both", csv = "fashion_mnist.csv", root = data::vision::kFashionMNISTRoot;
  int epochs = 5;
  int batch = 256;
  double lr = 0.1, momentum = 0.9;
  int64_t train_limit = 0;  // 0: the whole training set
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw Error("train_fashion_mnist: " + arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--model") o.model = value();
    else if (arg == "--mode") o.mode = value();
    else if (arg == "--epochs") o.epochs = std::stoi(value());
    else if (arg == "--batch") o.batch = std::stoi(value());
    else if (arg == "--lr") o.lr = std::stod(value());
    else if (arg == "--momentum") o.momentum = std::stod(value());
    else if (arg == "--csv") o.csv = value();
    else if (arg == "--root") o.root = value();
    else if (arg == "--train-limit") o.train_limit = std::stoll(value());
    else throw Error("train_fashion_mnist: unknown argument '" + arg + "' (see the comment at the top of the source)");
  }
  if (o.model != "mlp" && o.model != "deep") throw Error("--model is mlp or deep, not '" + o.model + "'");
  if (o.mode != "eager" && o.mode != "hybrid" && o.mode != "both")
    throw Error("--mode is eager, hybrid or both, not '" + o.mode + "'");
  return o;
}

nn::HybridSequential make_net(const std::string& model) {
  nn::HybridSequential net;
  if (model == "mlp") {
    net.add(nn::Dense(256, "relu", true, 784), nn::Dense(10, "", true, 256));
  } else {
    net.add(nn::Dense(256, "relu", true, 784), nn::Dense(128, "relu", true, 256), nn::Dense(10, "", true, 128));
  }
  net.initialize(nn::init::Normal(0.01));  // d2l's initialization
  return net;
}

/// Correct predictions among the rows of `logits`.
int64_t correct(const Tensor& logits, const Tensor& labels) { return static_cast<int64_t>(sum(equal(argmax(logits, 1), labels)).item()); }

double accuracy(nn::HybridSequential& net, data::DataLoader& loader) {
  int64_t right = 0, seen = 0;
  for (const auto& [x, y] : loader) {
    right += correct(net(x), y);
    seen += y.size();
  }
  return seen ? static_cast<double>(right) / static_cast<double>(seen) : 0.0;
}

void progress(int epoch, int64_t done, int64_t total, double loss) {
  constexpr int kWidth = 30;
  const int filled = total ? static_cast<int>(kWidth * done / total) : kWidth;
  std::printf("\r  epoch %d [%s%s] %lld/%lld  loss %.4f", epoch, std::string(static_cast<size_t>(filled), '#').c_str(),
              std::string(static_cast<size_t>(kWidth - filled), '.').c_str(), static_cast<long long>(done),
              static_cast<long long>(total), loss);
  std::fflush(stdout);
}

/// Trains one model; appends one CSV row per epoch; returns the last test accuracy.
double run(const Options& o, bool hybridized, const data::ArrayDataset& train, const data::ArrayDataset& test,
           std::ofstream& csv) {
  random::seed(42);  // the same initial weights and batch order in both modes
  nn::HybridSequential net = make_net(o.model);
  nn::loss::SoftmaxCrossEntropyLoss loss;
  if (hybridized) {
    net.hybridize();
    loss.hybridize();
  }
  nn::Trainer trainer(net.collect_params(), "sgd", {{"learning_rate", o.lr}, {"momentum", o.momentum}});
  data::DataLoader train_loader(train, o.batch, true);
  data::DataLoader test_loader(test, 1024);
  const bool tty = isatty(STDOUT_FILENO);
  const char* mode = hybridized ? "hybridized" : "eager";
  std::printf("%s %s (%lld parameters)\n", mode, o.model.c_str(), static_cast<long long>(net.collect_params().count()));
  double test_acc = 0;
  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    double loss_sum = 0;
    int64_t samples = 0, right = 0;
    for (const auto& [x, y] : train_loader) {
      Tensor l, logits;
      {
        auto rec = autograd::record();
        logits = net(x);
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
    test_acc = accuracy(net, test_loader);
    if (tty) std::printf("\r%80s\r", "");
    std::printf("  epoch %d  loss %.4f  train acc %.4f  test acc %.4f  %.2f s  %.0f samples/s\n", epoch,
                loss_sum / static_cast<double>(samples), train_acc, test_acc, seconds,
                static_cast<double>(samples) / seconds);
    csv << mode << ',' << o.model << ',' << epoch << ',' << loss_sum / static_cast<double>(samples) << ',' << train_acc
        << ',' << test_acc << ',' << seconds << ',' << static_cast<double>(samples) / seconds << '\n';
  }
  return test_acc;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    data::vision::FashionMNIST train_set(o.root, true), test_set(o.root, false);
    Tensor features = train_set.features(), labels = train_set.labels();
    if (o.train_limit > 0 && o.train_limit < features.shape()[0]) {
      features = slice(features, 0, 0, o.train_limit);
      labels = slice(labels, 0, 0, o.train_limit);
    }
    const data::ArrayDataset train(features, labels), test(test_set.features(), test_set.labels());
    std::printf("Fashion-MNIST: %lld training and %lld test images from %s\n", static_cast<long long>(train.size()),
                static_cast<long long>(test.size()), o.root.c_str());
    std::ofstream csv(o.csv);
    if (!csv) throw Error("cannot write " + o.csv);
    csv << "mode,model,epoch,loss,train_acc,test_acc,seconds,samples_per_s\n";
    bool ok = true;
    for (bool hybridized : {false, true}) {
      if ((hybridized && o.mode == "eager") || (!hybridized && o.mode == "hybrid")) continue;
      const double acc = run(o, hybridized, train, test, csv);
      ok = ok && acc >= 0.85;
    }
    std::printf("curves written to %s (scripts/plot.sh %s draws them)\n", o.csv.c_str(), o.csv.c_str());
    if (!ok && o.train_limit == 0 && o.epochs >= 5) std::printf("test accuracy below 85%%\n");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_fashion_mnist: %s\n", e.what());
    return 1;
  }
}
