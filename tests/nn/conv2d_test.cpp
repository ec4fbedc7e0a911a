// The Conv2D layer: configuration and description, construction errors,
// deferred in_channels, hybridized against eager (forward and training), and
// export + import of a small convolutional net.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "../allocation_counter.hpp"
#include "../support/files.hpp"

using namespace hybrid;
using Catch::Contains;

namespace {

/// LeNet's convolutional part at a small size: conv, conv with a stride, a
/// depthwise conv, then Dense (which flattens).
template <class T>
nn::HybridSequentialT<T> small_conv_net() {
  nn::HybridSequentialT<T> net;
  net.add(nn::Conv2DT<T>(4, 3, 1, 1, 1, 1, "relu"), nn::Conv2DT<T>(6, {3, 2}, {2, 1}, {0, 1}, 1, 2, "tanh"),
          nn::Conv2DT<T>(6, 3, 1, 1, 2, 6, "", false), nn::DenseT<T>(3));
  return net;
}

template <class T>
void seed_params(const nn::ParameterDictT<T>& params) {
  random::seed(7);
  for (const auto& p : params) p->set_data(random::normal<T>(p->shape(), T(0), T(0.3)));
}

/// 5 SGD steps of the small net + softmax cross-entropy; returns the parameters.
template <class T>
std::vector<std::vector<T>> train(bool hybridized, const TensorT<T>& x, const TensorT<T>& labels) {
  nn::HybridSequentialT<T> net = small_conv_net<T>();
  net.initialize();
  (void)net(x);  // infer shapes
  seed_params(net.collect_params());
  nn::loss::SoftmaxCrossEntropyLossT<T> loss;
  if (hybridized) {
    net.hybridize();
    loss.hybridize();
  }
  const auto params = net.collect_params();
  for (int step = 0; step < 5; ++step) {
    TensorT<T> l;
    {
      auto rec = autograd::record();
      l = loss(net(x), labels);
    }
    l.backward();
    for (const auto& p : params) p->set_data(p->data() - p->grad() * T(0.1) / T(x.shape()[0]));
  }
  std::vector<std::vector<T>> values;
  for (const auto& p : params) values.push_back(p->data().to_vector());
  return values;
}

}  // namespace

TEST_CASE("Conv2D: configuration, description and parameter shapes", "[nn][conv]") {
  nn::Conv2D c(6, 5, 1, 2, 1, 1, "relu", true, 1);
  CHECK(c.channels() == 6);
  CHECK(c.in_channels() == 1);
  CHECK(c.type_name() == "Conv2D");
  CHECK(c.describe() == "Conv2D(1 -> 6, kernel 5x5, padding 2, relu)");
  CHECK(c.weight()->shape() == Shape{6, 1, 5, 5});
  CHECK(c.bias()->shape() == Shape{6});
  nn::Conv2D g(8, {3, 1}, {2, 1}, {1, 0}, 2, 4, "", false);
  CHECK(g.describe() == "Conv2D(? -> 8, kernel 3x1, stride 2x1, padding 1x0, dilation 2, groups 4)");
  CHECK(g.bias() == nullptr);
  CHECK(g.collect_params().size() == 1);
  CHECK(g.weight()->shape() == Shape{8, 0, 3, 1});
  CHECK(g.kernel_size().h == 3);
  CHECK(g.strides().w == 1);

  CHECK_THROWS_WITH(nn::Conv2D(0, 3), Contains("Conv2D: channels must be positive"));
  CHECK_THROWS_WITH(nn::Conv2D(4, {3, 0}), Contains("Conv2D: kernel_size must be positive, got 3, 0"));
  CHECK_THROWS_WITH(nn::Conv2D(4, 3, 0), Contains("strides must be positive"));
  CHECK_THROWS_WITH(nn::Conv2D(4, 3, 1, -1), Contains("padding must be >= 0"));
  CHECK_THROWS_WITH(nn::Conv2D(4, 3, 1, 0, {1, 0}), Contains("dilation must be positive"));
  CHECK_THROWS_WITH(nn::Conv2D(4, 3, 1, 0, 1, 3), Contains("groups must be positive and divide channels 4, got 3"));
  CHECK_THROWS_WITH(nn::Conv2D(4, 3, 1, 0, 1, 2, "", true, 3), Contains("in_channels"));
  CHECK_THROWS_WITH(nn::Conv2D(4, 3, 1, 0, 1, 1, "mish"), Contains("Conv2D: unknown activation 'mish'"));

  c.initialize();
  CHECK_THROWS_AS(c(zeros<float>({1, 3, 28, 28})), ShapeError);
  CHECK_THROWS_WITH(c(zeros<float>({1, 3, 28, 28})),
                    Contains("Conv2D") && Contains("3 channels") && Contains("'weight'") && Contains("expects 1"));
  CHECK_THROWS_WITH(c(zeros<float>({1, 28, 28})), Contains("needs an input (N, C, H, W), got shape (1, 28, 28)"));
  CHECK_THROWS_WITH(c(zeros<float>({1, 1, 0, 0})), Contains("conv2d") && Contains("larger than the padded input"));
}

