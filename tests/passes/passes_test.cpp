// Each pass on small hand-built or traced graphs, asserted as node counts.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>
#include <hybrid/exec/executable.hpp>
#include <hybrid/passes/pipeline.hpp>
#include <hybrid/trace/trace_function.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "../reference.hpp"

using namespace hybrid;
using graph::Graph;

namespace {

template <class T>
int count_op(const Graph<T>& g, OpCode op) {
  int n = 0;
  for (const auto& node : g.nodes) n += node.op == op;
  return n;
}

template <class T>
int count_compute(const Graph<T>& g) {
  int n = 0;
  for (const auto& node : g.nodes) n += !has_trait(node.op, kSource);
  return n;
}

Tensor add2(const Tensor& a, const Tensor& b) { return a + b; }

}  // namespace

TEST_CASE("fancy_func on constants folds to the single constant 10", "[passes]") {
  auto g = trace::trace_graph<float>(
      [](const Tensor&) {
        Tensor a = full<float>({}, 1), b = full<float>({}, 2), c = full<float>({}, 3), d = full<float>({}, 4);
        Tensor e = add2(a, b), f = add2(c, d);
        return add2(e, f);
      },
      Shape{1});
  CHECK(count_op(g, OpCode::add) == 3);
  auto folded = passes::fold_constants(g);
  CHECK(count_compute(folded) == 0);
  REQUIRE(folded.outputs.size() == 1);
  const auto& out = folded.nodes[folded.outputs[0]];
  REQUIRE(out.op == OpCode::constant);
  CHECK(out.value.item() == 10.0f);
}

TEST_CASE("dead-code elimination keeps inputs and what the outputs need", "[passes]") {
  Graph<float> g;
  const int x = g.add_variable("data", {4}, graph::VarKind::input);
  const int unused_param = g.add_variable("w", {4}, graph::VarKind::param);
  const int dead = g.add_op(OpCode::exp, {x}, {});
  const int live = g.add_op(OpCode::relu, {x}, {});
  g.add_op(OpCode::add, {dead, unused_param}, {});
  g.outputs = {live};
  auto out = passes::eliminate_dead_code(g);
  CHECK(out.nodes.size() == 2);
  CHECK(out.nodes[0].op == OpCode::variable);
  CHECK(out.nodes[1].op == OpCode::relu);
  CHECK(out.outputs == std::vector<int>{1});
}

TEST_CASE("common-subexpression elimination merges identical nodes and constants", "[passes]") {
  Graph<double> g;
  const int x = g.add_variable("data", {3}, graph::VarKind::input);
  const int c1 = g.add_constant(full<double>({}, 2.0));
  const int c2 = g.add_constant(full<double>({}, 2.0));
  const int c3 = g.add_constant(full<double>({}, 3.0));
  const int a = g.add_op(OpCode::mul, {x, c1}, {});
  const int b = g.add_op(OpCode::mul, {c2, x}, {});  // commutative: same as a
  const int c = g.add_op(OpCode::mul, {x, c3}, {});  // different constant
  Attrs s1, s2;
  s1.axis = 0;
  s2.axis = 0;
  s2.keepdims = true;
  const int r1 = g.add_op(OpCode::sum, {a}, s1);
  const int r2 = g.add_op(OpCode::sum, {b}, s2);  // different attrs: kept
  const int sum = g.add_op(OpCode::add, {a, b}, {});
  g.outputs = {sum, c, r1, r2};
  auto out = passes::eliminate_common_subexpressions(g);
  CHECK(count_op(out, OpCode::constant) == 2);
  CHECK(count_op(out, OpCode::mul) == 2);
  CHECK(count_op(out, OpCode::sum) == 2);
  const auto& add = out.nodes[out.outputs[0]];
  CHECK(add.inputs[0] == add.inputs[1]);
}

