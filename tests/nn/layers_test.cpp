// The pooling, Flatten, LayerNorm and Embedding layers: their arguments and
// errors, deferred in_channels, summary() rows, hybridized = eager, a
// hybridized training step = eager, and an export → import round trip of a
// model using every new op. Also the activation names gelu, silu, leaky_relu.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "../support/files.hpp"

using Catch::Contains;
using namespace hybrid;

namespace {

/// Images (N, 2, 6, 6) through every new layer: a learnable scale (so the
/// pools have a gradient to pass), MaxPool2D, AvgPool2D with and without
/// padding in the divisor, GlobalAvgPool2D, Flatten, LayerNorm, Dense; and
/// an Embedding of indices taken from the input.
template <class T>
class ImageNet : public nn::HybridBlockT<T> {
 public:
  ImageNet() {
    scale = this->register_parameter("scale", Shape{1, 2, 6, 6});
    max_pool = this->register_block("max_pool", nn::MaxPool2DT<T>(nn::IntPair{2, 3}, 1, nn::IntPair{1, 0}));
    avg_pool = this->register_block("avg_pool", nn::AvgPool2DT<T>(3, 1, 1, false));
    avg_pool_pad = this->register_block("avg_pool_pad", nn::AvgPool2DT<T>(2, 2, 1));
    global = this->register_block("global", nn::GlobalAvgPool2DT<T>());
    flatten = this->register_block("flatten", nn::FlattenT<T>());
    norm = this->register_block("norm", nn::LayerNormT<T>());
    embed = this->register_block("embed", nn::EmbeddingT<T>(4, 3));
    out = this->register_block("out", nn::DenseT<T>(4));
  }
  TensorT<T> forward(const TensorT<T>& x) override {
    const TensorT<T> h = x * scale->data();
    const TensorT<T> a = (*avg_pool)((*max_pool)(h));        // (N, 2, 7, 4) → (N, 2, 7, 4)
    const TensorT<T> b = (*flatten)((*avg_pool_pad)(a));      // (N, 2, 4, 3) → (N, 24)
    const TensorT<T> g = (*flatten)((*global)(h));            // (N, 2)
    const TensorT<T> idx = argmax(slice((*flatten)(x), 1, 0, 4), 1);  // (N,) in [0, 4)
    const TensorT<T> e = (*embed)(idx);                        // (N, 3)
    return (*out)((*norm)(concat<T>({b, g, e}, 1)));          // (N, 29) → (N, 4)
  }
  std::shared_ptr<nn::ParameterT<T>> scale;
  std::shared_ptr<nn::MaxPool2DT<T>> max_pool;
  std::shared_ptr<nn::AvgPool2DT<T>> avg_pool, avg_pool_pad;
  std::shared_ptr<nn::GlobalAvgPool2DT<T>> global;
  std::shared_ptr<nn::FlattenT<T>> flatten;
  std::shared_ptr<nn::LayerNormT<T>> norm;
  std::shared_ptr<nn::EmbeddingT<T>> embed;
  std::shared_ptr<nn::DenseT<T>> out;
};

/// Token indices (N, 5) → Embedding → LayerNorm along the features → Flatten → Dense.
template <class T>
class TokenNet : public nn::HybridBlockT<T> {
 public:
  TokenNet() {
    embed = this->register_block("embed", nn::EmbeddingT<T>(7, 4));
    norm = this->register_block("norm", nn::LayerNormT<T>(-1, 1e-3));
    flatten = this->register_block("flatten", nn::FlattenT<T>());
    out = this->register_block("out", nn::DenseT<T>(4, "leaky_relu"));
  }
  TensorT<T> forward(const TensorT<T>& x) override { return (*out)((*flatten)((*norm)((*embed)(x)))); }
  std::shared_ptr<nn::EmbeddingT<T>> embed;
  std::shared_ptr<nn::LayerNormT<T>> norm;
  std::shared_ptr<nn::FlattenT<T>> flatten;
  std::shared_ptr<nn::DenseT<T>> out;
};

template <class T>
TensorT<T> images(int64_t n) {
  random::seed(21);
  return random::normal<T>({n, 2, 6, 6});
}

template <class T>
TensorT<T> tokens(int64_t n) {
  std::vector<T> v;
  for (int64_t i = 0; i < n * 5; ++i) v.push_back(static_cast<T>((i * 3 + i / 5) % 7));
  return from_vector<T>(v, {n, 5});
}

template <class T>
void seed_params(const nn::ParameterDictT<T>& params) {
  random::seed(7);
  for (const auto& p : params) p->set_data(random::normal<T>(p->shape(), T(1), T(0.3)));
}

/// `steps` SGD steps of softmax cross-entropy; returns every parameter's values.
template <class T, class Net>
std::vector<std::vector<T>> train(bool hybridized, const TensorT<T>& x, const TensorT<T>& labels, int steps,
                                  const HybridizeOptions& options = {}) {
  Net net;
  net.initialize();
  (void)net(x);  // infer shapes
  seed_params(net.collect_params());
  nn::loss::SoftmaxCrossEntropyLossT<T> loss;
  if (hybridized) {
    net.hybridize(true, options);
    loss.hybridize(true, options);
  }
  const auto params = net.collect_params();
  for (int step = 0; step < steps; ++step) {
    TensorT<T> l;
    {
      auto rec = autograd::record();
      l = loss(net(x), labels);
    }
    l.backward();
    for (const auto& p : params) p->set_data(p->data() - p->grad() * T(0.1));
  }
  std::vector<std::vector<T>> values;
  for (const auto& p : params) values.push_back(p->data().to_vector());
  return values;
}

template <class T>
void check_close(const std::vector<std::vector<T>>& a, const std::vector<std::vector<T>>& b, double tol) {
  REQUIRE(a.size() == b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    INFO("parameter " << k);
    REQUIRE(a[k].size() == b[k].size());
    for (size_t i = 0; i < a[k].size(); ++i) REQUIRE(std::abs(double(a[k][i]) - double(b[k][i])) <= tol);
  }
}

template <class T>
void check_near(const TensorT<T>& a, const TensorT<T>& b, double tol) {
  REQUIRE(a.shape() == b.shape());
  const auto va = a.to_vector(), vb = b.to_vector();
  for (size_t i = 0; i < va.size(); ++i) REQUIRE(std::abs(double(va[i]) - double(vb[i])) <= tol);
}

}  // namespace

