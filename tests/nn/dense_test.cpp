// Dense, Activation and HybridLambda: forward against naive loops, deferred
// initialization (eager and traced), activation names, errors.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>
#include <hybrid/trace/trace_function.hpp>

#include <cmath>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

using Catch::Contains;
using hybrid::Error;
using hybrid::Shape;
using hybrid::ShapeError;
using hybrid::TensorT;
namespace nn = hybrid::nn;

namespace {

double activate(const std::string& name, double v) {
  if (name == "relu") return v > 0 ? v : 0;
  if (name == "sigmoid") return 1 / (1 + std::exp(-v));
  if (name == "tanh") return std::tanh(v);
  if (name == "softrelu") return std::log1p(std::exp(v));
  return v;
}

/// act(x · Wᵀ + b) with x viewed as (shape[0], rest) — plain loops in double.
template <class T>
std::vector<double> naive_dense(const TensorT<T>& x, const TensorT<T>& w, const TensorT<T>* b,
                                const std::string& act) {
  const int64_t batch = x.shape()[0], in = x.size() / batch, units = w.shape()[0];
  REQUIRE(w.shape()[1] == in);
  const T* xv = x.data();
  const T* wv = w.data();
  std::vector<double> out(static_cast<size_t>(batch * units));
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t u = 0; u < units; ++u) {
      double acc = b ? static_cast<double>(b->data()[u]) : 0.0;
      for (int64_t k = 0; k < in; ++k) acc += static_cast<double>(xv[n * in + k]) * static_cast<double>(wv[u * in + k]);
      out[static_cast<size_t>(n * units + u)] = activate(act, acc);
    }
  return out;
}

template <class T>
void check_close(const TensorT<T>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == static_cast<int64_t>(want.size()));
  const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("element " << i);
    CHECK(static_cast<double>(got.data()[i]) == Approx(want[i]).epsilon(tol).margin(tol));
  }
}

}  // namespace

TEMPLATE_TEST_CASE("Dense: forward matches a naive loop for each activation, bias and input rank", "[nn][dense]",
                   float, double) {
  using T = TestType;
  hybrid::random::seed(7);
  const std::vector<std::string> activations{"", "relu", "sigmoid", "tanh", "softrelu"};
  const std::vector<Shape> inputs{Shape{5}, Shape{3, 7}, Shape{2, 3, 2, 2}};
  for (const auto& act : activations)
    for (bool use_bias : {true, false})
      for (const auto& in_shape : inputs) {
        INFO("activation '" << act << "', bias " << use_bias << ", input " << in_shape);
        nn::DenseT<T> dense(6, act, use_bias);
        dense.initialize(nn::init::Normal(0.5));
        const TensorT<T> x = hybrid::random::normal<T>(in_shape);
        const TensorT<T> y = dense(x);
        // Inputs of more than 2 dims are flattened; a 1-D input is a batch of scalars.
        const int64_t batch = in_shape[0];
        CHECK(y.shape() == Shape{batch, 6});
        CHECK(dense.in_units() == x.size() / batch);
        REQUIRE(dense.use_bias() == use_bias);
        if (use_bias) {
          // Biases start at zero; give them values so the test sees them.
          CHECK(dense.bias()->data().to_vector() == std::vector<T>(6, T(0)));
          dense.bias()->set_data(hybrid::random::normal<T>({6}));
        }
        const TensorT<T> bias = use_bias ? dense.bias()->data() : TensorT<T>();
        check_close(dense(x), naive_dense(x, dense.weight()->data(), use_bias ? &bias : nullptr, act));
      }
}

TEST_CASE("Dense: configuration, description and parameter shapes", "[nn][dense]") {
  nn::Dense d(256, "relu", true, 512);
  CHECK(d.units() == 256);
  CHECK(d.in_units() == 512);
  CHECK(d.activation() == "relu");
  CHECK(d.type_name() == "Dense");
  CHECK(d.describe() == "Dense(512 -> 256, relu)");
  CHECK(d.weight()->shape() == Shape{256, 512});
  CHECK(d.bias()->shape() == Shape{256});
  CHECK(nn::Dense(2).describe() == "Dense(? -> 2)");
  CHECK(nn::Dense(3, "", false).bias() == nullptr);
  CHECK(nn::Dense(3, "", false).collect_params().size() == 1);

  // Known in_units: initialize() creates the values immediately.
  d.initialize();
  CHECK(d.weight()->is_initialized());
  CHECK_THROWS_WITH(d(hybrid::zeros<float>({1, 100})),
                    Contains("Dense") && Contains("100 features") && Contains("'weight'") && Contains("512"));
  CHECK_THROWS_AS(d(hybrid::zeros<float>({1, 100})), ShapeError);
}

