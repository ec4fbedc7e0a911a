// The chapter "Compilers and Interpreters" (Dive into Deep Learning), walked
// through in C++ with hybrid, section by section. Run it in a scratch
// directory: it writes my_mlp-symbol.json, my_mlp-0000.params and mlp.dot.
#include <hybrid/hybrid.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

using namespace hybrid;
namespace fs = std::filesystem;

static void section(const std::string& title) { std::cout << "\n=== " << title << " ===\n\n"; }

// ---- Imperative programming -------------------------------------------------
// The chapter's first program. Each line runs when it is reached, and e and f
// stay alive until the function returns.
Tensor add(const Tensor& a, const Tensor& b) { return a + b; }

Tensor fancy_func(const Tensor& a, const Tensor& b, const Tensor& c, const Tensor& d) {
  Tensor e = add(a, b);
  Tensor f = add(c, d);
  Tensor g = add(e, f);
  return g;
}

Tensor scalar(float v) { return full<float>({}, v); }  // a 0-d tensor

// ---- Hybridizing the Sequential class ---------------------------------------
// Factory for networks: 512 → 256 → 128 → 2 (input sizes inferred on the first call).
nn::HybridSequential get_net() {
  nn::HybridSequential net;
  net.add(nn::Dense(256, "relu"), nn::Dense(128, "relu"), nn::Dense(2));
  net.initialize();
  return net;
}

// ---- HybridNet: print statements inside forward -----------------------------
class HybridNet : public nn::HybridBlock {
 public:
  HybridNet() {
    hidden = register_block("hidden", nn::Dense(4));
    output = register_block("output", nn::Dense(2));
  }
  Tensor forward(const Tensor& x) override {
    std::cout << "  value  x: " << x << "\n";
    Tensor h = relu((*hidden)(x));
    std::cout << "  result  : " << h << "\n";
    return (*output)(h);
  }

 private:
  std::shared_ptr<nn::Dense> hidden, output;
};

// "164K"-style sizes, like ls -lh.
static std::string human_size(std::uintmax_t bytes) {
  char buf[32];
  if (bytes < 1024) std::snprintf(buf, sizeof buf, "%ju", bytes);
  else if (bytes < 10 * 1024) std::snprintf(buf, sizeof buf, "%.1fK", bytes / 1024.0);
  else if (bytes < 1024 * 1024) std::snprintf(buf, sizeof buf, "%.0fK", bytes / 1024.0);
  else std::snprintf(buf, sizeof buf, "%.1fM", bytes / (1024.0 * 1024.0));
  return buf;
}