TEST_CASE("layers: arguments, defaults and construction errors", "[nn][layers]") {
  const nn::MaxPool2D max_default;
  CHECK(max_default.pool_size() == nn::IntPair(2));
  CHECK(max_default.strides() == nn::IntPair(2));  // strides default to pool_size, as Gluon
  CHECK(max_default.padding() == nn::IntPair(0));
  const nn::MaxPool2D wide(nn::IntPair{2, 3});
  CHECK(wide.strides() == nn::IntPair(2, 3));
  CHECK(wide.describe() == "MaxPool2D(size=(2, 3), stride=(2, 3), padding=(0, 0))");
  const nn::AvgPool2D avg(3, 1, {1, 0}, false);
  CHECK(avg.describe() == "AvgPool2D(size=(3, 3), stride=(1, 1), padding=(1, 0), count_include_pad=False)");
  CHECK(nn::AvgPool2D().count_include_pad());
  CHECK(nn::GlobalAvgPool2D().describe() == "GlobalAvgPool2D()");
  CHECK(nn::Flatten().describe() == "Flatten");
  CHECK(nn::LayerNorm().describe() == "LayerNorm(axis=-1, epsilon=1e-05, in_channels=?)");
  CHECK(nn::LayerNorm(1, 0.001, 8).describe() == "LayerNorm(axis=1, epsilon=0.001, in_channels=8)");
  CHECK(nn::Embedding(10, 4).describe() == "Embedding(10 -> 4)");

  CHECK_THROWS_WITH(nn::MaxPool2D(0), Contains("MaxPool2D") && Contains("pool_size (0, 0)"));
  CHECK_THROWS_WITH(nn::AvgPool2D(2, {1, 0}), Contains("AvgPool2D") && Contains("strides (1, 0)"));
  CHECK_THROWS_WITH(nn::MaxPool2D(2, 2, -1), Contains("padding (-1, -1)"));
  CHECK_THROWS_WITH(nn::LayerNorm(-1, -0.5), Contains("LayerNorm") && Contains("epsilon"));
  CHECK_THROWS_WITH(nn::LayerNorm(-1, 1e-5, -2), Contains("LayerNorm") && Contains("in_channels"));
  CHECK_THROWS_WITH(nn::Embedding(0, 4), Contains("Embedding") && Contains("input_dim"));
  CHECK_THROWS_WITH(nn::Embedding(3, -1), Contains("Embedding"));
}

