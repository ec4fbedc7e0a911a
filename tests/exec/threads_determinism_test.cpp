// Results do not depend on the thread count: outputs and gradients are
// bit-identical (memcmp) for 1, 2, 3 and 8 threads, eager and hybridized,
// and kernels that split only when there is enough work give, when they
// split, the bits of their serial path (or of an independent loop).
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "../reference.hpp"
#include "../support/models.hpp"

namespace nn = hybrid::nn;
using hybrid::Tensor;

namespace {

const int kThreadCounts[] = {1, 2, 3, 8};

/// Restores the thread count when a test ends, however it ends.
struct ThreadCountGuard {
  int saved = hybrid::get_num_threads();
  ~ThreadCountGuard() { hybrid::set_num_threads(saved); }
};

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<size_t>(hybrid::numel(a.shape()))) == 0;
}

/// f() under each thread count, each compared bit for bit with 1 thread's.
template <class F>
void check_same_for_all_counts(F f) {
  ThreadCountGuard guard;
  hybrid::set_num_threads(1);
  const Tensor reference = f().clone();
  for (int n : kThreadCounts) {
    hybrid::set_num_threads(n);
    INFO("threads: " << n);
    for (int run = 0; run < 2; ++run) CHECK(same_bits(f(), reference));
  }
}

/// f() under each thread count, bit for bit equal to `reference`, computed
/// on one thread by the kernels' serial path or by an independent loop.
template <class F>
void check_all_counts_equal(F f, const Tensor& reference) {
  ThreadCountGuard guard;
  for (int n : kThreadCounts) {
    hybrid::set_num_threads(n);
    INFO("threads: " << n);
    CHECK(same_bits(f(), reference));
  }
}

/// f applied to pieces of x of at most `piece` entries along `axis`, joined
/// again, on one thread: pieces small enough that each kernel call stays
/// on its serial path.
Tensor by_pieces(const Tensor& x, int64_t axis, int64_t piece, const std::function<Tensor(const Tensor&)>& f) {
  ThreadCountGuard guard;
  hybrid::set_num_threads(1);
  std::vector<Tensor> parts;
  for (int64_t b = 0; b < x.shape()[static_cast<int>(axis)]; b += piece)
    parts.push_back(f(hybrid::slice(x, axis, b, b + piece)));
  return hybrid::concat(parts, axis);
}

/// Integer indices in [0, extent) stored as floats, of the given shape.
Tensor indices(const hybrid::Shape& shape, int64_t extent, unsigned seed) {
  std::vector<float> v(static_cast<size_t>(hybrid::numel(shape)));
  uint64_t state = seed;
  for (float& e : v) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    e = static_cast<float>((state >> 33) % static_cast<uint64_t>(extent));
  }
  return hybrid::from_vector<float>(v, shape);
}

void check_forward(nn::HybridSequential& net, const Tensor& x) {
  check_same_for_all_counts([&] { return net(x); });
}

}  // namespace

TEST_CASE("threads: the seed MLP's output is bit-identical for any thread count", "[threads][determinism]") {
  hybrid::random::seed(11);
  // 64 rows: the chapter's batch; 300: several row blocks, the last one short.
  const Tensor x = hybrid::random::normal({64, 512}), wide = hybrid::random::normal({300, 512});
  nn::HybridSequential net = testing::seed_mlp<float>();
  SECTION("eager") {
    check_forward(net, x);
    check_forward(net, wide);
  }
  SECTION("hybridized") {
    net.hybridize();
    check_forward(net, x);
    check_forward(net, wide);
  }
}