TEST_CASE("simplification removes neutral elements and composes layout ops", "[passes]") {
  auto g = trace::trace_graph<float>(
      [](const Tensor& x) {
        Tensor y = (x + 0.0f) * 1.0f / 1.0f - 0.0f;
        y = pow(y, 1.0f);
        y = transpose(transpose(y));
        y = reshape(reshape(y, {6, 4}), {2, 3, 4});
        return y + 1.0f;
      },
      Shape{2, 3, 4});
  auto out = passes::simplify(passes::fold_constants(g));
  CHECK(count_compute(out) == 1);
  CHECK(count_op(out, OpCode::add) == 1);

  SECTION("a neutral element that broadcasts is kept") {
    auto g2 = trace::trace_graph<float>([](const Tensor& x) { return x + zeros<float>({5, 3}); }, Shape{3});
    CHECK(count_op(passes::simplify(g2), OpCode::add) == 1);
  }
  SECTION("transpose with a permutation composes into one transpose") {
    auto g3 = trace::trace_graph<float>([](const Tensor& x) { return transpose(transpose(x, {1, 0, 2}), {0, 2, 1}); },
                                        Shape{2, 3, 4});
    auto s = passes::simplify(g3);
    REQUIRE(count_op(s, OpCode::transpose) == 1);
    auto x = random::normal<float>({2, 3, 4});
    exec::Executable<float> ex(s, true);
    const float* in[1] = {x.data()};
    Tensor y[1];
    ex.run(in, nullptr, y);
    CHECK(allclose(y[0], transpose(transpose(x, {1, 0, 2}), {0, 2, 1})));
  }
}

TEST_CASE("elementwise fusion makes one node of a chain", "[passes]") {
  auto g = trace::trace_graph<float>(
      [](const Tensor& x) { return tanh(exp(x) * 2.0f + sigmoid(x)) - x; }, Shape{4, 5});
  auto fused = passes::fuse_elementwise(g);
  CHECK(count_compute(fused) == 1);
  CHECK(count_op(fused, OpCode::fused_elementwise) == 1);

  SECTION("a value used outside the group stays its own node") {
    auto g2 = trace::trace_graph<float>(
        [](const Tensor& x) {
          Tensor e = exp(x);
          return matmul(e * 2.0f + 1.0f, transpose(e));
        },
        Shape{3, 3});
    auto f2 = passes::fuse_elementwise(g2);
    CHECK(count_op(f2, OpCode::exp) == 1);
    CHECK(count_op(f2, OpCode::fused_elementwise) == 1);
  }
  SECTION("a reduction splits groups") {
    auto g3 = trace::trace_graph<float>([](const Tensor& x) { return exp(sum(relu(x) * 3.0f, 1)) + 1.0f; }, Shape{3, 4});
    auto f3 = passes::fuse_elementwise(g3);
    CHECK(count_op(f3, OpCode::fused_elementwise) == 2);
    CHECK(count_op(f3, OpCode::sum) == 1);
  }
}

TEST_CASE("dense fusion folds bias and activation into fully_connected", "[passes]") {
  auto W = random::normal<float>({8, 6}), b = random::normal<float>({8});
  SECTION("matmul with a transposed weight, a bias add and relu") {
    // The weight is a graph variable, as a parameter is in a traced block.
    auto g = trace::trace_graph<float>(
        [&](const std::vector<Tensor>& in) { return relu(matmul(in[0], transpose(in[1])) + b); },
        std::vector<Shape>{{5, 6}, {8, 6}});
    auto f = passes::fuse_dense(g);
    CHECK(count_compute(f) == 1);
    const auto& out = f.nodes[f.outputs[0]];
    CHECK(out.op == OpCode::fully_connected);
    CHECK(out.attrs.activation == static_cast<int>(OpCode::relu));
    CHECK_FALSE(out.attrs.no_bias);
  }
  SECTION("an activation whose input is used twice is not fused") {
    auto g = trace::trace_graph<float>(
        [&](const Tensor& x) {
          Tensor h = fully_connected(x, W, b);
          return relu(h) + h;
        },
        Shape{5, 6});
    auto f = passes::fuse_dense(g);
    CHECK(count_op(f, OpCode::relu) == 1);
  }
}

