// The op table: one complete, consistent entry per OpCode.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>

#include <set>
#include <string>

using hybrid::OpCode;
using hybrid::op_def;

namespace {
OpCode code(int i) { return static_cast<OpCode>(i); }
}  // namespace

TEST_CASE("op table: every op has a unique name and a math line", "[ops][op_table]") {
  std::set<std::string> names;
  for (int i = 0; i < hybrid::kOpCount; ++i) {
    const hybrid::OpDef& d = op_def(code(i));
    INFO("op code " << i);
    CHECK(static_cast<int>(d.code) == i);
    REQUIRE(d.name != nullptr);
    CHECK(std::string(d.name).size() > 0);
    CHECK(names.insert(d.name).second);
    REQUIRE(d.math != nullptr);
    CHECK(std::string(d.math).size() > 0);
    CHECK(d.infer != nullptr);
  }
  CHECK(static_cast<int>(names.size()) == hybrid::kOpCount);
}

TEST_CASE("op table: op_from_name round trips", "[ops][op_table]") {
  for (int i = 0; i < hybrid::kOpCount; ++i) {
    const hybrid::OpDef& d = op_def(code(i));
    INFO(d.name);
    OpCode back = OpCode::count;
    CHECK(hybrid::op_from_name(d.name, back));
    CHECK(back == code(i));
  }
  OpCode out = OpCode::add;
  CHECK_FALSE(hybrid::op_from_name("no_such_op", out));
  CHECK_FALSE(hybrid::op_from_name("", out));
  CHECK_FALSE(hybrid::op_from_name("Add", out));
  CHECK(out == OpCode::add);  // untouched on failure
}

TEST_CASE("op table: names are the graph file's names", "[ops][op_table]") {
  CHECK(std::string(op_def(OpCode::variable).name) == "null");
  CHECK(std::string(op_def(OpCode::add).name) == "add");
  CHECK(std::string(op_def(OpCode::sub).name) == "subtract");
  CHECK(std::string(op_def(OpCode::mul).name) == "multiply");
  CHECK(std::string(op_def(OpCode::div).name) == "divide");
  CHECK(std::string(op_def(OpCode::neg).name) == "negative");
  CHECK(std::string(op_def(OpCode::pow_scalar).name) == "power_scalar");
  CHECK(std::string(op_def(OpCode::matmul).name) == "matmul");
  CHECK(std::string(op_def(OpCode::fully_connected).name) == "fully_connected");
  CHECK(std::string(op_def(OpCode::softmax).name) == "softmax");
}

TEST_CASE("op table: traits agree with kernels and arities", "[ops][op_table]") {
  for (int i = 0; i < hybrid::kOpCount; ++i) {
    const OpCode op = code(i);
    const hybrid::OpDef& d = op_def(op);
    INFO(d.name);
    CHECK(d.kernel<float>() != nullptr);
    CHECK(d.kernel<double>() != nullptr);
    const bool elementwise = hybrid::has_trait(op, hybrid::kElementwise);
    const bool internal = hybrid::has_trait(op, hybrid::kInternal);
    if (elementwise && !internal) {
      // Elementwise ops run as tiles, alone or inside a fused group.
      CHECK(d.tile<float>() != nullptr);
      CHECK(d.tile<double>() != nullptr);
      CHECK(d.arity >= 1);
      CHECK(d.arity <= 3);
      CHECK(d.scratch != nullptr);  // tiles need per-run scratch
    } else {
      CHECK(d.tile<float>() == nullptr);
      CHECK(d.tile<double>() == nullptr);
    }
    if (hybrid::has_trait(op, hybrid::kSource)) {
      CHECK(d.arity == 0);
      CHECK_FALSE(elementwise);
    }
    if (hybrid::has_trait(op, hybrid::kCommutative)) {
      CHECK(elementwise);
      CHECK(d.arity == 2);
    }
    if (hybrid::has_trait(op, hybrid::kActivation)) {
      CHECK(elementwise);
      CHECK(d.arity == 1);
    }
    if (hybrid::has_trait(op, hybrid::kReduce)) {
      CHECK(d.arity == 1);
      CHECK((d.attrs & hybrid::kAttrAxes) != 0);
      CHECK((d.attrs & hybrid::kAttrKeepdims) != 0);
    }
  }
  // The internal ops: fused groups, elementwise but without a tile of its
  // own, and the convolution's backward ops.
  CHECK(hybrid::has_trait(OpCode::fused_elementwise, hybrid::kInternal));
  CHECK(hybrid::has_trait(OpCode::fused_elementwise, hybrid::kElementwise));
  CHECK(op_def(OpCode::fused_elementwise).tile<float>() == nullptr);
  CHECK(op_def(OpCode::fused_elementwise).arity == -1);
  // dropout_mask is internal too: made by the train-mode lowering, never in a file.
  CHECK(hybrid::has_trait(OpCode::dropout_mask, hybrid::kInternal));
  CHECK(hybrid::has_trait(OpCode::dropout_mask, hybrid::kRandom));
  // The other internal ops are backward ops, made only by gradient rules.
  for (OpCode op : {OpCode::max_pool2d_backward, OpCode::avg_pool2d_backward, OpCode::embedding_backward}) {
    CHECK(hybrid::has_trait(op, hybrid::kInternal));
    CHECK_FALSE(hybrid::has_trait(op, hybrid::kElementwise));
  }
  int internal = 0;
  for (int i = 0; i < hybrid::kOpCount; ++i) internal += hybrid::has_trait(code(i), hybrid::kInternal);
  CHECK(internal == 7);
  CHECK(hybrid::has_trait(OpCode::conv2d_backward_data, hybrid::kInternal));
  CHECK(hybrid::has_trait(OpCode::conv2d_backward_weight, hybrid::kInternal));
  CHECK_FALSE(hybrid::has_trait(OpCode::conv2d, hybrid::kInternal));
}