TEST_CASE("threads: each parallel kernel is bit-identical for any thread count", "[threads][determinism]") {
  hybrid::random::seed(14);
  const Tensor a = hybrid::random::normal({300, 256}), b = hybrid::random::normal({256, 96});
  const Tensor batched = hybrid::random::normal({12, 40, 64}), rhs = hybrid::random::normal({64, 48});
  const Tensor big = hybrid::random::normal({513, 1031}), row = hybrid::random::normal({1031});
  const Tensor images = hybrid::random::normal({9, 6, 20, 20}), w = hybrid::random::normal({8, 3, 3, 3});
  const Tensor planes = hybrid::random::normal({16, 16, 48, 48});  // enough planes to split
  SECTION("matmul: row blocks and batches") {
    check_same_for_all_counts([&] { return hybrid::matmul(a, b); });
    check_same_for_all_counts([&] { return hybrid::matmul(batched, rhs); });
  }
  SECTION("elementwise, fused by broadcasting") {
    check_same_for_all_counts([&] { return hybrid::tanh(big * row + 1.5f); });
  }
  SECTION("reductions over each axis, softmax") {
    check_same_for_all_counts([&] { return hybrid::sum(big, 0); });
    check_same_for_all_counts([&] { return hybrid::sum(big, 1); });
    check_same_for_all_counts([&] { return hybrid::max(big, 0); });
    check_same_for_all_counts([&] { return hybrid::mean(big); });
    check_same_for_all_counts([&] { return hybrid::sum(planes, std::vector<int64_t>{0, 2, 3}); });
    check_same_for_all_counts([&] { return hybrid::max(planes, std::vector<int64_t>{1, 3}); });
    check_same_for_all_counts([&] { return hybrid::sum(planes, std::vector<int64_t>{0, 2}); });
    check_same_for_all_counts([&] { return hybrid::softmax(big, 1); });
    check_same_for_all_counts([&] { return hybrid::log_softmax(big, 0); });
  }
  SECTION("grouped convolution and pooling") {
    check_same_for_all_counts([&] { return hybrid::conv2d(images, w, Tensor(), {1, 1}, {1, 1}, {1, 1}, 2); });
    // Batch 1: split over blocks of output channels, with the bias and relu epilogue.
    const Tensor one = hybrid::random::normal({1, 16, 24, 24}), w64 = hybrid::random::normal({64, 16, 3, 3});
    const Tensor b64 = hybrid::random::normal({64});
    auto single = [&] { return hybrid::conv2d(one, w64, b64, {1, 1}, {1, 1}, {1, 1}, 1, hybrid::OpCode::relu); };
    check_same_for_all_counts(single);
    // The channel split computes what the image split does, up to rounding.
    ThreadCountGuard guard;
    hybrid::set_num_threads(3);
    const Tensor pair = hybrid::conv2d(hybrid::concat({one, one}), w64, b64, {1, 1}, {1, 1}, {1, 1}, 1,
                                       hybrid::OpCode::relu);
    CHECK(hybrid::allclose(single(), hybrid::slice(pair, 0, 0, 1), 1e-5, 1e-5));
    check_same_for_all_counts([&] { return hybrid::max_pool2d(planes, {2, 2}); });
    check_same_for_all_counts([&] { return hybrid::avg_pool2d(planes, {3, 3}, {2, 2}); });
    check_same_for_all_counts([&] { return hybrid::global_avg_pool2d(planes); });
  }
}

TEST_CASE("threads: normalization kernels split over lines and planes, with their serial bits",
          "[threads][determinism]") {
  hybrid::random::seed(15);
  SECTION("layer_norm over the last axis: rows") {
    // 1001 lines of 300: four chunks, the last one short.
    const Tensor x = hybrid::random::normal({1001, 300});
    const Tensor gamma = hybrid::random::normal({300}), beta = hybrid::random::normal({300});
    auto f = [&](const Tensor& t) { return hybrid::layer_norm(t, gamma, beta, -1); };
    check_all_counts_equal([&] { return f(x); }, by_pieces(x, 0, 7, f));
  }
  SECTION("layer_norm over a middle axis: strided lines") {
    const Tensor x = hybrid::random::normal({3, 37, 2001});
    const Tensor gamma = hybrid::random::normal({37}), beta = hybrid::random::normal({37});
    auto f = [&](const Tensor& t) { return hybrid::layer_norm(t, gamma, beta, 1); };
    check_all_counts_equal([&] { return f(x); }, by_pieces(x, 2, 29, f));
  }
  SECTION("batch_norm with running statistics (predict mode): (image, channel) planes") {
    const Tensor x = hybrid::random::normal({9, 37, 41, 43});
    const Tensor gamma = hybrid::random::normal({37}), beta = hybrid::random::normal({37});
    const Tensor mean = hybrid::random::normal({37}), var = hybrid::random::uniform<float>({37}, 0.5f, 2.0f);
    auto f = [&](const Tensor& t) { return hybrid::batch_norm(t, gamma, beta, mean, var, 1); };
    check_all_counts_equal([&] { return f(x); }, by_pieces(x, 0, 1, f));
  }
}