TEST_CASE("layers compute their ops; errors name the op or the layer", "[nn][layers]") {
  const Tensor x = reshape(arange<float>(32), {2, 1, 4, 4});
  nn::MaxPool2D pool;
  CHECK(pool(x).to_vector() == max_pool2d(x, {2, 2}).to_vector());
  nn::AvgPool2D avg(3, 1, 1);
  CHECK(avg(x).to_vector() == avg_pool2d(x, {3, 3}, {1, 1}, {1, 1}).to_vector());
  nn::GlobalAvgPool2D global;
  CHECK(global(x).shape() == Shape{2, 1, 1, 1});
  nn::Flatten flatten;
  CHECK(flatten(x).shape() == Shape{2, 16});
  CHECK(flatten(zeros<float>({3})).shape() == Shape{3, 1});
  CHECK(flatten(zeros<float>({2, 0, 3})).shape() == Shape{2, 0});
  CHECK_THROWS_AS(flatten(zeros<float>({})), ShapeError);
  CHECK_THROWS_WITH(pool(zeros<float>({2, 4, 4})), Contains("max_pool2d") && Contains("(2, 4, 4)"));

  // The weight takes initialize()'s initializer, Gluon's default Uniform(0.07) here.
  nn::Embedding uniform(50, 8);
  uniform.initialize();
  const auto w = uniform.weight()->data().to_vector();
  CHECK(std::all_of(w.begin(), w.end(), [](float v) { return v >= -0.07f && v <= 0.07f; }));
  CHECK(std::any_of(w.begin(), w.end(), [](float v) { return v != 0.0f; }));

  nn::Embedding embed(5, 2);
  embed.initialize(nn::init::Constant(0.5));
  CHECK(embed(from_vector<float>({0, 4, 2}, {3})).shape() == Shape{3, 2});
  CHECK_THROWS_WITH(embed(from_vector<float>({0, 5}, {2})), Contains("embedding") && Contains("index 5"));
  embed.hybridize();
  CHECK_THROWS_WITH(embed(from_vector<float>({0, -1}, {2})), Contains("embedding") && Contains("index -1"));
  CHECK(embed(from_vector<float>({4, 4}, {2})).to_vector() == std::vector<float>(4, 0.5f));
}

TEST_CASE("LayerNorm: deferred in_channels, gamma ones and beta zeros", "[nn][layers]") {
  for (bool hybridized : {false, true}) {
    INFO("hybridized " << hybridized);
    nn::LayerNorm norm(1);
    CHECK(norm.in_channels() == 0);
    norm.initialize(nn::init::Normal(3.0));  // gamma and beta keep their own initializers
    if (hybridized) norm.hybridize();
    const Tensor x = random::normal<float>({2, 5, 3});
    const Tensor y = norm(x);
    CHECK(norm.in_channels() == 5);
    CHECK(norm.gamma()->data().to_vector() == std::vector<float>(5, 1.0f));
    CHECK(norm.beta()->data().to_vector() == std::vector<float>(5, 0.0f));
    check_near(y, layer_norm(x, ones<float>({5}), zeros<float>({5}), 1), 1e-6);
    CHECK_THROWS_WITH(norm(zeros<float>({2, 4, 3})),
                      Contains("LayerNorm") && Contains("4 channels") && Contains("expects 5"));
  }
  nn::LayerNorm uninitialized;
  CHECK_THROWS_AS(uninitialized(zeros<float>({2, 3})), Error);
  CHECK_THROWS_WITH(nn::LayerNorm(2)(zeros<float>({2, 3})), Contains("LayerNorm") && Contains("axis 2"));
}

