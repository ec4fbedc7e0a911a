// ONNX export: the seed MLP, LeNet, the small ResNet, the every-op model
// and a trained MLP, in float and double, at every supported opset, pass
// ONNX's checker and its strict shape inference; the inferred output shapes
// equal hybrid's, with the symbolic batch kept where axis 0 is the batch;
// parameters are initializers holding the block's values, every initializer
// is used; reshape targets keep the symbolic batch; a block last called in
// train mode exports its predict form; errors leave no file. Where the
// importer is built in, exported models (the every-op model at every opset
// among them) import back and compute the same, eagerly and hybridized, at
// the traced batch and at batch 5. The "[ort-export]" case (hidden) writes
// models, inputs and hybrid's outputs for tests/onnx/ort_check.js, which
// runs them in ONNX Runtime.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>
#include <hybrid/onnx/export.hpp>
#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <type_traits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "../support/files.hpp"
#include "../support/models.hpp"
#include "../support/npy.hpp"

using Catch::Contains;
using hybrid::Error;
using hybrid::OpCode;
using hybrid::Shape;
using hybrid::TensorT;
namespace fs = std::filesystem;
namespace nn = hybrid::nn;
namespace hx = hybrid::onnx;

namespace {

/// ONNX's checker, then its shape inference in strict mode (node-level
/// errors throw, types checked): what a runtime would do on load.
::onnx::ModelProto checked(const std::string& path) {
  ::onnx::ModelProto model = hx::read_model_file(path);
  REQUIRE_NOTHROW(::onnx::checker::check_model(model));
  ::onnx::ShapeInferenceOptions strict(/*check_type=*/true, /*strict_mode=*/1, /*data_prop=*/true);
  REQUIRE_NOTHROW(::onnx::shape_inference::InferShapes(model, ::onnx::OpSchemaRegistry::Instance(), strict));
  return model;
}

/// A dimension as text: its value, or its symbol.
std::string dim_text(const ::onnx::TensorShapeProto_Dimension& d) {
  return d.has_dim_param() ? d.dim_param() : d.has_dim_value() ? std::to_string(d.dim_value()) : "?";
}
std::string shape_text(const ::onnx::ValueInfoProto& v) {
  std::string s = "(";
  for (const auto& d : v.type().tensor_type().shape().dim()) s += (s.size() > 1 ? ", " : "") + dim_text(d);
  return s + ")";
}
std::string expected_text(const Shape& s, bool batch) {
  std::string t = "(";
  for (int d = 0; d < s.size(); ++d) t += (d ? ", " : "") + (d == 0 && batch ? std::string("batch") : std::to_string(s[d]));
  return t + ")";
}

const ::onnx::ValueInfoProto* find_value(const ::onnx::GraphProto& g, const std::string& name) {
  for (const auto& v : g.value_info())
    if (v.name() == name) return &v;
  for (const auto& v : g.output())
    if (v.name() == name) return &v;
  return nullptr;
}

/// Checks the exported model against the block it came from: one input
/// ("data", symbolic batch), one initializer per parameter with its exact
/// bytes, the declared output shape, and ONNX's own inference of every
/// output equal to it.
template <class T, class Net>
void check_export(Net& net, const std::string& path, const Shape& in_shape, int opset, bool batch_out = true) {
  net.hybridize();
  const TensorT<T> y = net(hybrid::random::normal<T>(in_shape));
  hx::export_model(net, path, opset);
  const ::onnx::ModelProto model = checked(path);
  CHECK(model.ir_version() == 8);
  REQUIRE(model.opset_import_size() == 1);
  CHECK(model.opset_import(0).domain().empty());
  CHECK(model.opset_import(0).version() == opset);
  const ::onnx::GraphProto& g = model.graph();
  const int type = sizeof(T) == 4 ? ::onnx::TensorProto_DataType_FLOAT : ::onnx::TensorProto_DataType_DOUBLE;
  REQUIRE(g.input_size() == 1);
  CHECK(g.input(0).name() == "data");
  CHECK(g.input(0).type().tensor_type().elem_type() == type);
  CHECK(shape_text(g.input(0)) == expected_text(in_shape, true));
  REQUIRE(g.output_size() == 1);
  CHECK(g.output(0).type().tensor_type().elem_type() == type);
  CHECK(shape_text(g.output(0)) == expected_text(y.shape(), batch_out));
  // Initializers: every parameter, by its name, with the block's values.
  std::map<std::string, const ::onnx::TensorProto*> inits;
  for (const auto& t : g.initializer()) inits[t.name()] = &t;
  int params = 0;
  for (const auto& p : net.collect_params()) {
    INFO("parameter " << p->name());
    auto it = inits.find(p->name());
    REQUIRE(it != inits.end());
    ++params;
    const ::onnx::TensorProto& t = *it->second;
    CHECK(t.data_type() == type);
    CHECK(std::vector<int64_t>(t.dims().begin(), t.dims().end()) == p->data().shape().to_vector());
    REQUIRE(t.raw_data().size() == sizeof(T) * static_cast<size_t>(p->data().size()));
    CHECK(std::memcmp(t.raw_data().data(), p->data().data(), t.raw_data().size()) == 0);
  }
  // Internal ops never reach the file; fused nodes are written as members.
  std::set<std::string> used;
  for (const auto& n : g.node()) {
    CHECK(n.domain().empty());
    used.insert(n.input().begin(), n.input().end());
  }
  // No initializer is left unused (runtimes warn about and drop those).
  for (const auto& t : g.initializer()) {
    INFO("initializer " << t.name());
    CHECK(used.count(t.name()) == 1);
  }
}

/// The hybrid::Error (message) that `f` throws.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  FAIL("expected hybrid::Error, nothing was thrown");
  return {};
}