TEMPLATE_TEST_CASE("Conv2D: deferred initialization learns in_channels from the first input", "[nn][conv]", float,
                   double) {
  using T = TestType;
  nn::Conv2DT<T> conv(4, 3, 1, 1, 1, 2);
  CHECK(conv.in_channels() == 0);
  CHECK(conv.describe() == "Conv2D(? -> 4, kernel 3x3, padding 1, groups 2)");
  conv.initialize();
  CHECK(conv.weight()->is_deferred());
  CHECK(conv.bias()->is_initialized());
  for (T v : conv.bias()->data().to_vector()) CHECK(v == T(0));  // Gluon's zero bias
  CHECK_THROWS_WITH(conv(zeros<T>({1, 3, 5, 5})), Contains("3 channels, which do not divide into 2 groups"));
  const TensorT<T> y = conv(random::normal<T>({2, 6, 5, 5}));
  CHECK(y.shape() == Shape{2, 4, 5, 5});
  CHECK(conv.weight()->shape() == Shape{4, 3, 3, 3});
  CHECK(conv.in_channels() == 6);
  CHECK(conv.describe() == "Conv2D(6 -> 4, kernel 3x3, padding 1, groups 2)");
  CHECK_THROWS_WITH(conv(zeros<T>({1, 4, 5, 5})), Contains("4 channels but weight"));

  // Inside a trace too: a hybridized first call infers the shape.
  nn::Conv2DT<T> traced(2, 1);
  traced.initialize();
  traced.hybridize();
  CHECK(traced(random::normal<T>({1, 5, 3, 3})).shape() == Shape{1, 2, 3, 3});
  CHECK(traced.weight()->shape() == Shape{2, 5, 1, 1});
}

TEMPLATE_TEST_CASE("Conv2D: hybridized equals eager; the activation runs as the conv2d epilogue", "[nn][conv]", float,
                   double) {
  using T = TestType;
  nn::HybridSequentialT<T> net = small_conv_net<T>();
  net.initialize();
  random::seed(5);
  const TensorT<T> x = random::normal<T>({3, 2, 7, 6});
  const TensorT<T> eager = net(x);
  CHECK(eager.shape() == Shape{3, 3});
  net.hybridize();
  const TensorT<T> once = net(x), again = net(x);
  const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  CHECK(allclose(once, eager, tol, tol));
  CHECK(allclose(again, eager, tol, tol));
  CHECK(net.graph_ops() == std::vector<std::string>{"conv2d", "conv2d", "conv2d", "fully_connected"});
  CHECK_THAT(net.graph_dot(), Contains("conv2d+relu") && Contains("conv2d+tanh"));
  // Another batch size: a new trace, the same results as eager.
  const TensorT<T> x5 = random::normal<T>({5, 2, 7, 6});
  net.hybridize(false);
  const TensorT<T> eager5 = net(x5);
  net.hybridize();
  CHECK(allclose(net(x5), eager5, tol, tol));
}