TEST_CASE("Activation accepts gelu, silu and leaky_relu (slope 0.25)", "[nn][layers]") {
  const Tensor x = from_vector<float>({-2, -0.5f, 0, 1.5f});
  CHECK(nn::Activation("gelu")(x).to_vector() == gelu(x).to_vector());
  CHECK(nn::Activation("silu")(x).to_vector() == silu(x).to_vector());
  nn::Activation leaky("leaky_relu");
  CHECK(leaky(x).to_vector() == std::vector<float>{-0.5f, -0.125f, 0, 1.5f});
  CHECK(leaky.describe() == "Activation(leaky_relu)");
  leaky.hybridize();
  CHECK(leaky(x).to_vector() == std::vector<float>{-0.5f, -0.125f, 0, 1.5f});
  // Unknown names list leaky_relu among the valid ones.
  CHECK_THROWS_WITH(nn::Activation("mish"), Contains("\"gelu\"") && Contains("\"leaky_relu\""));

  // Dense takes it too; the slope is no epilogue attribute, so it stays its own (fused elementwise) op.
  nn::Dense dense(3, "leaky_relu", true, 4);
  dense.initialize(nn::init::Normal(1.0));
  const Tensor in = random::normal<float>({2, 4});
  const Tensor eager = dense(in);
  check_near(eager, leaky_relu(fully_connected(in, dense.weight()->data(), dense.bias()->data()), 0.25), 1e-6);
  dense.hybridize();
  check_near(dense(in), eager, 1e-6);
  const auto ops = dense.graph_ops();
  CHECK(std::count(ops.begin(), ops.end(), "fully_connected") == 1);
  CHECK(std::find(ops.begin(), ops.end(), "relu") == ops.end());
  nn::Dense relu_dense(3, "relu", true, 4);
  relu_dense.initialize();
  relu_dense.hybridize();
  relu_dense(in);
  CHECK(relu_dense.graph_ops() == std::vector<std::string>{"fully_connected"});  // relu still an epilogue
}

TEST_CASE("summary shows the new layers with their attributes", "[nn][layers]") {
  nn::HybridSequential net;
  net.add(nn::MaxPool2D(2), nn::AvgPool2D(3, 1, 1), nn::GlobalAvgPool2D(), nn::Flatten(), nn::LayerNorm(),
          nn::Dense(3));
  net.initialize();
  std::ostringstream os;
  net.summary(ones<float>({1, 4, 8, 8}), os);
  const std::string text = os.str();
  INFO(text);
  CHECK_THAT(text, Contains("MaxPool2D(size=(2, 2), stride=(2, 2), padding=(0, 0))") && Contains("(1, 4, 4, 4)"));
  CHECK_THAT(text, Contains("AvgPool2D(size=(3, 3), stride=(1, 1), padding=(1, 1), count_include_pad=True)"));
  CHECK_THAT(text, Contains("GlobalAvgPool2D()") && Contains("(1, 4, 1, 1)"));
  CHECK_THAT(text, Contains("Flatten") && Contains("(1, 4)"));
  CHECK_THAT(text, Contains("LayerNorm(axis=-1, epsilon=1e-05, in_channels=4)"));
  CHECK_THAT(text, Contains("Total params: 23"));  // LayerNorm 8, Dense 15

  nn::HybridSequential tokens_net;
  tokens_net.add(nn::Embedding(10, 4));
  tokens_net.initialize();
  std::ostringstream tos;
  tokens_net.summary(zeros<float>({2, 3}), tos);
  CHECK_THAT(tos.str(), Contains("Embedding(10 -> 4)") && Contains("(2, 3, 4)") && Contains("40"));
}

