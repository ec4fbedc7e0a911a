// The eager tape: scopes, leaves, backward with and without head gradients,
// retain_graph, detach, grad_req, parameters, released saved tensors.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>

using namespace hybrid;

namespace {

template <class T>
TensorT<T> values(std::vector<T> v, Shape shape) {
  return from_vector<T>(std::move(v), shape);
}

template <class T>
void check_values(const TensorT<T>& t, const std::vector<T>& expected, double tol = 1e-6) {
  REQUIRE(t.size() == static_cast<int64_t>(expected.size()));
  const std::vector<T> got = t.to_vector();
  for (size_t i = 0; i < expected.size(); ++i) CHECK(got[i] == Approx(expected[i]).margin(tol));
}

long storage_users(const Tensor& t) { return hybrid::detail::TensorAccess::storage(t).use_count(); }

}  // namespace

TEST_CASE("autograd scopes set recording and training, nest and restore", "[autograd]") {
  CHECK_FALSE(autograd::is_recording());
  CHECK_FALSE(autograd::is_training());
  {
    auto rec = autograd::record();
    CHECK(autograd::is_recording());
    CHECK(autograd::is_training());
    {
      auto paused = autograd::pause();
      CHECK_FALSE(autograd::is_recording());
      CHECK_FALSE(autograd::is_training());
      auto train = autograd::train_mode();
      CHECK(autograd::is_training());
      CHECK_FALSE(autograd::is_recording());
    }
    CHECK(autograd::is_recording());
    {
      auto predict = autograd::predict_mode();
      CHECK_FALSE(autograd::is_training());
      CHECK(autograd::is_recording());
    }
    CHECK(autograd::is_training());
  }
  {
    auto rec = autograd::record(false);
    CHECK(autograd::is_recording());
    CHECK_FALSE(autograd::is_training());
  }
  CHECK_FALSE(autograd::is_recording());
  CHECK_FALSE(autograd::is_training());
}

TEST_CASE("backward gives the gradient of a scalar and of a non-scalar head", "[autograd]") {
  Tensor x = values<float>({1, 2, 3}, {3});
  x.attach_grad();
  check_values(x.grad(), {0, 0, 0});  // zeros before any backward
  Tensor y;
  {
    auto rec = autograd::record();
    y = sum(x * x + x * 3.0f);
  }
  y.backward();  // after the scope ended
  check_values(x.grad(), {5, 7, 9});

  Tensor z;
  {
    auto rec = autograd::record();
    z = exp(x);  // non-scalar head: the head gradient is ones
  }
  z.backward();
  check_values(x.grad(), {std::exp(1.0f), std::exp(2.0f), std::exp(3.0f)}, 1e-4);

  {
    auto rec = autograd::record();
    z = x * 2.0f;
  }
  z.backward(values<float>({1, 10, 100}, {3}));
  check_values(x.grad(), {2, 20, 200});
  CHECK_THROWS_AS(z.backward(values<float>({1, 2}, {2})), ShapeError);
}

TEST_CASE("broadcast inputs get gradients summed to their shape", "[autograd]") {
  TensorT<double> a = values<double>({1, 2, 3}, {3, 1});
  TensorT<double> b = values<double>({10, 20, 30, 40}, {1, 4});
  a.attach_grad();
  b.attach_grad();
  TensorT<double> y;
  {
    auto rec = autograd::record();
    y = sum(a * b);
  }
  y.backward();
  check_values<double>(a.grad(), {100, 100, 100});
  check_values<double>(b.grad(), {6, 6, 6, 6});
}

TEST_CASE("backward twice needs retain_graph; saved tensors are released", "[autograd]") {
  Tensor x = values<float>({1, 2}, {2});
  x.attach_grad();
  const long users_before = storage_users(x);
  Tensor y;
  {
    auto rec = autograd::record();
    y = sum(log(x));
  }
  CHECK(storage_users(x) > users_before);  // log's node holds x for its gradient
  y.backward(true);
  CHECK(storage_users(x) > users_before);  // retained
  y.backward();
  check_values(x.grad(), {1.0f, 0.5f});
  CHECK(storage_users(x) == users_before);  // released after backward
  {
    auto rec = autograd::record();
    y = sum(exp(x));  // exp's gradient reads its output only: x is not kept
    CHECK(storage_users(x) == users_before);
  }
  y.backward();
  check_values(x.grad(), {std::exp(1.0f), std::exp(2.0f)}, 1e-4);
  try {
    y.backward();
    FAIL("a second backward without retain_graph must throw");
  } catch (const Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("retain_graph"));
  }
}

