// Tensors: creation, handle semantics, value access and its errors, random
// tensors, printing and the Benchmark timer.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>

#include <cmath>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

using Catch::Contains;
using hybrid::Error;
using hybrid::Shape;
using hybrid::ShapeError;
using hybrid::TensorT;
using hybrid::TraceError;

TEMPLATE_TEST_CASE("tensor: creation functions", "[core][tensor]", float, double) {
  using T = TestType;
  const auto z = hybrid::zeros<T>({2, 3});
  CHECK(z.shape() == Shape{2, 3});
  CHECK(z.ndim() == 2);
  CHECK(z.size() == 6);
  CHECK(z.dtype() == hybrid::dtype_of<T>());
  CHECK(z.defined());
  CHECK_FALSE(z.is_traced());
  CHECK(z.to_vector() == std::vector<T>(6, T(0)));

  CHECK(hybrid::ones<T>({4}).to_vector() == std::vector<T>(4, T(1)));
  CHECK(hybrid::full<T>({3, 1}, T(2.5)).to_vector() == std::vector<T>(3, T(2.5)));
  CHECK(hybrid::arange<T>(5).to_vector() == std::vector<T>{0, 1, 2, 3, 4});
  CHECK(hybrid::arange<T>(5).shape() == Shape{5});
  CHECK(hybrid::arange<T>(0).shape() == Shape{0});

  const auto v = hybrid::from_vector<T>({1, 2, 3, 4, 5, 6}, {3, 2});
  CHECK(v.shape() == Shape{3, 2});
  CHECK(v.at({0, 0}) == T(1));
  CHECK(v.at({0, 1}) == T(2));
  CHECK(v.at({2, 1}) == T(6));
  CHECK(v.at({-1, -2}) == T(5));
  const auto flat = hybrid::from_vector<T>({7, 8, 9});
  CHECK(flat.shape() == Shape{3});
  CHECK(flat.to_vector() == std::vector<T>{7, 8, 9});

  // 0-d tensors hold one element; 0-size tensors hold none.
  const auto s = hybrid::full<T>({}, T(-4));
  CHECK(s.ndim() == 0);
  CHECK(s.size() == 1);
  CHECK(s.item() == T(-4));
  CHECK(s.at({}) == T(-4));
  const auto e = hybrid::zeros<T>({2, 0, 3});
  CHECK(e.size() == 0);
  CHECK(e.to_vector().empty());
  CHECK(hybrid::from_vector<T>({}, {0, 5}).shape() == Shape{0, 5});

  CHECK(hybrid::zeros<float>({1}).dtype() == hybrid::DType::float32);
  CHECK(hybrid::zeros<double>({1}).dtype() == hybrid::DType::float64);
  // T defaults to float.
  CHECK(hybrid::zeros({2}).dtype() == hybrid::DType::float32);
  CHECK(hybrid::Tensor().dtype() == hybrid::DType::float32);
}