TEST_CASE("threads: embedding and its scatter-add are bit-identical to naive loops for any thread count",
          "[threads][determinism]") {
  hybrid::random::seed(16);
  const Tensor weight = hybrid::random::normal({1000, 129});
  const Tensor idx = indices({67, 63}, 1000, 3);  // 4221 rows of 129: several chunks
  SECTION("forward: a row gather") {
    const Tensor want = ref::tensor<float>(ref::take(ref::array(weight), ref::array(idx), 0));
    check_all_counts_equal([&] { return hybrid::embedding(idx, weight); }, want);
  }
  // The scatter-add in float, index by index, as one thread adds.
  auto naive_scatter = [](const Tensor& ix, const Tensor& dy, int64_t rows) {
    const int64_t width = dy.shape()[dy.ndim() - 1];
    std::vector<float> dw(static_cast<size_t>(rows * width), 0.0f);
    for (int64_t p = 0; p < hybrid::numel(ix.shape()); ++p)
      for (int64_t j = 0; j < width; ++j)
        dw[static_cast<size_t>(static_cast<int64_t>(ix.data()[p]) * width + j)] += dy.data()[p * width + j];
    return hybrid::from_vector<float>(dw, {rows, width});
  };
  auto scatter = [](const Tensor& ix, const Tensor& dy, int64_t rows) {
    hybrid::Attrs at;
    at.depth = rows;
    return hybrid::ops::apply<float>(hybrid::OpCode::embedding_backward, {&ix, &dy}, at);
  };
  SECTION("backward: blocks of rows") {
    const Tensor dy = hybrid::random::normal({67, 63, 129});
    check_all_counts_equal([&] { return scatter(idx, dy, 1000); }, naive_scatter(idx, dy, 1000));
  }
  SECTION("backward, narrow rows: row blocks, repeated indices") {
    const Tensor many = indices({20011}, 5000, 4), dy = hybrid::random::normal({20011, 40});
    check_all_counts_equal([&] { return scatter(many, dy, 5000); }, naive_scatter(many, dy, 5000));
  }
  SECTION("backward through autograd: the weight's gradient") {
    Tensor w = weight.clone();
    w.attach_grad();
    const Tensor head = hybrid::random::normal({67, 63, 129});
    auto grad = [&] {
      {
        auto rec = hybrid::autograd::record();
        Tensor y = hybrid::embedding(idx, w);
        y.backward(head);
      }
      return w.grad().clone();
    };
    check_all_counts_equal(grad, naive_scatter(idx, head, 1000));
  }
}

TEST_CASE("threads: indexing and layout kernels are bit-identical to naive loops for any thread count",
          "[threads][determinism]") {
  hybrid::random::seed(17);
  const Tensor x = hybrid::random::normal({41, 131, 113});  // 606,923 elements, odd extents
  const ref::Array ax = ref::array(x);
  SECTION("take, pick, one_hot, argmax") {
    const Tensor rows = indices({197}, 131, 5);
    check_all_counts_equal([&] { return hybrid::take(x, rows, 1); },
                           ref::tensor<float>(ref::take(ax, ref::array(rows), 1)));
    const Tensor lines = indices({41, 113}, 131, 6);
    check_all_counts_equal([&] { return hybrid::pick(x, lines, 1); },
                           ref::tensor<float>(ref::pick(ax, ref::array(lines), 1, false)));
    // 600,001 lines of 3: one pick each, enough to split.
    const Tensor tall = hybrid::random::normal({600'001, 3}), choice = indices({600'001}, 3, 7);
    check_all_counts_equal([&] { return hybrid::pick(tall, choice, 1); },
                           ref::tensor<float>(ref::pick(ref::array(tall), ref::array(choice), 1, false)));
    const Tensor labels = indices({4099}, 257, 9);
    check_all_counts_equal([&] { return hybrid::one_hot(labels, 257, 2.0, -1.0); },
                           ref::tensor<float>(ref::one_hot(ref::array(labels), 257, 2.0, -1.0)));
    check_all_counts_equal([&] { return hybrid::argmax(x, 2); }, ref::tensor<float>(ref::argmax(ax, 2, false)));
    check_all_counts_equal([&] { return hybrid::argmax(x, 0); }, ref::tensor<float>(ref::argmax(ax, 0, false)));
  }
  SECTION("transpose, reshape, concat, slice, stack, pad, broadcast_to") {
    check_all_counts_equal([&] { return hybrid::transpose(x, {2, 0, 1}); },
                           ref::tensor<float>(ref::transpose(ax, {2, 0, 1})));
    check_all_counts_equal([&] { return hybrid::transpose(x, {1, 2, 0}); },
                           ref::tensor<float>(ref::transpose(ax, {1, 2, 0})));
    check_all_counts_equal([&] { return hybrid::reshape(x, {131, 41, 113}); },
                           hybrid::from_vector<float>(x.to_vector(), {131, 41, 113}));
    const Tensor y = hybrid::random::normal({41, 5, 113});
    for (int64_t axis : {0, 1, 2}) {
      INFO("axis " << axis);
      const Tensor other = axis == 1 ? y : x;
      check_all_counts_equal([&] { return hybrid::concat({x, other}, axis); },
                             ref::tensor<float>(ref::concat({ax, ref::array(other)}, static_cast<int>(axis))));
      check_all_counts_equal([&] { return hybrid::slice(x, axis, 1, -2); },
                             ref::tensor<float>(ref::slice(ax, static_cast<int>(axis), 1, x.shape()[static_cast<int>(axis)] - 2)));
      check_all_counts_equal([&] { return hybrid::stack({x, x * 2.0f}, axis); },
                             ref::tensor<float>(ref::stack({ax, ref::array(Tensor(x * 2.0f))}, static_cast<int>(axis))));
    }
    check_all_counts_equal([&] { return hybrid::pad(x, {1, 2, 0, 3, 2, 1}, 0.5); },
                           ref::tensor<float>(ref::pad(ax, {1, 2, 0, 3, 2, 1}, 0.5)));
    const Tensor col = hybrid::random::normal({1, 131, 1});
    check_all_counts_equal([&] { return hybrid::broadcast_to(col, {41, 131, 113}); },
                           ref::tensor<float>(ref::broadcast_to(ref::array(col), {41, 131, 113})));
  }
}