/// The int64 initializers (shapes, axes, indices) by name.
std::map<std::string, std::vector<int64_t>> int64_initializers(const ::onnx::ModelProto& m) {
  std::map<std::string, std::vector<int64_t>> ints;
  for (const auto& t : m.graph().initializer())
    if (t.data_type() == ::onnx::TensorProto_DataType_INT64) {
      std::vector<int64_t> v(t.raw_data().size() / 8);
      std::memcpy(v.data(), t.raw_data().data(), t.raw_data().size());
      ints[t.name()] = v;
    }
  return ints;
}

/// `steps` SGD steps of `net` on (x, target).
template <class Net, class Loss>
void train(Net& net, Loss& loss, nn::Trainer& trainer, const TensorT<float>& x, const TensorT<float>& target,
           int steps) {
  for (int step = 0; step < steps; ++step) {
    TensorT<float> l;
    {
      auto rec = hybrid::autograd::record();
      l = loss(net(x), target);
    }
    l.backward();
    trainer.step(static_cast<int>(x.shape()[0]));
  }
}

/// Counts the nodes of each ONNX op type.
std::map<std::string, int> op_types(const ::onnx::ModelProto& m) {
  std::map<std::string, int> ops;
  for (const auto& n : m.graph().node()) ++ops[n.op_type()];
  return ops;
}

/// Reshapes keeping the batch on axis 0 (hybrid writes its traced extent)
/// and one that merges it into rows (batch · 2 rows of 6).
template <class T>
class ReshapeNetT : public nn::HybridBlockT<T> {
 public:
  hybrid::TensorT<T> forward(const hybrid::TensorT<T>& x) override {
    const int64_t b = x.shape()[0];
    // An op between reshapes, so the optimizer does not merge them.
    const TensorT<T> kept = hybrid::softmax(hybrid::reshape(x, {b, 3, 4}), -1);  // (b, 12) → (b, 3, 4)
    const TensorT<T> rows = hybrid::relu(hybrid::reshape(kept, {-1, 6}));        // (2b, 6)
    const TensorT<T> back = hybrid::tanh(hybrid::reshape(rows, {b, 12}));
    return hybrid::broadcast_to(hybrid::reshape(back, {b, 1, 12}), {b, 2, 12});
  }
};

/// Reshapes that keep the batch on axis 0, written with the traced batch
/// extent: the exported graph runs at other batch sizes (in ONNX Runtime).
template <class T>
class BatchReshapeNetT : public nn::HybridBlockT<T> {
 public:
  hybrid::TensorT<T> forward(const hybrid::TensorT<T>& x) override {
    const int64_t b = x.shape()[0];
    const TensorT<T> h = hybrid::softmax(hybrid::reshape(x, {b, 3, 4}), -1);
    return hybrid::broadcast_to(hybrid::reshape(h, {b, 1, 12}), {b, 2, 12});
  }
};

}  // namespace

