// Gradient hooks (MetaT::on_ready): backward tells a listening leaf its
// final gradient as soon as the last node feeding it has run, before the
// leaf's buffer is written and before backward reaches the earlier layers;
// a hybridized call hands each parameter's gradient out from inside its
// plan. This is what lets "dist_sync" start sending gradients during
// backward.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>

#include <algorithm>
#include <string>
#include <vector>

using namespace hybrid;

namespace {

struct Heard {
  std::string name;
  std::vector<float> values;
  std::vector<float> buffer_then;  // the leaf's buffer when the hook ran
};

/// Records each call: the values, and what the leaf's own buffer held then.
struct Recorder final : autograd::GradHookT<float> {
  std::string name;
  autograd::MetaT<float>* meta = nullptr;  // the leaf owns its hook
  std::vector<Heard>* log = nullptr;
  void ready(const float* grad, int64_t n) override {
    Heard h{name, std::vector<float>(grad, grad + n), {}};
    if (meta->grad.defined()) h.buffer_then = meta->grad.to_vector();
    log->push_back(std::move(h));
  }
  void abandoned() override { log->push_back(Heard{"abandoned " + name, {}, {}}); }
};

/// A recorded identity whose backward throws.
struct Throwing final : autograd::NodeT<float> {
  void backward(const std::vector<Tensor>&, std::vector<Tensor>&) override {
    throw Error("backward failed on purpose");
  }
  void release() override { this->released = true; }
  std::string describe() const override { return "throwing"; }
};

Tensor throwing_identity(const Tensor& x) {
  auto node = std::make_shared<Throwing>();
  node->inputs.push_back(hybrid::detail::TensorAccess::meta(x));
  Tensor out;
  {
    auto paused = autograd::pause();
    out = x.clone();
  }
  auto meta = std::make_shared<autograd::MetaT<float>>();
  meta->producer = node;
  hybrid::detail::TensorAccess::set_meta(out, meta);
  return out;
}

void listen(const std::shared_ptr<autograd::MetaT<float>>& meta, const std::string& name, std::vector<Heard>& log) {
  auto r = std::make_shared<Recorder>();
  r->name = name;
  r->meta = meta.get();
  r->log = &log;
  meta->on_ready = r;
}

void listen(const Tensor& leaf, const std::string& name, std::vector<Heard>& log) {
  listen(hybrid::detail::TensorAccess::meta(leaf), name, log);
}

std::vector<std::string> names(const std::vector<Heard>& log) {
  std::vector<std::string> n;
  for (const Heard& h : log) n.push_back(h.name);
  return n;
}

}  // namespace

TEST_CASE("a listening leaf hears its final gradient once, latest layer first, before its buffer is written",
          "[autograd][hook]") {
  // y = sum(w2 * relu(w1 * x + x * x)): x feeds two nodes, w2 is the last layer.
  Tensor x = from_vector<float>({1, -2, 3}, {3}), w1 = from_vector<float>({0.5f, 1, -1}, {3}),
         w2 = from_vector<float>({2, 3, 4}, {3});
  x.attach_grad();
  w1.attach_grad();
  w2.attach_grad();
  std::vector<Heard> log;
  listen(x, "x", log);
  listen(w1, "w1", log);
  listen(w2, "w2", log);
  Tensor y;
  {
    auto rec = autograd::record();
    y = sum(w2 * relu(w1 * x + x * x));
  }
  y.backward();
  REQUIRE(names(log) == std::vector<std::string>{"w2", "w1", "x"});
  CHECK(log[0].values == w2.grad().to_vector());
  CHECK(log[1].values == w1.grad().to_vector());
  CHECK(log[2].values == x.grad().to_vector());  // both paths summed
  for (const Heard& h : log) CHECK(h.buffer_then.empty());  // told before any buffer was written

  SECTION("grad_req add: the hook hears the buffer's new sum") {
    log.clear();
    w1.attach_grad("add");  // a fresh leaf: re-listen
    listen(w1, "w1", log);
    for (int k = 0; k < 2; ++k) {
      Tensor z;
      {
        auto rec = autograd::record();
        z = sum(w1 * w1);
      }
      z.backward();
    }
    REQUIRE(names(log) == std::vector<std::string>{"w1", "w1"});
    CHECK(log[0].values == std::vector<float>{1, 2, -2});
    CHECK(log[1].values == std::vector<float>{2, 4, -4});
    CHECK(log[1].buffer_then == std::vector<float>{1, 2, -2});
    CHECK(w1.grad().to_vector() == log[1].values);
  }
  SECTION("a leaf that is itself the head, and a leaf backward does not reach") {
    log.clear();
    Tensor unused = from_vector<float>({1}, {1});
    unused.attach_grad();
    listen(unused, "unused", log);
    autograd::backward<float>({x});
    REQUIRE(names(log) == std::vector<std::string>{"x"});
    CHECK(log[0].values == std::vector<float>{1, 1, 1});
  }
  SECTION("grad_req null: never heard") {
    log.clear();
    w2.attach_grad("null");
    listen(w2, "w2", log);
    Tensor z;
    {
      auto rec = autograd::record();
      z = sum(w2 * x);
    }
    z.backward();
    CHECK(names(log) == std::vector<std::string>{"x"});
  }
}