TEST_CASE("op table: trait membership", "[ops][op_table]") {
  using hybrid::has_trait;
  for (OpCode op : {OpCode::neg, OpCode::exp, OpCode::log, OpCode::sqrt, OpCode::abs, OpCode::tanh,
                    OpCode::sigmoid, OpCode::relu, OpCode::softrelu, OpCode::pow_scalar})
    CHECK(op_def(op).arity == 1);
  for (OpCode op : {OpCode::add, OpCode::sub, OpCode::mul, OpCode::div, OpCode::maximum, OpCode::minimum,
                    OpCode::greater, OpCode::less, OpCode::equal}) {
    CHECK(has_trait(op, hybrid::kElementwise));
    CHECK(op_def(op).arity == 2);
  }
  CHECK(op_def(OpCode::where).arity == 3);
  for (OpCode op : {OpCode::add, OpCode::mul, OpCode::maximum, OpCode::minimum, OpCode::equal})
    CHECK(has_trait(op, hybrid::kCommutative));
  for (OpCode op : {OpCode::sub, OpCode::div, OpCode::greater, OpCode::less, OpCode::where})
    CHECK_FALSE(has_trait(op, hybrid::kCommutative));
  for (OpCode op : {OpCode::relu, OpCode::sigmoid, OpCode::tanh, OpCode::softrelu, OpCode::gelu, OpCode::silu})
    CHECK(has_trait(op, hybrid::kActivation));
  // An activation runs as a fully_connected epilogue with no attributes of its own.
  for (int i = 0; i < hybrid::kOpCount; ++i)
    if (has_trait(code(i), hybrid::kActivation)) CHECK(op_def(code(i)).attrs == 0u);
  CHECK_FALSE(has_trait(OpCode::exp, hybrid::kActivation));
  for (OpCode op : {OpCode::sum, OpCode::mean, OpCode::max}) CHECK(has_trait(op, hybrid::kReduce));
  for (OpCode op : {OpCode::reshape, OpCode::transpose, OpCode::concat, OpCode::slice})
    CHECK(has_trait(op, hybrid::kLayout));
  for (OpCode op : {OpCode::matmul, OpCode::fully_connected, OpCode::softmax, OpCode::log_softmax}) {
    CHECK_FALSE(has_trait(op, hybrid::kElementwise));
    CHECK_FALSE(has_trait(op, hybrid::kReduce));
  }
  CHECK(has_trait(OpCode::variable, hybrid::kSource));
  CHECK(has_trait(OpCode::constant, hybrid::kSource));
  CHECK(op_def(OpCode::pow_scalar).attrs == hybrid::kAttrScalar);
  CHECK(op_def(OpCode::add).attrs == 0u);
}