TEST_CASE("tensor: creation errors", "[core][tensor]") {
  // from_vector: value count must fill the shape.
  CHECK_THROWS_AS(hybrid::from_vector<float>({1, 2, 3, 4, 5}, {2, 3}), ShapeError);
  CHECK_THROWS_WITH(hybrid::from_vector<float>({1, 2, 3, 4, 5}, {2, 3}),
                    Contains("from_vector") && Contains("5 values") && Contains("(2, 3)") &&
                        Contains("6 elements"));
  CHECK(hybrid::from_vector<double>({1}, {}).item() == 1.0);  // one value fills ()
  CHECK_THROWS_WITH(hybrid::from_vector<double>({1, 2}, {}), Contains("2 values do not fill shape ()"));

  // Negative dimensions.
  CHECK_THROWS_AS(hybrid::zeros<float>({2, -1}), ShapeError);
  CHECK_THROWS_WITH(hybrid::zeros<float>({2, -1}), Contains("negative dimension") && Contains("(2, -1)"));
  CHECK_THROWS_AS(hybrid::from_vector<float>({}, {-3}), ShapeError);
  CHECK_THROWS_WITH(hybrid::from_vector<float>({}, {-3}), Contains("from_vector") && Contains("negative dimension"));
  CHECK_THROWS_AS(hybrid::arange<float>(-1), ShapeError);
  CHECK_THROWS_WITH(hybrid::arange<float>(-1), Contains("arange") && Contains("-1"));

  // Element counts that overflow are rejected before any allocation.
  const int64_t big = int64_t(1) << 40;
  CHECK_THROWS_AS(hybrid::zeros<float>({big, big}), ShapeError);
  CHECK_THROWS_WITH(hybrid::zeros<float>({big, big}),
                    Contains("(1099511627776, 1099511627776)") && Contains("overflows"));
  // A zero extent makes the count 0, but the other extents must still multiply without overflow.
  CHECK(hybrid::ones<double>({int64_t(1) << 20, 0, int64_t(1) << 20}).size() == 0);
  CHECK_THROWS_AS(hybrid::ones<double>({big, 0, big}), ShapeError);
  // The count fits int64 but its bytes do not.
  CHECK_THROWS_AS(hybrid::zeros<float>({int64_t(1) << 61}), ShapeError);
  CHECK_THROWS_WITH(hybrid::zeros<double>({int64_t(1) << 61}),
                    Contains("(2305843009213693952,)") && Contains("more bytes than fit in memory"));
  CHECK_THROWS_AS(hybrid::full<double>({big, big}, 1.0), ShapeError);
  CHECK_THROWS_AS(hybrid::random::normal<float>({big, big}), ShapeError);
  CHECK_THROWS_AS(hybrid::random::uniform<double>({big, -big}), ShapeError);

  // More than 8 dimensions.
  CHECK_THROWS_AS(hybrid::ones<float>({1, 2, 1, 2, 1, 2, 1, 2, 1}), ShapeError);
  CHECK_THROWS_WITH(hybrid::ones<float>({1, 2, 1, 2, 1, 2, 1, 2, 1}), Contains("more than 8 dimensions"));
  CHECK(hybrid::ones<float>({1, 2, 1, 2, 1, 2, 1, 2}).size() == 16);
}

TEMPLATE_TEST_CASE("tensor: copies share storage, clone deep-copies", "[core][tensor]", float, double) {
  using T = TestType;
  auto a = hybrid::from_vector<T>({1, 2, 3, 4}, {2, 2});
  auto b = a;  // a handle to the same storage
  CHECK(b.data() == a.data());
  b.data()[0] = T(10);
  CHECK(a.at({0, 0}) == T(10));

  auto c = a.clone();
  CHECK(c.data() != a.data());
  CHECK(c.shape() == a.shape());
  CHECK(c.to_vector() == a.to_vector());
  c.data()[1] = T(20);
  CHECK(a.at({0, 1}) == T(2));
  a.data()[3] = T(40);
  CHECK(c.at({1, 1}) == T(4));

  // Assignment rebinds the handle; the other handle keeps the old storage.
  TensorT<T> d = a;
  d = hybrid::zeros<T>({3});
  CHECK(a.shape() == Shape{2, 2});
  CHECK(a.at({0, 0}) == T(10));

  // Clones of 0-d and 0-size tensors.
  CHECK(hybrid::full<T>({}, T(3)).clone().item() == T(3));
  CHECK(hybrid::zeros<T>({0, 4}).clone().shape() == Shape{0, 4});

  // A clone outlives its source.
  TensorT<T> kept;
  {
    auto tmp = hybrid::arange<T>(3);
    kept = tmp.clone();
  }
  CHECK(kept.to_vector() == std::vector<T>{0, 1, 2});
}

TEMPLATE_TEST_CASE("tensor: reshape shares storage", "[core][tensor]", float, double) {
  using T = TestType;
  auto a = hybrid::arange<T>(6);
  auto r = hybrid::reshape(a, {2, 3});
  CHECK(r.shape() == Shape{2, 3});
  CHECK(a.shape() == Shape{6});
  CHECK(r.data() == a.data());
  r.data()[4] = T(-1);
  CHECK(a.at({4}) == T(-1));
  a.data()[0] = T(7);
  CHECK(r.at({0, 0}) == T(7));
  // Storage outlives the original handle.
  TensorT<T> view;
  {
    auto tmp = hybrid::arange<T>(4);
    view = hybrid::reshape(tmp, {2, 2});
  }
  CHECK(view.to_vector() == std::vector<T>{0, 1, 2, 3});
}