namespace {

/// LeNet with BatchNorm after each convolution and a LayerNorm over the
/// first convolution's channels and after the first Dense layer.
nn::HybridSequential normalized_lenet() {
  nn::HybridSequential net;
  net.add(nn::Conv2D(6, 5, 1, 2), nn::BatchNorm(), nn::LayerNorm(1), nn::Activation("relu"), nn::MaxPool2D(2, 2),
          nn::Conv2D(16, 5), nn::BatchNorm(), nn::Activation("relu"), nn::MaxPool2D(2, 2), nn::Dense(120),
          nn::LayerNorm(), nn::Activation("relu"), nn::Dense(84, "relu"), nn::Dense(10));
  net.initialize(nn::init::Xavier());
  return net;
}

/// Embedding(1000 → 128) → LayerNorm → Flatten → Dense(10), for (batch, 64) indices.
nn::HybridSequential embedding_net() {
  nn::HybridSequential net;
  net.add(nn::Embedding(1000, 128), nn::LayerNorm(), nn::Flatten(), nn::Dense(10));
  net.initialize(nn::init::Xavier());
  return net;
}

/// One hybridized training step under `threads` threads from a fresh copy
/// of the same model: the loss, every gradient and every updated parameter.
std::vector<Tensor> training_step(const std::function<nn::HybridSequential()>& make, const Tensor& x,
                                  const Tensor& labels, int threads) {
  ThreadCountGuard guard;
  hybrid::set_num_threads(threads);
  hybrid::random::seed(21);
  nn::HybridSequential net = make();
  nn::loss::SoftmaxCrossEntropyLoss loss;
  net.hybridize();
  loss.hybridize();
  const auto params = net.collect_params();
  nn::Trainer trainer(params, "sgd", {{"learning_rate", 0.1}, {"momentum", 0.9}});
  std::vector<Tensor> out;
  for (int step = 0; step < 2; ++step) {
    Tensor l;
    {
      auto rec = hybrid::autograd::record();
      l = loss(net(x), labels);
    }
    l.backward();
    trainer.step(x.shape()[0]);
    out.push_back(l.clone());
  }
  for (const auto& p : params) {
    if (p->grad_req() != "null") out.push_back(p->grad().clone());
    out.push_back(p->data().clone());  // running statistics included
  }
  // Predict mode: BatchNorm with the running statistics just updated.
  out.push_back(net(x).clone());
  return out;
}

void check_training_steps(const std::function<nn::HybridSequential()>& make, const Tensor& x, const Tensor& labels) {
  const std::vector<Tensor> reference = training_step(make, x, labels, 1);
  for (int n : kThreadCounts) {
    const std::vector<Tensor> got = training_step(make, x, labels, n);
    REQUIRE(got.size() == reference.size());
    for (size_t i = 0; i < got.size(); ++i) {
      INFO("threads: " << n << ", result " << i);
      CHECK(same_bits(got[i], reference[i]));
    }
  }
}

Tensor class_labels(int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i * 7 % 10);
  return hybrid::from_vector<float>(v, {n});
}

}  // namespace