TEST_CASE("op table: infer_shape checks arity and normalises axes", "[ops][op_table]") {
  using hybrid::Shape;
  hybrid::Attrs attrs;
  const Shape one[1] = {Shape{2, 3}};
  CHECK_THROWS_AS(hybrid::infer_shape(OpCode::add, one, 1, attrs), hybrid::ShapeError);
  CHECK_THROWS_WITH(hybrid::infer_shape(OpCode::add, one, 1, attrs), "add: expects 2 inputs, got 1");

  attrs.axes = Shape{-1};
  CHECK(hybrid::infer_shape(OpCode::sum, one, 1, attrs) == Shape{2});
  CHECK(attrs.axes == Shape{1});
  attrs.axis = -1;
  CHECK(hybrid::infer_shape(OpCode::softmax, one, 1, attrs) == Shape{2, 3});
  CHECK(attrs.axis == 1);

  // An output whose element count overflows is rejected at inference, before any kernel runs.
  const int64_t big = int64_t(1) << 40;
  const Shape two[2] = {Shape{big, 1}, Shape{1, big}};
  hybrid::Attrs none;
  CHECK_THROWS_AS(hybrid::infer_shape(OpCode::add, two, 2, none), hybrid::ShapeError);
  CHECK_THROWS_WITH(hybrid::infer_shape(OpCode::add, two, 2, none),
                    Catch::Contains("add") && Catch::Contains("overflows"));
}

TEST_CASE("attribute descriptors: one per field, no key read twice by an op", "[ops][op_table]") {
  uint32_t seen = 0;
  for (const hybrid::AttrDesc& d : hybrid::kAttrDescs) {
    INFO(d.key);
    CHECK((seen & d.field) == 0u);  // each flag described once
    seen |= d.field;
    const int members = (d.integer != nullptr) + (d.boolean != nullptr) + (d.real != nullptr) + (d.list != nullptr);
    CHECK(members == 1);
    CHECK(std::string(d.meaning).size() > 0);
  }
  for (int i = 0; i < hybrid::kOpCount; ++i) {
    const hybrid::OpDef& op = op_def(code(i));
    INFO(op.name);
    CHECK((op.attrs & ~seen) == 0u);  // every field an op reads has a descriptor
    std::set<std::string> keys;
    for (const hybrid::AttrDesc& d : hybrid::kAttrDescs)
      if (op.attrs & d.field) CHECK(keys.insert(d.key).second);
  }
}

TEST_CASE("attribute descriptors drive attribute comparison", "[ops][op_table]") {
  hybrid::Attrs a, b;
  b.alpha = 0.2;
  CHECK_FALSE(hybrid::same_attrs(op_def(OpCode::leaky_relu).attrs, a, b));
  CHECK(hybrid::same_attrs(op_def(OpCode::relu).attrs, a, b));  // relu reads no alpha
  b = a;
  b.axes = hybrid::Shape{0, 2};
  CHECK_FALSE(hybrid::same_attrs(op_def(OpCode::sum).attrs, a, b));
  CHECK(hybrid::same_attrs(op_def(OpCode::softmax).attrs, a, b));
}

TEST_CASE("op table: every op has a gradient entry that matches its traits", "[ops][op_table][autograd]") {
  using hybrid::autograd::GradKind;
  for (int i = 0; i < hybrid::kOpCount; ++i) {
    const auto& g = hybrid::autograd::grad_def(code(i));
    INFO(op_def(code(i)).name);
    CHECK(static_cast<int>(g.code) == i);
    CHECK((g.kind == GradKind::rule) == (g.rule_f32 != nullptr));
    if (hybrid::has_trait(code(i), hybrid::kSource)) CHECK(g.kind == GradKind::not_differentiable);
    // Internal ops come after differentiation, except dropout_mask (lowered before it; zero gradient).
    if (hybrid::has_trait(code(i), hybrid::kInternal))
      CHECK(g.kind == (code(i) == OpCode::dropout_mask ? GradKind::zero : GradKind::internal));
  }
  // Integer-valued ops have zero gradients (API.md: comparisons give zero gradients).
  for (OpCode op : {OpCode::greater, OpCode::less, OpCode::equal, OpCode::argmax, OpCode::one_hot})
    CHECK(hybrid::autograd::grad_def(op).kind == GradKind::zero);
}