TEST_CASE("conv fusion folds a per-channel bias and the activation into conv2d", "[passes]") {
  auto W = random::normal<float>({4, 3, 3, 3});
  SECTION("conv2d without bias, a (1, O, 1, 1) bias add and relu") {
    auto g = trace::trace_graph<float>(
        [&](const std::vector<Tensor>& in) { return relu(conv2d(in[0], in[1], Tensor(), {1, 1}, {1, 1}) + in[2]); },
        std::vector<Shape>{{2, 3, 6, 6}, {4, 3, 3, 3}, {1, 4, 1, 1}});
    CHECK(count_compute(g) == 3);
    auto f = passes::fuse_conv(g);
    // The bias variable is reshaped to (O,) for the kernel.
    CHECK(count_compute(f) == 2);
    CHECK(count_op(f, OpCode::reshape) == 1);
    const auto& out = f.nodes[f.outputs[0]];
    CHECK(out.op == OpCode::conv2d);
    CHECK(out.attrs.activation == static_cast<int>(OpCode::relu));
    CHECK_FALSE(out.attrs.no_bias);
    CHECK(out.inputs.size() == 3);
    CHECK(graph::op_label(out) == "conv2d+relu");
  }
  SECTION("an (O, 1, 1) bias on the left of the add, then tanh") {
    auto b = random::normal<float>({4, 1, 1});
    auto g = trace::trace_graph<float>(
        [&](const Tensor& x) { return tanh(b + conv2d(x, W, Tensor())); }, Shape{2, 3, 5, 5});
    auto f = passes::optimize(g, HybridizeOptions{});  // the reshape of the constant bias folds
    CHECK(count_compute(f) == 1);
    CHECK(f.nodes[f.outputs[0]].attrs.activation == static_cast<int>(OpCode::tanh));
  }
  SECTION("a Conv2D layer's conv2d and activation become one node") {
    nn::Conv2D conv(4, 3, 1, 1, 1, 1, "relu");
    conv.initialize();
    conv.hybridize();
    (void)conv(random::normal<float>({1, 3, 5, 5}));
    CHECK(conv.graph_ops() == std::vector<std::string>{"conv2d"});
    CHECK(conv.graph_dot().find("conv2d+relu") != std::string::npos);
  }
  SECTION("what is not a per-channel epilogue stays") {
    auto bias = random::normal<float>({4});
    auto g = trace::trace_graph<float>(
        [&](const Tensor& x) {
          Tensor h = conv2d(x, W, Tensor());
          Tensor biased = conv2d(x, W, bias) + random::normal<float>({1, 4, 1, 1});  // has a bias already
          Tensor wide = conv2d(x, W, Tensor()) + random::normal<float>({1, 1, 3, 3});   // not per channel
          return relu(h) + h + biased + wide;  // h is used twice: relu stays
        },
        Shape{2, 3, 5, 5});
    auto f = passes::fuse_conv(g);
    CHECK(count_op(f, OpCode::relu) == 1);
    CHECK(count_op(f, OpCode::add) == count_op(g, OpCode::add));
    for (const auto& n : f.nodes)
      if (n.op == OpCode::conv2d) CHECK(n.attrs.activation == -1);
  }
}

TEMPLATE_TEST_CASE("the pipeline preserves a convolution's results", "[passes]", float, double) {
  using T = TestType;
  auto W1 = random::normal<T>({4, 2, 3, 3}), W2 = random::normal<T>({4, 2, 1, 1});
  auto b1 = random::normal<T>({1, 4, 1, 1}), b2 = random::normal<T>({4});
  auto fn = [&](const TensorT<T>& x) {
    TensorT<T> h = sigmoid(conv2d(x, W1, TensorT<T>(), {2, 1}, {1, 1}) + b1);
    return relu(conv2d(h, W2, b2, {1, 1}, {0, 0}, {1, 1}, 2));
  };
  auto g = trace::trace_graph<T>(fn, Shape{3, 2, 7, 6});
  const auto x = random::normal<T>({3, 2, 7, 6});
  const TensorT<T> expected = fn(x);
  for (int mask = 0; mask < 16; ++mask) {
    HybridizeOptions o;
    o.fold_constants = mask & 1;
    o.eliminate_common = mask & 2;
    o.fuse = mask & 4;
    o.plan_memory = mask & 8;
    const auto optimized = passes::optimize(g, o);
    if (o.fuse) CHECK(count_compute(optimized) == 2);  // two conv2d nodes, epilogues inside
    exec::Executable<T> ex(optimized, o.plan_memory);
    const T* in[1] = {x.data()};
    TensorT<T> y[1];
    ex.run(in, nullptr, y);
    INFO("options mask " << mask);
    CHECK(allclose(y[0], expected, std::is_same_v<T, float> ? 1e-5 : 1e-12, 1e-6));
  }
}