TEST_CASE("a backward that fails after a hook heard its leaf tells the hook, and writes no buffer",
          "[autograd][hook]") {
  Tensor a = from_vector<float>({1, 2}, {2}), b = from_vector<float>({3, 4}, {2});
  a.attach_grad();
  b.attach_grad();
  std::vector<Heard> log;
  listen(a, "a", log);
  Tensor y;
  {
    auto rec = autograd::record();
    const Tensor t = throwing_identity(b);  // made first, so its backward runs last
    y = sum(t + a * 2.0f);
  }
  CHECK_THROWS_WITH(y.backward(), "backward failed on purpose");
  REQUIRE(names(log) == std::vector<std::string>{"a", "abandoned a"});
  CHECK(log[0].values == std::vector<float>{2, 2});
  CHECK_FALSE(hybrid::detail::TensorAccess::meta(a)->fresh);  // the buffer was not written
}

TEST_CASE("a hybridized call hands each parameter's gradient out from inside its backward plan",
          "[autograd][hook][hybridize]") {
  const bool hybridized = GENERATE(false, true);
  INFO((hybridized ? "hybridized" : "eager"));
  random::seed(3);
  nn::HybridSequential net;
  net.add(nn::Dense(5, "relu", true, 4), nn::Dense(3, "", true, 5));
  net.initialize();
  if (hybridized) net.hybridize();
  const Tensor x0 = random::normal<float>({6, 4});
  std::vector<Heard> log;
  const auto params = net.collect_params();
  for (const auto& p : params) listen(nn::detail::ParameterAccess::grad_meta(*p), p->name(), log);
  for (int call = 0; call < 2; ++call) {  // the second call replays the cached plans
    log.clear();
    const Tensor x = x0 * static_cast<float>(call + 1);
    Tensor y;
    {
      auto rec = autograd::record();
      y = sum(net(x) * net(x));  // each parameter feeds two calls: heard once, with both summed
    }
    y.backward();
    REQUIRE(log.size() == 4);
    std::vector<std::string> heard = names(log);
    // The last layer's gradients come out before the first layer's weight.
    const auto at = [&](const std::string& n) { return std::find(heard.begin(), heard.end(), n) - heard.begin(); };
    CHECK(at("1.weight") < at("0.weight"));
    CHECK(at("1.bias") < at("0.weight"));
    for (const Heard& h : log) {
      INFO(h.name);
      CHECK(h.values == params[h.name]->grad().to_vector());
      CHECK(h.buffer_then != h.values);  // the buffer still held the earlier call's (or nothing)
    }
  }
  for (const auto& p : params) nn::detail::ParameterAccess::grad_meta(*p)->on_ready = nullptr;
}