TEMPLATE_TEST_CASE("tensor: value access and its errors", "[core][tensor]", float, double) {
  using T = TestType;
  const auto a = hybrid::from_vector<T>({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(a.to_vector() == std::vector<T>{1, 2, 3, 4, 5, 6});
  CHECK(a.at({1, 2}) == T(6));
  CHECK(a.at({-2, -3}) == T(1));
  CHECK(a.data()[5] == T(6));
  CHECK(hybrid::from_vector<T>({9}, {1, 1, 1}).item() == T(9));

  CHECK_THROWS_AS(a.item(), ShapeError);
  CHECK_THROWS_WITH(a.item(), Contains("item") && Contains("(2, 3)") && Contains("6 elements"));
  CHECK_THROWS_AS(hybrid::zeros<T>({0}).item(), ShapeError);
  CHECK_THROWS_WITH(hybrid::zeros<T>({0}).item(), Contains("(0,)") && Contains("0 elements"));

  CHECK_THROWS_AS(a.at({1}), ShapeError);
  CHECK_THROWS_WITH(a.at({1}), Contains("at") && Contains("1 coordinates") && Contains("(2, 3)"));
  CHECK_THROWS_AS(a.at({1, 3}), ShapeError);
  CHECK_THROWS_WITH(a.at({1, 3}), Contains("index 3 is out of range for dimension 1") && Contains("(2, 3)"));
  CHECK_THROWS_WITH(a.at({-3, 0}), Contains("index -3 is out of range for dimension 0"));
  CHECK_THROWS_AS(a.at({0, 0, 0}), ShapeError);

  // An undefined tensor has no values.
  const TensorT<T> u;
  CHECK_FALSE(u.defined());
  CHECK_FALSE(u.is_traced());
  CHECK_THROWS_AS(u.data(), Error);
  CHECK_THROWS_WITH(u.data(), Contains("Tensor::data()") && Contains("undefined"));
  CHECK_THROWS_WITH(u.item(), Contains("Tensor::item()") && Contains("undefined"));
  CHECK_THROWS_WITH(u.at({}), Contains("Tensor::at()") && Contains("undefined"));
  CHECK_THROWS_WITH(u.to_vector(), Contains("Tensor::to_vector()") && Contains("undefined"));
  CHECK_THROWS_AS(u.clone(), Error);
  CHECK_THROWS_WITH(u.clone(), Contains("Tensor::clone()") && Contains("undefined"));
}

TEST_CASE("tensor: errors derive from Error and std::runtime_error", "[core][tensor]") {
  CHECK_THROWS_AS(hybrid::zeros<float>({-1}), Error);
  CHECK_THROWS_AS(hybrid::zeros<float>({-1}), std::runtime_error);
  const hybrid::FormatError f("model.params: truncated");
  CHECK(std::string(f.what()) == "model.params: truncated");
  const Error& base = f;
  CHECK(std::string(base.what()) == "model.params: truncated");
}

TEST_CASE("tensor: a traced tensor has a symbol and no values", "[core][tensor]") {
  auto state = std::make_shared<hybrid::trace::TraceState<float>>();
  const int id = state->graph.add_variable("data", Shape{2, 3}, hybrid::graph::VarKind::input);
  const auto t = hybrid::detail::TensorAccess::symbol(state, id, Shape{2, 3});
  CHECK(t.is_traced());
  CHECK(t.defined());
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.clone().is_traced());

  CHECK_THROWS_AS(t.data(), TraceError);
  CHECK_THROWS_WITH(t.data(), Contains("(2, 3)") && Contains("values do not exist while") &&
                                  Contains("hybridize(false)"));
  CHECK_THROWS_AS(t.item(), TraceError);
  CHECK_THROWS_AS(t.at({0, 0}), TraceError);
  CHECK_THROWS_AS(t.to_vector(), TraceError);
  CHECK_THROWS_WITH(t.to_vector(), Contains("Tensor::to_vector()") && Contains("where(cond, a, b)"));

  std::ostringstream os;
  os << t;
  CHECK(os.str() == "<symbol data: shape=(2, 3), dtype=float32>");

  // Outside its trace a symbol cannot be used.
  CHECK_THROWS_AS(t + t, TraceError);
  CHECK_THROWS_WITH(t + t, Contains("add") && Contains("outside the trace"));
}

TEMPLATE_TEST_CASE("random: deterministic after seed", "[core][random]", float, double) {
  using T = TestType;
  const Shape shape{7, 13};  // odd count: the last Box–Muller pair is cut in half
  hybrid::random::seed(2024);
  const auto n1 = hybrid::random::normal<T>(shape);
  const auto u1 = hybrid::random::uniform<T>(shape, T(-2), T(3));
  hybrid::random::seed(2024);
  const auto n2 = hybrid::random::normal<T>(shape);
  const auto u2 = hybrid::random::uniform<T>(shape, T(-2), T(3));
  CHECK(n1.shape() == shape);
  CHECK(u1.shape() == shape);
  CHECK(n1.to_vector() == n2.to_vector());
  CHECK(u1.to_vector() == u2.to_vector());

  // The stream moves on, and another seed gives other values.
  const auto n3 = hybrid::random::normal<T>(shape);
  CHECK(n3.to_vector() != n1.to_vector());
  hybrid::random::seed(2025);
  CHECK(hybrid::random::normal<T>(shape).to_vector() != n1.to_vector());

  // 0-d and 0-size shapes work.
  CHECK(hybrid::random::normal<T>({}).size() == 1);
  CHECK(hybrid::random::uniform<T>({0, 3}).size() == 0);
}

TEMPLATE_TEST_CASE("random: distributions", "[core][random]", float, double) {
  using T = TestType;
  hybrid::random::seed(7);
  const int64_t n = 20001;
  auto moments = [](const std::vector<T>& v, double& mean, double& sd) {
    mean = 0;
    for (T x : v) mean += static_cast<double>(x);
    mean /= static_cast<double>(v.size());
    double var = 0;
    for (T x : v) var += (static_cast<double>(x) - mean) * (static_cast<double>(x) - mean);
    sd = std::sqrt(var / static_cast<double>(v.size()));
  };
  double mean, sd;
  moments(hybrid::random::normal<T>({n}).to_vector(), mean, sd);
  CHECK(std::abs(mean) < 0.05);
  CHECK(std::abs(sd - 1) < 0.05);
  moments(hybrid::random::normal<T>({n}, T(5), T(2)).to_vector(), mean, sd);
  CHECK(std::abs(mean - 5) < 0.1);
  CHECK(std::abs(sd - 2) < 0.1);

  const auto u = hybrid::random::uniform<T>({n}, T(-2), T(3)).to_vector();
  bool inside = true;
  for (T x : u) inside = inside && x >= T(-2) && x <= T(3);
  CHECK(inside);
  moments(u, mean, sd);
  CHECK(std::abs(mean - 0.5) < 0.1);
  CHECK(std::abs(sd - 5 / std::sqrt(12.0)) < 0.1);
  const auto unit = hybrid::random::uniform<T>({n}).to_vector();
  inside = true;
  for (T x : unit) inside = inside && x >= T(0) && x <= T(1);
  CHECK(inside);
}

namespace {
template <class T>
std::string printed(const TensorT<T>& t) {
  std::ostringstream os;
  os << t;
  return os.str();
}
}  // namespace

TEST_CASE("print: values, shape and dtype", "[core][print]") {
  CHECK(printed(hybrid::arange<float>(3)) == "tensor([0, 1, 2], shape=(3,), dtype=float32)");
  CHECK(printed(hybrid::from_vector<float>({1, 2, 3, 4}, {2, 2})) ==
        "tensor([[1, 2],\n"
        "        [3, 4]], shape=(2, 2), dtype=float32)");
  CHECK(printed(hybrid::reshape(hybrid::arange<double>(8), {2, 2, 2})) ==
        "tensor([[[0, 1],\n"
        "         [2, 3]],\n"
        "        [[4, 5],\n"
        "         [6, 7]]], shape=(2, 2, 2), dtype=float64)");
  CHECK(printed(hybrid::full<double>({}, 3.5)) == "tensor(3.5, shape=(), dtype=float64)");
  CHECK(printed(hybrid::zeros<float>({0})) == "tensor([], shape=(0,), dtype=float32)");
  CHECK(printed(hybrid::zeros<float>({2, 0})) == "tensor([[],\n        []], shape=(2, 0), dtype=float32)");
  CHECK(printed(hybrid::Tensor()) == "tensor(undefined)");
  // Precision: 6 significant digits for float, 10 for double.
  CHECK(printed(hybrid::full<float>({1}, 1.0f / 3)) == "tensor([0.333333], shape=(1,), dtype=float32)");
  CHECK(printed(hybrid::full<double>({1}, 1.0 / 3)) == "tensor([0.3333333333], shape=(1,), dtype=float64)");
  CHECK(printed(hybrid::full<float>({2}, -2.5f)) == "tensor([-2.5, -2.5], shape=(2,), dtype=float32)");
}

TEST_CASE("print: long tensors are abbreviated", "[core][print]") {
  // Up to 1000 elements print in full.
  const std::string full = printed(hybrid::arange<float>(1000));
  CHECK_THAT(full, Contains("997, 998, 999]"));
  CHECK_THAT(full, !Contains("..."));
  CHECK(printed(hybrid::arange<float>(2000)) ==
        "tensor([0, 1, 2, ..., 1997, 1998, 1999], shape=(2000,), dtype=float32)");
  CHECK(printed(hybrid::reshape(hybrid::arange<float>(1050), {7, 150})) ==
        "tensor([[0, 1, 2, ..., 147, 148, 149],\n"
        "        [150, 151, 152, ..., 297, 298, 299],\n"
        "        [300, 301, 302, ..., 447, 448, 449],\n"
        "        ...,\n"
        "        [600, 601, 602, ..., 747, 748, 749],\n"
        "        [750, 751, 752, ..., 897, 898, 899],\n"
        "        [900, 901, 902, ..., 1047, 1048, 1049]], shape=(7, 150), dtype=float32)");
  // Short dims inside an abbreviated tensor stay whole.
  CHECK(printed(hybrid::reshape(hybrid::arange<double>(1002), {501, 2})) ==
        "tensor([[0, 1],\n"
        "        [2, 3],\n"
        "        [4, 5],\n"
        "        ...,\n"
        "        [996, 997],\n"
        "        [998, 999],\n"
        "        [1000, 1001]], shape=(501, 2), dtype=float64)");
}

TEST_CASE("benchmark: prints the elapsed seconds with four decimals", "[core][benchmark]") {
  std::ostringstream os;
  {
    hybrid::Benchmark b("With hybridization", os);
    CHECK(b.elapsed() >= 0);
    CHECK(os.str().empty());  // nothing until the scope ends
  }
  CHECK_THAT(os.str(), Catch::Matches("With hybridization: [0-9]+\\.[0-9]{4} sec\n"));

  std::ostringstream os2;
  { hybrid::Benchmark b("Without hybridization", os2); }
  { hybrid::Benchmark b("", os2); }
  { hybrid::Benchmark b(std::string("Done"), os2); }
  CHECK_THAT(os2.str(), Catch::Matches("Without hybridization: [0-9]+\\.[0-9]{4} sec\n"
                                       ": [0-9]+\\.[0-9]{4} sec\n"
                                       "Done: [0-9]+\\.[0-9]{4} sec\n"));

  std::ostringstream os3;
  {
    hybrid::Benchmark b("timed", os3);
    const double t1 = b.elapsed();
    volatile double sink = 0;
    for (int i = 0; i < 100000; ++i) sink = sink + i;
    CHECK(b.elapsed() >= t1);
  }
  CHECK_THAT(os3.str(), Catch::StartsWith("timed: 0."));
}