TEST_CASE("Dense: unknown activation names and bad sizes are refused at construction", "[nn][dense]") {
  CHECK_THROWS_AS(nn::Dense(4, "mish"), Error);
  // The valid names are the op table's activations.
  CHECK_THROWS_WITH(nn::Dense(4, "mish"), Contains("Dense") && Contains("unknown activation 'mish'") &&
                                              Contains("\"relu\"") && Contains("\"sigmoid\"") &&
                                              Contains("\"tanh\"") && Contains("\"softrelu\"") &&
                                              Contains("\"gelu\"") && Contains("\"silu\"") &&
                                              Contains("\"\" for none"));
  // Ops that are not activations are not accepted as one.
  CHECK_THROWS_WITH(nn::Dense(4, "exp"), Contains("unknown activation 'exp'"));
  CHECK_THROWS_WITH(nn::Dense(4, "Relu"), Contains("unknown activation 'Relu'"));
  CHECK_THROWS_WITH(nn::Activation("swish"), Contains("Activation") && Contains("unknown activation 'swish'"));
  CHECK_THROWS_WITH(nn::Activation(""), Contains("unknown activation ''"));
  CHECK_THROWS_WITH(nn::Dense(0), Contains("units must be positive"));
  CHECK_THROWS_WITH(nn::Dense(2, "", true, -1), Contains("in_units"));
}

TEMPLATE_TEST_CASE("Dense: deferred initialization learns in_units from the first input", "[nn][dense]", float,
                   double) {
  using T = TestType;
  nn::HybridSequentialT<T> net;
  net.add(nn::DenseT<T>(4, "relu"), nn::DenseT<T>(2));
  auto first = std::dynamic_pointer_cast<nn::DenseT<T>>(net[0]);
  REQUIRE(first);
  CHECK(first->weight()->shape() == Shape{4, 0});
  CHECK_THROWS_WITH(net(hybrid::ones<T>({1, 3})),
                    Contains("Parameter '0.weight' has not been initialized; call initialize() first"));
  CHECK(first->weight()->shape() == Shape{4, 0});  // a failed call infers nothing

  const TensorT<T> x = hybrid::random::normal<T>({2, 3});
  // Deferred values are drawn at the first forward, so nothing may draw in between.
  hybrid::random::seed(11);
  net.initialize();
  CHECK(first->weight()->is_deferred());
  CHECK_FALSE(first->weight()->is_initialized());
  CHECK(first->bias()->is_initialized());  // its shape is known from units alone
  CHECK_THROWS_WITH(first->weight()->data(), Contains("Parameter '0.weight'") && Contains("deferred"));

  const TensorT<T> y = net(x);
  CHECK(y.shape() == Shape{2, 2});
  CHECK(first->weight()->shape() == Shape{4, 3});
  CHECK(first->weight()->is_initialized());
  CHECK(first->in_units() == 3);
  CHECK(std::dynamic_pointer_cast<nn::DenseT<T>>(net[1])->weight()->shape() == Shape{2, 4});
  // Deferred values come from the initializer given to initialize().
  for (T v : first->weight()->data().to_vector()) CHECK(std::abs(static_cast<double>(v)) <= 0.07);

  // The shape is now fixed.
  CHECK_THROWS_AS(net(hybrid::ones<T>({2, 5})), ShapeError);
  CHECK_THROWS_WITH(net(hybrid::ones<T>({2, 5})), Contains("5 features") && Contains("0.weight"));

  // Same seed, same values: deferred initialization is deterministic.
  nn::HybridSequentialT<T> again;
  again.add(nn::DenseT<T>(4, "relu"), nn::DenseT<T>(2));
  hybrid::random::seed(11);
  again.initialize();
  again(x);
  const auto a = net.collect_params(), b = again.collect_params();
  for (auto it = a.begin(), jt = b.begin(); it != a.end(); ++it, ++jt)
    CHECK((*it)->data().to_vector() == (*jt)->data().to_vector());
  CHECK(hybrid::allclose(again(x), y, 0, 0));
}