TEMPLATE_TEST_CASE("the seed MLP exports at every opset from 13 to 17", "[onnx][export]", float, double) {
  testing::TempDir dir;
  for (int opset = 13; opset <= 17; ++opset) {
    INFO("opset " << opset);
    auto net = testing::seed_mlp<TestType>();
    check_export<TestType>(net, dir.file("mlp.onnx"), Shape{1, 512}, opset);
    const auto ops = op_types(hx::read_model_file(dir.file("mlp.onnx")));
    CHECK(ops.at("Gemm") == 3);
    CHECK(ops.at("Relu") == 2);
  }
}

TEMPLATE_TEST_CASE("LeNet exports at every opset from 13 to 17", "[onnx][export]", float, double) {
  testing::TempDir dir;
  for (int opset = 13; opset <= 17; ++opset) {
    INFO("opset " << opset);
    auto net = testing::lenet<TestType>();
    check_export<TestType>(net, dir.file("lenet.onnx"), Shape{2, 1, 28, 28}, opset);
    const auto ops = op_types(hx::read_model_file(dir.file("lenet.onnx")));
    CHECK(ops.at("Conv") == 2);
    CHECK(ops.at("MaxPool") == 2);
    CHECK(ops.at("Gemm") == 3);
    CHECK(ops.at("Flatten") == 1);
  }
}

TEMPLATE_TEST_CASE("the small ResNet exports with BatchNorm in its predict form", "[onnx][export]", float, double) {
  testing::TempDir dir;
  auto net = testing::small_resnet<TestType>();
  for (int opset : {13, 15, 17}) {
    INFO("opset " << opset);
    check_export<TestType>(net, dir.file("resnet.onnx"), Shape{2, 1, 28, 28}, opset);
    const ::onnx::ModelProto m = hx::read_model_file(dir.file("resnet.onnx"));
    const auto ops = op_types(m);
    CHECK(ops.at("Conv") == 6);
    CHECK(ops.at("GlobalAveragePool") == 1);
    // float: BatchNormalization in inference mode, its running statistics
    // initializers; double: the predict-mode formula (ONNX's epsilon is float).
    if (std::is_same<TestType, float>::value) {
      CHECK(ops.at("BatchNormalization") == 5);
      for (const auto& n : m.graph().node())
        if (n.op_type() == "BatchNormalization") {
          CHECK(n.input_size() == 5);
          CHECK(n.output_size() == 1);  // inference mode: no running-statistics outputs
        }
    } else {
      CHECK(ops.count("BatchNormalization") == 0);
    }
  }
}

TEMPLATE_TEST_CASE("the every-op model exports, each op mapped, at opsets 13 and 17", "[onnx][export]", float, double) {
  testing::TempDir dir;
  for (int opset : {13, 14, 16, 17}) {
    INFO("opset " << opset);
    testing::AllOpsNetT<TestType> net;
    net.initialize(nn::init::Normal(0.5));
    check_export<TestType>(net, dir.file("allops.onnx"), Shape{2, 6}, opset);
    const auto ops = op_types(hx::read_model_file(dir.file("allops.onnx")));
    for (const char* op : {"Gemm", "MatMul", "Transpose", "Softplus", "Erf", "LeakyRelu", "Clip", "Pow", "Where",
                           "Greater", "Less", "Equal", "Max", "Min", "Slice", "Concat", "Unsqueeze", "Expand", "Pad",
                           "Gather", "GatherElements", "ArgMax", "ReduceSum", "ReduceMean", "ReduceMax", "Softmax",
                           "LogSoftmax", "Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "Identity",
                           "Reshape", "Cast"}) {
      INFO("ONNX op " << op);
      CHECK(ops.count(op) == 1);
    }
    // LayerNormalization exists from opset 17 (float only: it computes in float).
    const bool native_ln = opset >= 17 && std::is_same<TestType, float>::value;
    CHECK(ops.count("LayerNormalization") == (native_ln ? 1u : 0u));
  }
}