TEST_CASE("threads: training LeNet with BatchNorm and LayerNorm is bit-identical for any thread count",
          "[threads][determinism]") {
  hybrid::random::seed(18);
  // Batch 1 and 2: LeNet's small layers stay whole per image (the in-image
  // splits are checked on larger layers in tests/ops/conv_test.cpp); 32:
  // the convolutions and their gradients split over images.
  for (int64_t batch : {1, 2, 32}) {
    INFO("batch " << batch);
    const Tensor x = hybrid::random::normal({batch, 1, 28, 28});
    check_training_steps(normalized_lenet, x, class_labels(batch));
  }
}

TEST_CASE("threads: training an embedding model is bit-identical for any thread count", "[threads][determinism]") {
  const Tensor x = indices({64, 64}, 1000, 10);  // 4096 lookups of 128: the gather and the scatter-add split
  check_training_steps(embedding_net, x, class_labels(64));
}

TEST_CASE("threads: LeNet's output is bit-identical for any thread count", "[threads][determinism]") {
  hybrid::random::seed(12);
  const Tensor x = hybrid::random::normal({16, 1, 28, 28});
  nn::HybridSequential net = testing::lenet<float>();
  SECTION("eager") { check_forward(net, x); }
  SECTION("hybridized") {
    net.hybridize();
    check_forward(net, x);
  }
}

TEST_CASE("threads: a hybridized training step's gradients are bit-identical", "[threads][determinism]") {
  ThreadCountGuard guard;
  hybrid::random::seed(13);
  const Tensor x = hybrid::random::normal({16, 1, 28, 28});
  std::vector<float> label_values(16);
  for (size_t i = 0; i < label_values.size(); ++i) label_values[i] = static_cast<float>(i % 10);
  const Tensor labels = hybrid::from_vector<float>(label_values, {16});
  nn::HybridSequential net = testing::lenet<float>();
  nn::loss::SoftmaxCrossEntropyLoss loss;
  net.hybridize();
  loss.hybridize();
  const auto params = net.collect_params();

  auto gradients = [&] {
    Tensor l;
    {
      auto rec = hybrid::autograd::record();
      l = loss(net(x), labels);
    }
    l.backward();
    std::vector<Tensor> grads;
    for (const auto& p : params) grads.push_back(p->grad().clone());
    grads.push_back(l.clone());
    return grads;
  };
  hybrid::set_num_threads(1);
  const std::vector<Tensor> reference = gradients();
  for (int n : kThreadCounts) {
    hybrid::set_num_threads(n);
    const std::vector<Tensor> grads = gradients();
    REQUIRE(grads.size() == reference.size());
    for (size_t i = 0; i < grads.size(); ++i) {
      INFO("threads: " << n << ", gradient " << i);
      CHECK(same_bits(grads[i], reference[i]));
    }
  }
}

TEST_CASE("threads: optimizer updates are bit-identical for any thread count", "[threads][determinism]") {
  ThreadCountGuard guard;
  // Large enough for several blocks (SGD's are 65,536 elements, Adam's 21,845).
  const int64_t n = 300'001;
  std::vector<float> w0(static_cast<size_t>(n)), g(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    w0[static_cast<size_t>(i)] = std::sin(0.001f * static_cast<float>(i));
    g[static_cast<size_t>(i)] = std::cos(0.003f * static_cast<float>(i)) - 0.25f;
  }
  const std::vector<std::pair<std::string, hybrid::optim::Options>> cases = {
      {"sgd", {{"learning_rate", 0.1}, {"wd", 0.01}}},
      {"sgd", {{"learning_rate", 0.1}, {"momentum", 0.9}, {"clip_gradient", 0.5}}},
      {"adam", {{"learning_rate", 0.01}, {"wd", 0.001}}},
      {"adamw", {{"learning_rate", 0.01}}}};
  for (const auto& [name, options] : cases) {
    // Three updates of one parameter (its state carries over) under `threads`.
    auto updated = [&, &name = name, &options = options](int threads) {
      hybrid::set_num_threads(threads);
      auto opt = hybrid::optim::create(name, options);
      std::vector<float> w = w0;
      for (int step = 0; step < 3; ++step) opt->update(0, w.data(), g.data(), n, 0.5);
      return w;
    };
    const std::vector<float> reference = updated(1);
    CHECK(reference != w0);
    for (int threads : kThreadCounts) {
      INFO(name << ", threads: " << threads);
      const std::vector<float> w = updated(threads);
      CHECK(std::memcmp(w.data(), reference.data(), sizeof(float) * w.size()) == 0);
    }
  }
}