TEST_CASE("Dense: deferred initialization inside a trace; parameters become graph variables", "[nn][dense]") {
  nn::Dense dense(3, "tanh");
  dense.initialize();
  std::unordered_map<const void*, std::string> names;
  for (const auto& p : dense.collect_params()) names[p.get()] = p->name();

  const auto graph = hybrid::trace::trace_graph<float>(
      [&](const std::vector<hybrid::Tensor>& in) {
        const hybrid::Tensor y = dense(in[0]);  // infers in_units = 5 from the symbol's shape
        const hybrid::Tensor w = dense.weight()->data();
        CHECK(w.is_traced());
        CHECK(w.shape() == Shape{3, 5});
        // data() stays the same variable node within one trace.
        CHECK(hybrid::detail::TensorAccess::node(w) ==
              hybrid::detail::TensorAccess::node(dense.weight()->data()));
        return y;
      },
      std::vector<Shape>{Shape{2, 5}}, names);

  // The value was created eagerly (not as a graph constant) before the symbol was read.
  CHECK(dense.weight()->shape() == Shape{3, 5});
  CHECK(dense.weight()->is_initialized());
  CHECK_FALSE(dense.weight()->data().is_traced());
  CHECK(dense.weight()->eager_data().size() == 15);
  std::vector<std::string> variables;
  for (const auto& n : graph.nodes)
    if (n.op == hybrid::OpCode::variable) variables.push_back(n.name);
  CHECK(variables == std::vector<std::string>{"data", "weight", "bias"});
  // fully_connected and tanh stay separate ops for the fusion pass.
  std::vector<hybrid::OpCode> ops;
  for (const auto& n : graph.nodes)
    if (n.op != hybrid::OpCode::variable) ops.push_back(n.op);
  CHECK(ops == std::vector<hybrid::OpCode>{hybrid::OpCode::fully_connected, hybrid::OpCode::tanh});

  // A parameter the trace does not know is refused.
  nn::Dense stranger(2, "", true, 5);
  stranger.initialize();
  CHECK_THROWS_AS(hybrid::trace::trace_graph<float>([&](const hybrid::Tensor& x) { return stranger(x); }, Shape{1, 5}),
                  hybrid::TraceError);
}

TEMPLATE_TEST_CASE("Activation and HybridLambda layers", "[nn][dense]", float, double) {
  using T = TestType;
  const TensorT<T> x = hybrid::from_vector<T>({-2, -0.5, 0, 0.5, 3}, {5});
  for (const std::string name : {"relu", "sigmoid", "tanh", "softrelu"}) {
    nn::ActivationT<T> act(name);
    CHECK(act.describe() == "Activation(" + name + ")");
    CHECK(act.collect_params().size() == 0);
    std::vector<double> want;
    for (T v : x.to_vector()) want.push_back(activate(name, static_cast<double>(v)));
    check_close(act(x), want);
  }
  nn::HybridLambdaT<T> twice([](const TensorT<T>& t) { return t * T(2); }, "twice");
  CHECK(twice.describe() == "HybridLambda(twice)");
  CHECK(twice.is_hybrid());
  check_close(twice(x), {-4, -1, 0, 1, 6});
  CHECK_THROWS_WITH(nn::HybridLambdaT<T>(nullptr), Contains("HybridLambda"));
}

TEST_CASE("Dense: gelu and silu activations run as the fully_connected epilogue", "[nn][dense]") {
  for (const char* act : {"gelu", "silu"}) {
    INFO(act);
    nn::HybridSequential net;
    net.add(nn::Dense(8, act), nn::Dense(3));
    net.initialize(nn::init::Xavier());
    const hybrid::Tensor x = hybrid::random::normal<float>({4, 5});
    const hybrid::Tensor eager = net(x);
    net.hybridize();
    const hybrid::Tensor y = net(x);
    CHECK(hybrid::allclose(y, eager, 1e-5, 1e-6));
    CHECK(net.graph_ops() == std::vector<std::string>{"fully_connected", "fully_connected"});
    CHECK_THAT(net.graph_text(), Contains(std::string("fully_connected+") + act));
  }
}