TEST_CASE("a trained MLP exports the trained weights", "[onnx][export]") {
  testing::TempDir dir;
  auto net = testing::seed_mlp<float>();
  net.hybridize();
  nn::loss::L2Loss loss;
  nn::Trainer trainer(net.collect_params(), "sgd", {{"learning_rate", 0.05}});
  const TensorT<float> x = hybrid::random::normal<float>({8, 512});
  const TensorT<float> target = hybrid::random::normal<float>({8, 2});
  net(x);  // the first call infers the deferred shapes
  const TensorT<float> before = (*net.collect_params().begin())->data().clone();
  train(net, loss, trainer, x, target, 3);
  // The weights moved, and check_export compares the file with them.
  const TensorT<float> after = (*net.collect_params().begin())->data();
  CHECK(std::memcmp(before.data(), after.data(), sizeof(float) * static_cast<size_t>(after.size())) != 0);
  check_export<float>(net, dir.file("trained.onnx"), Shape{4, 512}, 17);
}

TEST_CASE("a block last called in train mode exports its predict form", "[onnx][export]") {
  // The last plan was traced inside record() (train mode): the file still
  // holds inference BatchNormalization with the updated running statistics.
  testing::TempDir dir;
  auto net = testing::small_resnet<float>();
  net.hybridize();
  nn::loss::SoftmaxCrossEntropyLoss loss;
  nn::Trainer trainer(net.collect_params(), "sgd", {{"learning_rate", 0.1}});
  const TensorT<float> x = hybrid::random::normal<float>({4, 1, 28, 28});
  const TensorT<float> labels = hybrid::from_vector<float>({1, 3, 5, 7}, {4});
  TensorT<float> l;
  {
    auto rec = hybrid::autograd::record();
    l = loss(net(x), labels);
  }
  l.backward();
  trainer.step(4);
  hx::export_model(net, dir.file("resnet.onnx"));
  const ::onnx::ModelProto m = checked(dir.file("resnet.onnx"));
  const auto ops = op_types(m);
  CHECK(ops.at("BatchNormalization") == 5);
  CHECK(ops.count("Dropout") == 0);
  std::map<std::string, const ::onnx::TensorProto*> inits;
  for (const auto& t : m.graph().initializer()) inits[t.name()] = &t;
  int running = 0;
  for (const auto& p : net.collect_params()) {
    if (p->name().find("running_mean") == std::string::npos) continue;
    ++running;
    INFO(p->name());
    REQUIRE(inits.count(p->name()) == 1);
    const std::string& raw = inits.at(p->name())->raw_data();
    REQUIRE(raw.size() == sizeof(float) * static_cast<size_t>(p->data().size()));
    CHECK(std::memcmp(raw.data(), p->data().data(), raw.size()) == 0);
    bool moved = false;  // the train-mode call updated it from its initial zeros
    for (int64_t k = 0; k < p->data().size(); ++k) moved = moved || p->data().data()[k] != 0.0f;
    CHECK(moved);
  }
  CHECK(running == 5);
}

TEST_CASE("reshape targets keep the symbolic batch where it stays on axis 0", "[onnx][export]") {
  testing::TempDir dir;
  ReshapeNetT<float> net;
  for (int opset : {13, 17}) {
    check_export<float>(net, dir.file("reshape.onnx"), Shape{3, 12}, opset, /*batch_out=*/false);
    const ::onnx::ModelProto m = hx::read_model_file(dir.file("reshape.onnx"));
    std::vector<std::vector<int64_t>> targets;
    const auto ints = int64_initializers(m);
    for (const auto& n : m.graph().node())
      if (n.op_type() == "Reshape") targets.push_back(ints.at(n.input(1)));
      else if (n.op_type() == "Expand") CHECK(ints.at(n.input(1)) == std::vector<int64_t>{1, 2, 1});
    // (b, 3, 4) copies the batch (0); (-1, 6) is written as is. Once the
    // batch is merged into rows, hybrid's targets hold the traced extent
    // and nothing tells them from fixed ones: the rest is fixed at batch 3,
    // as in hybrid's own graph file, and the output has no batch symbol.
    REQUIRE(targets.size() == 4);
    CHECK(targets[0] == std::vector<int64_t>{0, 3, 4});
    CHECK(targets[1] == std::vector<int64_t>{-1, 6});
    CHECK(targets[2] == std::vector<int64_t>{3, 12});
    CHECK(targets[3] == std::vector<int64_t>{3, 1, 12});
  }
  BatchReshapeNetT<float> batch_net;
  check_export<float>(batch_net, dir.file("batch.onnx"), Shape{3, 12}, 13);
  const ::onnx::ModelProto m = hx::read_model_file(dir.file("batch.onnx"));
  const auto ints = int64_initializers(m);
  std::vector<std::vector<int64_t>> shapes;
  for (const auto& n : m.graph().node())
    if (n.op_type() == "Reshape" || n.op_type() == "Expand") shapes.push_back(ints.at(n.input(1)));
  const std::vector<std::vector<int64_t>> expected{{0, 3, 4}, {0, 1, 12}, {1, 2, 1}};
  CHECK(shapes == expected);
}