int main() {
  random::seed(0);

  section("Imperative programming");
  // print(fancy_func(1, 2, 3, 4))
  std::cout << "fancy_func(1, 2, 3, 4) = " << fancy_func(scalar(1), scalar(2), scalar(3), scalar(4)).item() << "\n";

  section("Symbolic programming");
  // 1. Define the operations: run fancy_func once on symbols, recording a graph.
  // The function ignores its (unused) input; while tracing, full() records
  // constants.
  graph::Graph<float> g = trace::trace_graph<float>(
      [](const Tensor&) {
        Tensor a = scalar(1), b = scalar(2), c = scalar(3), d = scalar(4);  // in this order
        return fancy_func(a, b, c, d);
      },
      Shape{});
  std::cout << "The traced program, (1 + 2) + (3 + 4):\n"
            << graph::to_text(g);
  // 2. Compile: the optimizer sees the whole program, so it does the additions now.
  std::cout << "\nAfter optimization, the program is print(10) (the unused input stays in its signature):\n"
            << graph::to_text(passes::optimize(g, {}));

  // With the four values as inputs there is nothing to precompute: the three
  // adds remain, and fusion runs them as one kernel that reads each input once.
  graph::Graph<float> g4 = trace::trace_graph<float>(
      [](const std::vector<Tensor>& in) { return fancy_func(in[0], in[1], in[2], in[3]); },
      std::vector<Shape>{{}, {}, {}, {}});
  std::cout << "\nfancy_func(a, b, c, d) with four inputs:\n" << graph::to_text(g4);
  std::cout << "\n... optimized: nothing to fold, the three adds become one fused kernel:\n"
            << graph::to_text(passes::optimize(g4, {}));

  section("Hybridizing the Sequential class");
  Tensor x = random::normal<float>({1, 512});
  nn::HybridSequential net = get_net();
  net.summary(x);

  Tensor eager = net(x);  // imperative: each layer runs its operations in turn
  net.hybridize();
  Tensor hybridized = net(x);  // traced once, optimized, compiled, then run
  std::cout << "\nnet(x) eagerly:     " << eager << "\n";
  std::cout << "net(x) hybridized:  " << hybridized << "\n";
  std::cout << "same result (allclose): " << std::boolalpha << allclose(eager, hybridized) << "\n";

  // Each Dense became one fully_connected kernel with its bias and relu applied
  // in the same pass over the output.
  std::cout << "\nops of the compiled graph:";
  for (const std::string& op : net.graph_ops()) std::cout << " " << op;
  std::cout << "\n\n" << net.graph_text();

  section("Acceleration by hybridization");
  // The chapter's Benchmark prints "<description>: <seconds> sec" when its
  // scope ends. Each mode first gets one untimed call: the eager one sets the
  // deferred input sizes, the hybridized one traces and compiles.
  const int calls = 1000;
  double without_s = 0, with_s = 0;
  nn::HybridSequential bench_net = get_net();
  std::cout << "The MLP on x of shape " << x.shape() << ", " << calls << " calls of net(x):\n";
  bench_net(x);
  {
    Benchmark b("Without hybridization");
    for (int i = 0; i < calls; ++i) bench_net(x);
    without_s = b.elapsed();
  }
  bench_net.hybridize();
  {
    Benchmark b("First hybridized call (trace, optimize, compile, run)");
    bench_net(x);
  }
  {
    Benchmark b("With hybridization");
    for (int i = 0; i < calls; ++i) bench_net(x);
    with_s = b.elapsed();
  }
  std::printf("speed-up: %.2fx\n", without_s / with_s);
  // In C++ there is no interpreter to skip: the gain comes from the fused
  // kernels and from replays that allocate nothing but their output.
  std::cout << "(timings vary with the machine and its load; scripts/bench.sh measures with repetitions)\n";

  // Fusion pays most on a chain of elementwise ops over a large tensor: eagerly
  // each op is a pass over memory with a new buffer; hybridized, the chain is one
  // fused kernel that reads x once and writes its result once.
  nn::HybridLambda chain([](const Tensor& v) { return sigmoid(tanh(v * 1.01f + 0.5f) * v); });
  Tensor big = random::normal<float>({1 << 20});
  const int chain_calls = 100;
  double chain_eager_s = 0, chain_hybrid_s = 0;
  std::cout << "\nsigmoid(tanh(x * 1.01 + 0.5) * x) on 1M floats, " << chain_calls << " calls:\n";
  chain(big);
  {
    Benchmark b("Without hybridization");
    for (int i = 0; i < chain_calls; ++i) chain(big);
    chain_eager_s = b.elapsed();
  }
  chain.hybridize();
  chain(big);
  {
    Benchmark b("With hybridization");
    for (int i = 0; i < chain_calls; ++i) chain(big);
    chain_hybrid_s = b.elapsed();
  }
  std::printf("speed-up: %.2fx; the compiled graph is:", chain_eager_s / chain_hybrid_s);
  for (const std::string& op : chain.graph_ops()) std::cout << " " << op;
  std::cout << "\n";

  section("Serialization");
  // net.export('my_mlp'): the graph as JSON, the parameters as safetensors.
  net.export_model("my_mlp");
  std::cout << "$ ls -lh my_mlp*\n";
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(fs::current_path()))
    if (entry.path().filename().string().rfind("my_mlp", 0) == 0) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) std::printf("%6s  %s\n", human_size(fs::file_size(f)).c_str(), f.filename().c_str());

  std::cout << "\n$ head my_mlp-symbol.json\n";
  std::ifstream json("my_mlp-symbol.json");
  std::string line;
  for (int i = 0; i < 10 && std::getline(json, line); ++i) std::cout << line << "\n";

  // Load it back with none of the model's code: only the two files.
  auto imported = nn::SymbolBlock::imports("my_mlp-symbol.json", {"data"}, "my_mlp-0000.params");
  Tensor y = (*imported)(x);
  Tensor expected = net(x);
  const bool identical = y.shape() == expected.shape() &&
                         std::memcmp(y.data(), expected.data(), sizeof(float) * y.size()) == 0;
  std::cout << "\nimported(x):        " << y << "\n";
  std::cout << "bit-identical to net(x): " << identical << "\n";
  std::cout << "imported at batch 64 gives shape " << (*imported)(random::normal<float>({64, 512})).shape()
            << "\n";

  section("HybridNet with print inside forward");
  HybridNet hnet;
  hnet.initialize();
  Tensor x3 = random::normal<float>({1, 3});
  std::cout << "Eager call: forward runs, and its prints show values.\n";
  Tensor out = hnet(x3);
  std::cout << "  -> " << out << "\n";

  hnet.hybridize();
  std::cout << "\nFirst call after hybridize(): forward runs once on symbols to trace the graph,\n"
               "so its prints show symbols (name, shape, dtype), not values.\n";
  out = hnet(x3);
  std::cout << "  -> " << out << "\n";

  std::cout << "\nSecond call: the compiled graph is replayed without running forward,\n"
               "so the print statements are skipped.\n";
  out = hnet(x3);
  std::cout << "  -> " << out << "\n";

  section("The compiled graph as a picture");
  std::ofstream("mlp.dot") << net.graph_dot();
  std::cout << "wrote mlp.dot (the compiled MLP in Graphviz DOT)\n";
  if (std::system("command -v dot > /dev/null 2>&1") == 0 && std::system("dot -Tsvg mlp.dot -o mlp.svg") == 0)
    std::cout << "rendered mlp.svg with Graphviz\n";
  else
    std::cout << "render it with Graphviz (Debian package graphviz): dot -Tsvg mlp.dot -o mlp.svg\n";
  return 0;
}