TEMPLATE_TEST_CASE("the pipeline preserves results", "[passes]", float, double) {
  using T = TestType;
  auto W = random::normal<T>({16, 10}), b = random::normal<T>({16});
  auto fn = [&](const TensorT<T>& x) {
    TensorT<T> h = tanh(fully_connected(x, W, b));
    TensorT<T> y = h * h + exp(-h) * T(0.5) - ones<T>({16}) * T(2) * T(0.25);
    return softmax(y, -1) + max(y, 1, true);
  };
  auto g = trace::trace_graph<T>(fn, Shape{3, 10});
  const auto x = random::normal<T>({3, 10});
  const TensorT<T> expected = fn(x);
  for (int mask = 0; mask < 16; ++mask) {
    HybridizeOptions o;
    o.fold_constants = mask & 1;
    o.eliminate_common = mask & 2;
    o.fuse = mask & 4;
    o.plan_memory = mask & 8;
    exec::Executable<T> ex(passes::optimize(g, o), o.plan_memory);
    const T* in[1] = {x.data()};
    TensorT<T> y[1];
    ex.run(in, nullptr, y);
    INFO("options mask " << mask);
    CHECK(allclose(y[0], expected, std::is_same_v<T, float> ? 1e-5 : 1e-12, 1e-6));
  }
}

TEMPLATE_TEST_CASE("a chain of the new elementwise ops fuses into one node that keeps each node's attributes",
                   "[passes]", float, double) {
  using T = TestType;
  // Two clips with different bounds: only both together limit to [-1, 1].
  // Two leaky_relu of the same input with different slopes: CSE must keep both.
  auto fn = [](const TensorT<T>& x) {
    const TensorT<T> c = clip(clip(x, -3.0, 1.0), -1.0, 3.0);
    const TensorT<T> l = leaky_relu(c, 0.25) + leaky_relu(c, 0.5);
    const TensorT<T> g = gelu(l) + silu(x);
    return log1p(rsqrt(square(g) + T(0.5)));
  };
  auto reference = [](double x) {
    const double c = std::min(std::max(std::min(std::max(x, -3.0), 1.0), -1.0), 3.0);
    const double l = (c > 0 ? c : 0.25 * c) + (c > 0 ? c : 0.5 * c);
    const double g = ref::gelu(l) + ref::silu(x);
    return std::log1p(1 / std::sqrt(g * g + 0.5));
  };
  const Shape shape{3, 700};  // several 512-element tiles
  ref::Rng r(31);
  const ref::Array xa = ref::random_array<T>(r, ref::dims(shape), -4, 4);
  const TensorT<T> x = ref::tensor<T>(xa);
  const TensorT<T> eager = fn(x);
  const double rtol = std::is_same_v<T, float> ? 2e-5 : 1e-12, atol = std::is_same_v<T, float> ? 1e-6 : 1e-13;
  CHECK(allclose(eager, ref::tensor<T>(ref::unary(xa, reference)), rtol, atol));

  // The optimized graph: one fused node, whose program holds every op with its own attributes.
  auto g = passes::optimize(trace::trace_graph<T>(fn, shape), HybridizeOptions{});
  CHECK(count_compute(g) == 1);
  REQUIRE(count_op(g, OpCode::fused_elementwise) == 1);
  const auto& fused = g.nodes[g.outputs[0]];
  REQUIRE(fused.op == OpCode::fused_elementwise);
  REQUIRE(fused.attrs.program);
  std::vector<std::string> ops;
  std::vector<std::pair<double, double>> clips;
  std::vector<double> slopes;
  for (const FusedStep& s : fused.attrs.program->steps) {
    ops.push_back(op_def(s.op).name);
    if (s.op == OpCode::clip) clips.emplace_back(s.attrs.a_min, s.attrs.a_max);
    if (s.op == OpCode::leaky_relu) slopes.push_back(s.attrs.alpha);
  }
  for (const char* op : {"clip", "leaky_relu", "gelu", "silu", "square", "rsqrt", "log1p"}) {
    INFO("op " << op);
    CHECK(std::count(ops.begin(), ops.end(), op) == (std::string(op) == "clip" || std::string(op) == "leaky_relu" ? 2 : 1));
  }
  std::sort(clips.begin(), clips.end());
  CHECK(clips == std::vector<std::pair<double, double>>{{-3.0, 1.0}, {-1.0, 3.0}});
  std::sort(slopes.begin(), slopes.end());
  CHECK(slopes == std::vector<double>{0.25, 0.5});

  // The compiled plan agrees with eager execution, with and without fusion.
  for (bool fuse : {true, false}) {
    HybridizeOptions o;
    o.fuse = fuse;
    exec::Executable<T> ex(passes::optimize(trace::trace_graph<T>(fn, shape), o), true);
    const T* in[1] = {x.data()};
    TensorT<T> y[1];
    ex.run(in, nullptr, y);
    INFO("fuse " << fuse);
    CHECK(allclose(y[0], eager, rtol, atol));
  }

  // Hybridized, as a user sees it: one fused_elementwise node.
  nn::HybridLambdaT<T> net(fn);
  net.hybridize();
  const TensorT<T> y = net(x);
  CHECK(net.graph_ops() == std::vector<std::string>{"fused_elementwise"});
  CHECK(allclose(y, eager, rtol, atol));
  CHECK(allclose(net(x * T(0.5)), fn(x * T(0.5)), rtol, atol));  // the replay
}