TEMPLATE_TEST_CASE("Conv2D: a hybridized training step equals the eager one", "[nn][conv]", float, double) {
  using T = TestType;
  random::seed(3);
  const TensorT<T> x = random::normal<T>({4, 2, 7, 6});
  const TensorT<T> labels = from_vector<T>({0, 2, 1, 2}, {4});
  const auto eager = train<T>(false, x, labels), hybrid = train<T>(true, x, labels);
  REQUIRE(eager.size() == hybrid.size());
  const double tol = std::is_same_v<T, float> ? 1e-4 : 1e-10;
  for (size_t k = 0; k < eager.size(); ++k) {
    REQUIRE(eager[k].size() == hybrid[k].size());
    for (size_t i = 0; i < eager[k].size(); ++i)
      REQUIRE(std::abs(double(eager[k][i]) - double(hybrid[k][i])) <= tol);
  }
}

TEST_CASE("Conv2D: a conv net exports and imports as a SymbolBlock", "[nn][conv][io]") {
  testing::TempDir dir;
  nn::HybridSequential net = small_conv_net<float>();
  net.initialize();
  random::seed(9);
  const Tensor x = random::normal({2, 2, 7, 6});
  net.hybridize();
  const Tensor y = net(x);
  const std::string prefix = dir.file("convnet");
  net.export_model(prefix);
  const std::string symbol = testing::read_bytes(prefix + "-symbol.json");
  // The file holds portable ops only: each conv2d without its epilogue, then the activation.
  CHECK_THAT(symbol, Contains("\"op\": \"conv2d\"") && Contains("\"op\": \"relu\"") && Contains("\"op\": \"tanh\""));
  CHECK_THAT(symbol, !Contains("backward"));
  auto imported = nn::SymbolBlock::imports(prefix + "-symbol.json", {"data"}, prefix + "-0000.params");
  CHECK(allclose((*imported)(x), y, 0, 0));
  const Tensor x4 = random::normal({4, 2, 7, 6});
  CHECK(allclose((*imported)(x4), net(x4), 1e-5, 1e-6));
  CHECK(imported->graph_ops() == net.graph_ops());
}

TEST_CASE("Conv2D: summary shows each layer's configuration and parameters", "[nn][conv]") {
  nn::HybridSequential net;
  net.add(nn::Conv2D(6, 5, 1, 2, 1, 1, "relu"), nn::Conv2D(16, 5));
  net.initialize();
  std::ostringstream os;
  net.summary(ones<float>({1, 1, 28, 28}), os);
  const std::string text = os.str();
  INFO(text);
  CHECK_THAT(text, Contains("Conv2D(1 -> 6, kernel 5x5, padding 2, relu)") && Contains("(1, 6, 28, 28)") &&
                       Contains("156"));
  CHECK_THAT(text, Contains("Conv2D(6 -> 16, kernel 5x5)") && Contains("(1, 16, 24, 24)") && Contains("2,416"));
  CHECK_THAT(text, Contains("Total params: 2,572"));
}

TEST_CASE("Conv2D: replays and eager conv2d calls allocate nothing but their output", "[nn][conv]") {
  nn::HybridSequential net = small_conv_net<float>();
  net.initialize();
  const Tensor x = random::normal({2, 2, 7, 6});
  net.hybridize();
  net(x);
  net(x);  // the plan's arena and scratch exist after the first replay
  long before = testing::allocations();
  for (int i = 0; i < 20; ++i) net(x);
  // The output tensor only: its control block with Storage, and its aligned data buffer.
  CHECK(testing::allocations() - before <= 2 * 20);

  // Eagerly the patch matrix comes from the thread's scratch, grown once.
  const Tensor w = random::normal({4, 2, 3, 3});
  (void)conv2d(x, w, Tensor(), {1, 1}, {1, 1});
  before = testing::allocations();
  for (int i = 0; i < 20; ++i) (void)conv2d(x, w, Tensor(), {1, 1}, {1, 1});
  CHECK(testing::allocations() - before <= 2 * 20);
}