TEST_CASE("ONNX shape inference carries the batch symbol to the outputs", "[onnx][export]") {
  // The declared outputs say "batch"; ONNX infers the same from the nodes,
  // so the symbol is not only declared but follows from the graph.
  testing::TempDir dir;
  auto net = testing::lenet<float>();
  net.hybridize();
  net(hybrid::random::normal<float>({1, 1, 28, 28}));
  hx::export_model(net, dir.file("lenet.onnx"));
  ::onnx::ModelProto m = hx::read_model_file(dir.file("lenet.onnx"));
  m.mutable_graph()->clear_output();  // only the inferred shapes remain
  auto* out = m.mutable_graph()->add_output();
  out->set_name(hx::read_model_file(dir.file("lenet.onnx")).graph().output(0).name());
  out->mutable_type()->mutable_tensor_type()->set_elem_type(::onnx::TensorProto_DataType_FLOAT);
  ::onnx::shape_inference::InferShapes(m, ::onnx::OpSchemaRegistry::Instance(),
                                       ::onnx::ShapeInferenceOptions(true, 1, true));
  const ::onnx::ValueInfoProto* v = find_value(m.graph(), out->name());
  REQUIRE(v != nullptr);
  CHECK(shape_text(*v) == "(batch, 10)");
}

TEST_CASE("export errors are clear and leave no file behind", "[onnx][export]") {
  testing::TempDir dir;
  const std::string path = dir.file("model.onnx");
  SECTION("a block never hybridized and called") {
    auto net = testing::seed_mlp<float>();
    CHECK_THAT(error_of([&] { hx::export_model(net, path); }), Contains("hybridize()") && Contains("once"));
    net(hybrid::random::normal<float>({1, 512}));  // eager: still no traced graph
    CHECK_THAT(error_of([&] { hx::export_model(net, path); }), Contains("hybridize()"));
  }
  SECTION("an unsupported opset") {
    auto net = testing::seed_mlp<float>();
    net.hybridize();
    net(hybrid::random::normal<float>({1, 512}));
    for (int opset : {12, 18, 0}) {
      const std::string msg = error_of([&] { hx::export_model(net, path, opset); });
      CHECK_THAT(msg, Contains("opset " + std::to_string(opset)) && Contains("13 to 17"));
    }
  }
  SECTION("an unwritable path") {
    auto net = testing::seed_mlp<float>();
    net.hybridize();
    net(hybrid::random::normal<float>({1, 512}));
    const std::string bad = dir.file("missing_dir/model.onnx");
    CHECK_THAT(error_of([&] { hx::export_model(net, bad); }), Contains("missing_dir/model.onnx"));
    CHECK_FALSE(fs::exists(bad));
  }
  SECTION("ops without an ONNX form are all named") {
    // A backward graph's internal ops: every one is listed, with its node.
    hybrid::graph::Graph<float> g;
    const int x = g.add_variable("data", Shape{1, 1, 4, 4}, hybrid::graph::VarKind::input);
    hybrid::graph::Node<float> a, b;
    a.op = OpCode::max_pool2d_backward;
    a.inputs = {x, x, x};
    a.name = "pool_grad";
    a.shape = Shape{1, 1, 4, 4};
    b.op = OpCode::conv2d_backward_data;
    b.inputs = {g.add(a), x};
    b.name = "conv_grad";
    b.shape = Shape{1, 1, 4, 4};
    g.outputs = {g.add(b)};
    const std::string msg = error_of([&] { hx::to_onnx(g, {}, 17); });
    CHECK_THAT(msg, Contains("max_pool2d_backward (node 'pool_grad')") &&
                        Contains("conv2d_backward_data (node 'conv_grad')"));
  }
  CHECK_FALSE(fs::exists(path));
  CHECK_FALSE(fs::exists(path + ".tmp"));
}