TEMPLATE_TEST_CASE("hybridized layers give the eager results", "[nn][layers]", float, double) {
  using T = TestType;
  const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  {
    ImageNet<T> net;
    net.initialize(nn::init::Normal(0.5));
    const TensorT<T> x = images<T>(3);
    const TensorT<T> eager = net(x);
    CHECK(eager.shape() == Shape{3, 4});
    net.hybridize();
    check_near(net(x), eager, tol);
    check_near(net(x), eager, tol);  // the replay
    const auto ops = net.graph_ops();
    for (const char* op : {"max_pool2d", "avg_pool2d", "global_avg_pool2d", "layer_norm", "embedding"}) {
      INFO(op);
      CHECK(std::find(ops.begin(), ops.end(), op) != ops.end());
    }
    const TensorT<T> one = net(images<T>(1));  // another batch size traces anew
    net.hybridize(false);
    check_near(one, net(images<T>(1)), tol);
  }
  {
    TokenNet<T> net;
    net.initialize(nn::init::Normal(0.5));
    const TensorT<T> x = tokens<T>(4);
    const TensorT<T> eager = net(x);
    net.hybridize();
    check_near(net(x), eager, tol);
  }
}

TEMPLATE_TEST_CASE("a hybridized training step gives the eager parameters", "[nn][layers][hybrid_training]", float,
                   double) {
  using T = TestType;
  const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-10;
  const TensorT<T> labels = from_vector<T>({0, 3, 1, 2, 1, 0}, {6});
  {
    INFO("pooling, Flatten, LayerNorm, Embedding");
    const TensorT<T> x = images<T>(6);
    const auto eager = train<T, ImageNet<T>>(false, x, labels, 3);
    check_close(eager, train<T, ImageNet<T>>(true, x, labels, 3), tol);
    HybridizeOptions none;  // every pass off: the backward ops run as traced
    none.fold_constants = none.eliminate_common = none.fuse = none.plan_memory = false;
    check_close(eager, train<T, ImageNet<T>>(true, x, labels, 3, none), tol);
    // Every parameter learned, the scale in front of the pools included.
    const auto start = train<T, ImageNet<T>>(false, x, labels, 0);
    for (size_t k = 0; k < start.size(); ++k) {
      INFO("parameter " << k);
      CHECK(start[k] != eager[k]);
    }
  }
  {
    INFO("Embedding, LayerNorm, Dense with leaky_relu");
    const TensorT<T> x = tokens<T>(6);
    check_close(train<T, TokenNet<T>>(false, x, labels, 3), train<T, TokenNet<T>>(true, x, labels, 3), tol);
  }
}

TEMPLATE_TEST_CASE("a model of every new op exports and imports", "[nn][layers][export]", float, double) {
  using T = TestType;
  testing::TempDir dir;
  ImageNet<T> net;
  net.initialize(nn::init::Normal(0.5));
  net.hybridize();
  const TensorT<T> x = images<T>(2);
  const TensorT<T> y = net(x);
  const std::string prefix = dir.file("layers");
  net.export_model(prefix);
  auto imported = nn::SymbolBlockT<T>::imports(prefix + "-symbol.json", {"data"}, prefix + "-0000.params");
  const TensorT<T> z = (*imported)(x);
  REQUIRE(z.shape() == y.shape());
  CHECK(z.to_vector() == y.to_vector());
  // Any batch size: the pools, Flatten's -1 and the embedding follow the input.
  const TensorT<T> x5 = images<T>(5);
  net.hybridize(false);
  check_near((*imported)(x5), net(x5), std::is_same_v<T, float> ? 1e-5 : 1e-12);
}