TEST_CASE("grad_req add accumulates, write overwrites, null takes no gradient", "[autograd]") {
  Tensor x = values<float>({1, 2}, {2});
  x.attach_grad("add");
  for (int k = 0; k < 3; ++k) {
    Tensor y;
    {
      auto rec = autograd::record();
      y = sum(x * x);
    }
    y.backward();
  }
  check_values(x.grad(), {6, 12});

  Tensor w = values<float>({1, 2}, {2});
  w.attach_grad("write");
  for (int k = 0; k < 3; ++k) {
    Tensor y;
    {
      auto rec = autograd::record();
      y = sum(w * w);
    }
    y.backward();
  }
  check_values(w.grad(), {2, 4});
  CHECK_THROWS_AS(w.attach_grad("sometimes"), Error);
}

TEST_CASE("detach, pause and unrecorded ops stop the gradient", "[autograd]") {
  Tensor x = values<float>({1, 2}, {2});
  x.attach_grad();
  Tensor y;
  {
    auto rec = autograd::record();
    Tensor c;
    {
      auto paused = autograd::pause();
      c = x * 5.0f;  // not recorded: a constant for the tape
    }
    y = sum(x * x.detach() + c);
  }
  y.backward();
  check_values(x.grad(), {1, 2});

  Tensor unrecorded = sum(x * x);
  try {
    unrecorded.backward();
    FAIL("backward on an unrecorded tensor must throw");
  } catch (const Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("record"));
  }
  CHECK_THROWS_AS(Tensor().grad(), Error);
  Tensor plain = ones<float>({2});
  CHECK_THROWS_WITH(plain.grad(), Catch::Contains("attach_grad"));
}

TEST_CASE("in-place updates and reshapes of recorded tensors are differentiated", "[autograd]") {
  Tensor x = values<float>({1, 2, 3, 4}, {4});
  x.attach_grad();
  Tensor y;
  {
    auto rec = autograd::record();
    Tensor h = x * 2.0f;
    h += x;                     // rebinds on the tape: h = 2x + x
    h *= x;                     // h = 3x²
    y = sum(reshape(h, {2, 2}), 0);  // (2,): a non-scalar head
  }
  y.backward();
  check_values(x.grad(), {6, 12, 18, 24});
}

TEST_CASE("several heads and a tensor used twice sum their gradients", "[autograd]") {
  Tensor x = values<float>({1, 2}, {2});
  x.attach_grad();
  Tensor a, b;
  {
    auto rec = autograd::record();
    Tensor h = x * 3.0f;
    a = sum(h * h);  // 9x² → 18x
    b = sum(h + x);  // 4
  }
  autograd::backward<float>({a, b});
  check_values(x.grad(), {22, 40});
}

TEST_CASE("parameters collect gradients; zero_grad and set_grad_req", "[autograd]") {
  nn::Dense dense(2, "", true, 3);
  dense.initialize(nn::init::Constant(0.5));
  const Tensor x = values<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor y;
  {
    auto rec = autograd::record();
    y = sum(dense(x));
  }
  y.backward();
  const auto params = dense.collect_params();
  check_values(params["weight"]->grad(), {5, 7, 9, 5, 7, 9});
  check_values(params["bias"]->grad(), {2, 2});
  params.zero_grad();
  check_values(params["weight"]->grad(), {0, 0, 0, 0, 0, 0});

  params["bias"]->set_grad_req("null");
  CHECK(params["bias"]->grad_req() == "null");
  CHECK_THROWS_WITH(params["bias"]->grad(), Catch::Contains("null"));
  {
    auto rec = autograd::record();
    y = sum(dense(x));
  }
  y.backward();
  check_values(params["weight"]->grad(), {5, 7, 9, 5, 7, 9});
  CHECK_THROWS_AS(params["weight"]->set_grad_req("always"), Error);

  params.set_grad_req("add");
  for (int k = 0; k < 2; ++k) {
    {
      auto rec = autograd::record();
      y = sum(dense(x));
    }
    y.backward();
  }
  check_values(params["weight"]->grad(), {15, 21, 27, 15, 21, 27});
}

TEST_CASE("gradients with respect to data and parameters together, in double", "[autograd]") {
  nn::DenseT<double> dense(1, "tanh", true, 2);
  dense.initialize(nn::init::Constant(0.25));
  TensorT<double> x = values<double>({0.5, -1.0}, {1, 2});
  x.attach_grad();
  TensorT<double> y;
  {
    auto rec = autograd::record();
    y = sum(dense(x));
  }
  y.backward();
  const double pre = 0.25 * 0.5 + 0.25 * -1.0 + 0.0;  // bias initialized to zero
  const double d = 1.0 - std::tanh(pre) * std::tanh(pre);
  check_values<double>(x.grad(), {0.25 * d, 0.25 * d}, 1e-12);
  check_values<double>(dense.collect_params()["weight"]->grad(), {0.5 * d, -1.0 * d}, 1e-12);
}