// ---------------------------------------------------------------------------
// Export, then import (where the importer is built in): the imported block
// computes what the exporting block computes, at the traced batch and at
// another one.
#if __has_include(<hybrid/onnx/import.hpp>)
#include <hybrid/onnx/import.hpp>

namespace {

template <class T>
void check_close(const TensorT<T>& got, const TensorT<T>& want) {
  REQUIRE(got.shape() == want.shape());
  const double tol = sizeof(T) == 4 ? 1e-5 : 1e-12;
  for (int64_t k = 0; k < want.size(); ++k) {
    INFO("element " << k);
    CHECK(std::fabs(double(got.data()[k]) - double(want.data()[k])) <= tol * std::fabs(double(want.data()[k])) + tol);
  }
}

template <class T, class Net>
void check_round_trip(Net& net, const std::string& path, const Shape& in_shape, const Shape& other_shape, int opset) {
  net.hybridize();
  const TensorT<T> x = hybrid::random::normal<T>(in_shape);
  const TensorT<T> y = net(x);
  hx::export_model(net, path, opset);
  const auto imported = hx::import_model<T>(path);
  const TensorT<T> x5 = hybrid::random::normal<T>(other_shape);
  const TensorT<T> y5 = net(x5);
  for (const auto& [in, want] : {std::make_pair(x, y), std::make_pair(x5, y5)}) {
    INFO("batch " << in.shape()[0]);
    check_close<T>(imported->forward_many({in}).at(0), want);  // eager: the graph interpreted node by node
    check_close<T>((*imported)(in), want);                      // hybridized
  }
}

/// Reshapes that keep the batch, nothing else (ops every importer maps).
template <class T>
class ReshapeOnlyNetT : public nn::HybridBlockT<T> {
 public:
  hybrid::TensorT<T> forward(const hybrid::TensorT<T>& x) override {
    const int64_t b = x.shape()[0];
    return hybrid::reshape(hybrid::softmax(hybrid::reshape(x, {b, 3, 4}), -1), {b, 12});
  }
};

}  // namespace

TEMPLATE_TEST_CASE("exported models import back and compute the same", "[onnx][export][roundtrip]", float, double) {
  testing::TempDir dir;
  for (int opset : {13, 17}) {
    INFO("opset " << opset);
    {
      auto net = testing::seed_mlp<TestType>();
      check_round_trip<TestType>(net, dir.file("mlp.onnx"), Shape{1, 512}, Shape{5, 512}, opset);
    }
    {
      auto net = testing::lenet<TestType>();
      check_round_trip<TestType>(net, dir.file("lenet.onnx"), Shape{1, 1, 28, 28}, Shape{5, 1, 28, 28}, opset);
    }
    {
      auto net = testing::small_resnet<TestType>();
      check_round_trip<TestType>(net, dir.file("resnet.onnx"), Shape{2, 1, 28, 28}, Shape{5, 1, 28, 28}, opset);
    }
    {
      // Reshape targets with 0 (copy the batch): the import keeps it symbolic.
      ReshapeOnlyNetT<TestType> net;
      check_round_trip<TestType>(net, dir.file("reshape.onnx"), Shape{2, 12}, Shape{5, 12}, opset);
    }
    {
      // broadcast_to of the batch: Expand with 1 there, imported as a broadcast by ones.
      BatchReshapeNetT<TestType> net;
      check_round_trip<TestType>(net, dir.file("batch.onnx"), Shape{2, 12}, Shape{5, 12}, opset);
    }
  }
}