TEST_CASE("common-subexpression elimination compares the new ops' attributes", "[passes]") {
  Graph<double> g;
  const int x = g.add_variable("data", {2, 3, 4}, graph::VarKind::input);
  const int idx = g.add_constant(from_vector<double>({1, 0}));
  std::vector<int> outs;
  auto op = [&](OpCode code, std::vector<int> in, auto set) {
    Attrs a;
    set(a);
    outs.push_back(g.add_op(code, std::move(in), a));
  };
  // Each op three times: the third repeats the first and merges; the second differs in one attribute.
  for (double alpha : {0.1, 0.2, 0.1}) op(OpCode::leaky_relu, {x}, [&](Attrs& a) { a.alpha = alpha; });
  for (double hi : {1.0, 2.0, 1.0}) op(OpCode::clip, {x}, [&](Attrs& a) { a.a_max = hi; });
  for (double v : {0.0, 1.0, 0.0}) op(OpCode::pad, {x}, [&](Attrs& a) { a.pad_before = {0, 1, 0}; a.pad_after = {0, 0, 2}; a.constant_value = v; });
  for (int64_t w : {1, 2, 1}) op(OpCode::pad, {x}, [&](Attrs& a) { a.pad_before = {0, w, 0}; a.pad_after = {0, 0, 0}; a.constant_value = 5; });
  for (int64_t ax : {1, 2, 1}) op(OpCode::sum, {x}, [&](Attrs& a) { a.axes = {0, ax}; });
  for (int64_t ax : {-1, -2, 2}) op(OpCode::max, {x}, [&](Attrs& a) { a.axes = {0, ax}; });  // -1 is 2
  for (double on : {1.0, 2.0, 1.0}) op(OpCode::one_hot, {idx}, [&](Attrs& a) { a.depth = 3; a.on_value = on; });
  for (int64_t depth : {3, 4, 3}) op(OpCode::one_hot, {idx}, [&](Attrs& a) { a.depth = depth; });
  for (int64_t lead : {2, 3, 2}) op(OpCode::broadcast_to, {x}, [&](Attrs& a) { a.shape = {lead, 2, 3, 4}; });
  for (int64_t ax : {0, 1, -3}) op(OpCode::take, {x, idx}, [&](Attrs& a) { a.axis = ax; });  // -3 is 0
  for (bool keep : {false, true, false}) op(OpCode::argmax, {x}, [&](Attrs& a) { a.axis = 1; a.keepdims = keep; });
  for (int64_t ax : {0, 3, 0}) op(OpCode::stack, {x, x}, [&](Attrs& a) { a.axis = ax; });
  g.outputs = outs;
  auto out = passes::eliminate_common_subexpressions(g);
  for (OpCode code : {OpCode::leaky_relu, OpCode::clip, OpCode::sum, OpCode::max, OpCode::broadcast_to, OpCode::take,
                      OpCode::argmax, OpCode::stack}) {
    INFO(op_def(code).name);
    CHECK(count_op(out, code) == 2);
  }
  CHECK(count_op(out, OpCode::pad) == 4);
  CHECK(count_op(out, OpCode::one_hot) == 3);  // on 1 depth 3 appears in both triples
}