TEMPLATE_TEST_CASE("the every-op model imports back at every opset and computes the same",
                   "[onnx][export][roundtrip]", float, double) {
  // Every ONNX op the exporter writes (Softplus, Clip, Max, Min, Not,
  // Reciprocal, ArgMax, GatherElements, Expand among them) is imported.
  testing::TempDir dir;
  for (int opset = 13; opset <= 17; ++opset) {
    INFO("opset " << opset);
    testing::AllOpsNetT<TestType> net;
    net.initialize(nn::init::Normal(0.5));
    check_round_trip<TestType>(net, dir.file("allops.onnx"), Shape{2, 6}, Shape{5, 6}, opset);
  }
}
#endif

// ---------------------------------------------------------------------------
// Step 1 of the ONNX Runtime cross-check (tests/CMakeLists.txt runs it, then
// tests/onnx/ort_check.js): each model is exported to
// ${HYBRID_BINARY_DIR}/ort/<name>/model.onnx with its input and hybrid's
// output as .npy, at the traced batch (input_0 / expected_0) and at another
// batch (batch5_input_0 / batch5_expected_0), run after the export.

namespace {

template <class Net>
void write_ort_case(Net& net, const std::string& name, const Shape& in_shape, const Shape& other_shape,
                    int opset = 17) {
  const fs::path dir = fs::path(HYBRID_BINARY_DIR) / "ort" / name;
  fs::create_directories(dir);
  net.hybridize();
  const TensorT<float> x = hybrid::random::normal<float>(in_shape);
  const TensorT<float> y = net(x);
  hx::export_model(net, (dir / "model.onnx").string(), opset);
  checked((dir / "model.onnx").string());
  hybrid::testing::write_npy((dir / "input_0.npy").string(), x);
  hybrid::testing::write_npy((dir / "expected_0.npy").string(), y);
  const TensorT<float> x5 = hybrid::random::normal<float>(other_shape);
  hybrid::testing::write_npy((dir / "batch5_input_0.npy").string(), x5);
  hybrid::testing::write_npy((dir / "batch5_expected_0.npy").string(), net(x5));
}

}  // namespace

TEST_CASE("models for the ONNX Runtime cross-check", "[.][ort-export]") {
  hybrid::random::seed(13);
  fs::remove_all(fs::path(HYBRID_BINARY_DIR) / "ort");
  {
    auto net = testing::seed_mlp<float>();
    write_ort_case(net, "seed_mlp", Shape{1, 512}, Shape{5, 512});
  }
  {
    auto net = testing::lenet<float>();
    write_ort_case(net, "lenet", Shape{1, 1, 28, 28}, Shape{5, 1, 28, 28});
  }
  {
    testing::AllOpsNetT<float> net;
    net.initialize(nn::init::Normal(0.5));
    write_ort_case(net, "every_op", Shape{2, 6}, Shape{5, 6});
  }
  {
    // Opset 13: the decomposed layer_norm, among others.
    testing::AllOpsNetT<float> net;
    net.initialize(nn::init::Normal(0.5));
    write_ort_case(net, "every_op_opset13", Shape{2, 6}, Shape{5, 6}, 13);
  }
  {
    auto net = testing::small_resnet<float>();
    write_ort_case(net, "small_resnet", Shape{2, 1, 28, 28}, Shape{5, 1, 28, 28});
  }
  {
    BatchReshapeNetT<float> net;
    write_ort_case(net, "batch_reshape", Shape{2, 12}, Shape{5, 12});
  }
  {
    auto net = testing::seed_mlp<float>();
    net.hybridize();
    nn::loss::SoftmaxCrossEntropyLoss loss;
    nn::Trainer trainer(net.collect_params(), "sgd", {{"learning_rate", 0.1}, {"momentum", 0.9}});
    const TensorT<float> x = hybrid::random::normal<float>({16, 512});
    const TensorT<float> labels = hybrid::from_vector<float>({0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0}, {16});
    train(net, loss, trainer, x, labels, 5);
    write_ort_case(net, "trained_mlp", Shape{3, 512}, Shape{5, 512});
  }
  std::ofstream(fs::path(HYBRID_BINARY_DIR) / "ort" / "DONE") << "7 models\n";
}
