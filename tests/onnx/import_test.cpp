// onnx::import_model: every PyTorch-exported fixture against PyTorch's
// outputs (eager, hybridized, re-exported to hybrid's own format, other
// batch sizes, T = double), every malformed fixture, and small models built
// here with the protobuf API against values computed by hand.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <hybrid/hybrid.hpp>
#include <hybrid/onnx/import.hpp>
#if HYBRID_ONNX_TESTS_DATA
#include <hybrid/data.hpp>
#endif

#include "../support/files.hpp"
#include "../support/matchers.hpp"
#include "../support/npy.hpp"

using hybrid::FormatError;
using hybrid::Shape;
using hybrid::TensorT;
using Catch::Matchers::Contains;
using testing::What;
namespace hx = hybrid::onnx;

namespace {

const std::string kFixtures = std::string(HYBRID_SOURCE_DIR) + "/tests/onnx/fixtures/";

nlohmann::json manifest() {
  std::ifstream in(kFixtures + "MANIFEST.json");
  REQUIRE(in);
  return nlohmann::json::parse(in);
}

/// Elementwise |a - b| <= atol + rtol·|b| (the manifest's rule, numpy.allclose's).
template <class T>
void check_close(const TensorT<T>& actual, const TensorT<float>& expected, double rtol, double atol,
                 const std::string& what) {
  INFO(what);
  REQUIRE(actual.shape() == expected.shape());
  double worst = 0;
  int64_t at = -1;
  for (int64_t i = 0; i < expected.size(); ++i) {
    const double a = static_cast<double>(actual.data()[i]), b = static_cast<double>(expected.data()[i]);
    const double excess = std::fabs(a - b) - (atol + rtol * std::fabs(b));
    if (!(excess <= worst)) {
      worst = std::isnan(excess) ? INFINITY : excess;
      at = i;
    }
  }
  INFO("worst element " << at);
  CHECK(worst <= 0);
}

/// Rows `rows` of `t` along axis 0, stacked: a batch built from the fixture's samples.
template <class T>
TensorT<T> rows_of(const TensorT<T>& t, const std::vector<int64_t>& rows) {
  Shape s = t.shape();
  const int64_t row = s[0] ? t.size() / s[0] : 0;
  s[0] = static_cast<int64_t>(rows.size());
  TensorT<T> out = TensorT<T>::empty(s);
  for (size_t k = 0; k < rows.size(); ++k)
    std::copy(t.data() + rows[k] * row, t.data() + (rows[k] + 1) * row, out.data() + static_cast<int64_t>(k) * row);
  return out;
}

template <class T>
void check_fixture(const nlohmann::json& f) {
  const std::string name = f["name"];
  const std::string model = kFixtures + f["model"].get<std::string>();
  const double rtol = f["tolerance"]["rtol"], atol = f["tolerance"]["atol"];
  std::vector<TensorT<T>> inputs;
  std::vector<std::string> input_names;
  for (const auto& in : f["inputs"]) {
    inputs.push_back(hybrid::testing::read_npy(kFixtures + in["file"].get<std::string>()).template tensor<T>());
    input_names.push_back(in["name"]);
  }
  std::vector<TensorT<float>> expected;
  for (const auto& out : f["outputs"])
    expected.push_back(hybrid::testing::read_npy(kFixtures + out["file"].get<std::string>()).template tensor<float>());

  auto net = hx::import_model<T>(model);
  REQUIRE(net->input_names() == input_names);
  auto check_all = [&](const std::vector<TensorT<T>>& got, const std::string& how) {
    REQUIRE(got.size() == expected.size());
    for (size_t k = 0; k < got.size(); ++k) check_close(got[k], expected[k], rtol, atol, name + " " + how + " output " + std::to_string(k));
  };
  check_all(net->forward_many(inputs), "eager");  // the graph interpreted node by node
  check_all(net->call(inputs), "hybridized");
  check_all(net->call(inputs), "hybridized, replayed");

  // Other batch sizes: a batch of the fixture's samples gives their outputs.
  const int64_t batch = inputs[0].shape()[0];
  if (f["dynamic_batch"].get<bool>()) {
    for (const std::vector<int64_t>& rows : {std::vector<int64_t>{batch - 1}, std::vector<int64_t>{1 % batch, 0, batch - 1}}) {
      std::vector<TensorT<T>> in;
      for (const auto& x : inputs) in.push_back(rows_of(x, rows));
      const auto got = net->call(in);
      for (size_t k = 0; k < got.size(); ++k)
        check_close(got[k], rows_of(expected[k], rows), rtol, atol,
                    name + " at batch " + std::to_string(rows.size()) + " output " + std::to_string(k));
    }
  }

  // hybrid's own format: exported and loaded back, the same outputs.
  net->call(inputs);
  testing::TempDir dir;
  net->export_model(dir.file("m"));
  auto back = hybrid::nn::SymbolBlockT<T>::imports(dir.file("m-symbol.json"), input_names, dir.file("m-0000.params"));
  check_all(back->call(inputs), "re-exported");
}

// ---- building small models with the protobuf API ----------------------------------------------

struct ModelBuilder {
  ::onnx::ModelProto m;
  ::onnx::GraphProto* g;
  explicit ModelBuilder(int64_t opset = 17, const std::string& domain = "") {
    m.set_ir_version(8);
    auto* o = m.add_opset_import();
    o->set_domain(domain);
    o->set_version(opset);
    g = m.mutable_graph();
    g->set_name("test");
  }
  void input(const std::string& name, const std::vector<int64_t>& dims, int type = ::onnx::TensorProto::FLOAT) {
    auto* v = g->add_input();
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(type);
    auto* s = t->mutable_shape();
    for (int64_t d : dims) {
      if (d < 0) s->add_dim()->set_dim_param(d == -1 ? "batch" : "sym" + std::to_string(-d));  // -2, -3: others
      else s->add_dim()->set_dim_value(d);
    }
  }
  void output(const std::string& name) { g->add_output()->set_name(name); }
  ::onnx::TensorProto* init(const std::string& name, const std::vector<int64_t>& dims, const std::vector<float>& v) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(::onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    for (float x : v) t->add_float_data(x);
    return t;
  }
  void ints(const std::string& name, const std::vector<int64_t>& v, std::vector<int64_t> dims = {}) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(::onnx::TensorProto::INT64);
    if (dims.empty()) dims.push_back(static_cast<int64_t>(v.size()));
    for (int64_t d : dims) t->add_dims(d);
    for (int64_t x : v) t->add_int64_data(x);
  }
  ::onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& in, const std::vector<std::string>& out,
                          const std::string& name = "") {
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(name.empty() ? op : name);
    for (const auto& s : in) n->add_input(s);
    for (const auto& s : out) n->add_output(s);
    return n;
  }
  static void attr(::onnx::NodeProto* n, const std::string& key, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(key);
    a->set_type(::onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void attr(::onnx::NodeProto* n, const std::string& key, float v) {
    auto* a = n->add_attribute();
    a->set_name(key);
    a->set_type(::onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  static void attr(::onnx::NodeProto* n, const std::string& key, const std::vector<int64_t>& v) {
    auto* a = n->add_attribute();
    a->set_name(key);
    a->set_type(::onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  static void attr(::onnx::NodeProto* n, const std::string& key, const std::string& v) {
    auto* a = n->add_attribute();
    a->set_name(key);
    a->set_type(::onnx::AttributeProto::STRING);
    a->set_s(v);
  }
  template <class T = float>
  std::shared_ptr<hybrid::nn::SymbolBlockT<T>> import() const {
    const std::string bytes = m.SerializeAsString();
    return hx::import_model_bytes<T>(bytes.data(), bytes.size(), "test.onnx");
  }
};

hybrid::Tensor iota(const Shape& s, float start = 0, float step = 1) {
  hybrid::Tensor t = hybrid::Tensor::empty(s);
  for (int64_t i = 0; i < t.size(); ++i) t.data()[i] = start + step * static_cast<float>(i);
  return t;
}

void check_values(const hybrid::Tensor& t, const Shape& shape, const std::vector<float>& v) {
  REQUIRE(t.shape() == shape);
  REQUIRE(t.size() == static_cast<int64_t>(v.size()));
  for (size_t i = 0; i < v.size(); ++i) CHECK(t.data()[i] == Approx(v[i]).epsilon(1e-6));
}

}  // namespace

TEST_CASE("onnx import: every PyTorch fixture matches PyTorch's outputs", "[onnx][import]") {
  const auto m = manifest();
  REQUIRE(m["fixtures"].size() >= 4);
  for (const auto& f : m["fixtures"]) {
    SECTION(f["name"].get<std::string>() + " float") { check_fixture<float>(f); }
    SECTION(f["name"].get<std::string>() + " double") { check_fixture<double>(f); }
  }
}

#if HYBRID_ONNX_TESTS_DATA
TEST_CASE("onnx import: the LeNet trained in PyTorch predicts on Fashion-MNIST what PyTorch predicts",
          "[onnx][import]") {
  // PyTorch's logits and labels for the first test images are committed
  // with the fixture; the images come from Debian's dataset-fashion-mnist,
  // read by hybrid's data layer (v / 255, as make_fixtures.py scales them).
  const nlohmann::json m = manifest();
  nlohmann::json f;
  for (const auto& e : m["fixtures"])
    if (e["name"] == "lenet_trained") f = e;
  REQUIRE(f.is_object());
  const TensorT<float> want_logits =
      hybrid::testing::read_npy(kFixtures + f["eval"]["logits"].get<std::string>()).tensor<float>();
  const TensorT<float> want_labels =
      hybrid::testing::read_npy(kFixtures + f["eval"]["predictions"].get<std::string>()).tensor<float>();
  const int64_t n = want_labels.size();
  REQUIRE(n == 1000);
  std::unique_ptr<hybrid::data::vision::FashionMNIST> test_set;
  try {
    test_set = std::make_unique<hybrid::data::vision::FashionMNIST>(hybrid::data::vision::kFashionMNISTRoot, false);
  } catch (const hybrid::Error& e) {
    WARN("skipped: Fashion-MNIST is not installed (" << e.what() << ")");
    return;
  }
  std::vector<int64_t> first(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) first[static_cast<size_t>(i)] = i;
  const auto [images, labels] = test_set->gather(first.data(), n);

  auto net = hx::import_model<float>(kFixtures + f["model"].get<std::string>());
  const TensorT<float> logits = (*net)(images);
  check_close(logits, want_logits, f["tolerance"]["rtol"], f["tolerance"]["atol"], "logits of 1000 test images");
  int64_t agree = 0, correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = logits.data() + 10 * i;
    const int64_t label = std::max_element(row, row + 10) - row;
    agree += label == static_cast<int64_t>(want_labels.data()[i]);
    correct += label == static_cast<int64_t>(labels.data()[i]);
  }
  CHECK(agree >= n - n / 1000);  // argmax agreement >= 99.9 %
  // hybrid's accuracy on these images is PyTorch's, as the manifest records it.
  CHECK(static_cast<double>(correct) / static_cast<double>(n) ==
        Approx(f["accuracy"]["first_1000"].get<double>()).margin(1.0 / static_cast<double>(n)));
}
#endif

TEST_CASE("onnx import: initializers are parameters named as in the file", "[onnx][import]") {
  auto net = hx::import_model<float>(kFixtures + "mlp/model.onnx");
  std::vector<std::string> names;
  for (const auto& p : net->collect_params()) names.push_back(p->name());
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"});
  // The transformer's shape-only initializers and Constants are folded, not parameters.
  auto tr = hx::import_model<float>(kFixtures + "transformer_encoder/model.onnx");
  for (const auto& p : tr->collect_params()) CHECK(p->shape().size() >= 1);
  // The exact-erf GELU and layer norms became single ops.
  const std::string text = hx::import_model<float>(kFixtures + "ops_zoo_17/model.onnx")->loaded_graph_text();
  CHECK_THAT(text, Contains("gelu(") && Contains("layer_norm(") && Contains("embedding("));
}

TEST_CASE("onnx import: malformed fixtures give FormatError naming the file and the fault", "[onnx][import]") {
  const auto m = manifest();
  auto expect = [&](const std::string& file, const std::vector<std::string>& parts) {
    const std::string path = kFixtures + file;
    INFO(file);
    try {
      hx::import_model<float>(path);
      FAIL("no error");
    } catch (const FormatError& e) {
      const std::string what = e.what();
      INFO(what);
      CHECK_THAT(what, Contains(path));
      for (const auto& p : parts) CHECK_THAT(what, Contains(p));
    }
  };
  size_t checked = 0;
  for (const auto& b : m["bad"]) {
    const std::string file = b["file"];
    if (file == "bad/unsupported_ops.onnx") {
      std::vector<std::string> parts;
      for (const auto& n : b["unsupported_nodes"]) {
        parts.push_back(n["op_type"].get<std::string>() + " '" + n["name"].get<std::string>() + "'");
        parts.push_back("opset " + std::to_string(n["opset"].get<int>()));
      }
      parts.push_back("2 unsupported");
      expect(file, parts);
    } else if (file == "bad/opset_11.onnx") {
      expect(file, {"Gemm", "opset 11"});
    } else if (file == "bad/truncated.onnx") {
      expect(file, {"does not parse"});
    } else if (file == "bad/empty.onnx") {
      expect(file, {"no graph"});
    } else if (file == "bad/bad_initializer_size.onnx") {
      expect(file, {"fc.weight", "44 bytes", "need 48"});
    } else if (file == "bad/bad_initializer_count.onnx") {
      expect(file, {"fc.bias", "4 but"});
    } else if (file == "bad/dangling_input.onnx") {
      expect(file, {"'relu'", "'nowhere'"});
    } else if (file == "bad/cycle.onnx") {
      expect(file, {"cycle", "Relu", "Neg", "Add"});
    } else if (file == "bad/external_data.onnx" || file == "bad/external_data_escape.onnx") {
      expect(file, {"fc.weight", "external"});
    } else {
      expect(file, {});
    }
    ++checked;
  }
  CHECK(checked == m["bad"].size());
  CHECK_THROWS_MATCHES(hx::import_model<float>(kFixtures + "no_such.onnx"), hybrid::Error, What(Contains("no_such.onnx")));
}

TEST_CASE("onnx import: every unsupported node is listed in one error", "[onnx][import]") {
  ModelBuilder b(17);
  b.input("x", {-1, 4});
  b.node("Relu", {"x"}, {"a"}, "r");
  b.node("Softsign", {"a"}, {"b"}, "sp1");
  b.node("Softsign", {"b"}, {"c"}, "sp2");
  auto* ms = b.node("FusedGemm", {"c"}, {"d"}, "ms");
  ms->set_domain("com.microsoft");
  b.node("HardMax", {"d"}, {"y"}, "hm");
  b.output("y");
  CHECK_THROWS_MATCHES(b.import(), FormatError,
                       What(Contains("test.onnx: 4 unsupported") && Contains("Softsign 'sp1' (domain ai.onnx, opset 17)") &&
                            Contains("Softsign 'sp2'") && Contains("FusedGemm 'ms' (domain com.microsoft, opset not imported)") &&
                            Contains("HardMax 'hm'")));
  ModelBuilder old(12);
  old.input("x", {-1, 4});
  old.node("Relu", {"x"}, {"y"}, "r");
  old.output("y");
  CHECK_THROWS_MATCHES(old.import(), FormatError, What(Contains("Relu 'r' (domain ai.onnx, opset 12)")));
}

TEST_CASE("onnx import: Slice with negative steps and INT_MAX ends", "[onnx][import]") {
  ModelBuilder b(13);
  b.input("x", {-1, 6});
  b.ints("s", {-1});
  b.ints("e", {INT64_MIN});
  b.ints("a", {1});
  b.ints("st", {-2});
  b.node("Slice", {"x", "s", "e", "a", "st"}, {"y"});
  b.ints("s2", {1});
  b.ints("e2", {INT64_MAX});
  b.ints("a2", {-1});
  b.node("Slice", {"y", "s2", "e2", "a2"}, {"z"}, "tail");
  b.output("z");
  auto net = b.import();
  // Row r of x: 6r .. 6r+5; step -2 from the end picks 5, 3, 1; then [1:] keeps 3, 1.
  check_values((*net)(iota({2, 6})), {2, 2}, {3, 1, 9, 7});
  check_values((*net)(iota({1, 6})), {1, 2}, {3, 1});
}

TEST_CASE("onnx import: Reshape with 0 and -1 follows the batch", "[onnx][import]") {
  ModelBuilder b(13);
  b.input("x", {-1, 2, 3});
  b.ints("t", {0, -1});
  b.node("Reshape", {"x", "t"}, {"y"});
  b.node("Shape", {"x"}, {"s"});
  b.ints("i", {0});
  b.node("Gather", {"s", "i"}, {"n"});
  b.ints("rest", {3, 2});
  auto* c = b.node("Concat", {"n", "rest"}, {"t2"});
  ModelBuilder::attr(c, "axis", int64_t{0});
  b.node("Reshape", {"y", "t2"}, {"z"}, "from_shape");
  b.output("z");
  auto net = b.import();
  for (int64_t n : {1, 3, 5}) {
    const auto y = (*net)(iota({n, 2, 3}));
    std::vector<float> v(static_cast<size_t>(n * 6));
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
    check_values(y, {n, 3, 2}, v);
  }
}

TEST_CASE("onnx import: Reshape with two symbolic extents kept in place; others refused", "[onnx][import]") {
  // A model of x with the symbolic extents `dims` (-1, -2: two names; -1,
  // -1: one name twice) and y = Reshape(x, Concat(Gather(Shape(x), axes),
  // fixed)), the node named `name`, as PyTorch writes a view.
  auto view = [](ModelBuilder& b, const std::vector<int64_t>& dims, const std::vector<int64_t>& axes,
                 const std::vector<int64_t>& fixed, const std::string& name) {
    b.input("x", dims);
    b.node("Shape", {"x"}, {"s"});
    b.ints("i", axes);
    b.node("Gather", {"s", "i"}, {"g"});
    b.ints("fixed", fixed);
    ModelBuilder::attr(b.node("Concat", {"g", "fixed"}, {"t"}), "axis", int64_t{0});
    b.node("Reshape", {"x", "t"}, {"y"}, name);
    b.output("y");
  };
  // (batch, seq, 6) → (batch, seq, 2, 3), and back with 0, 0, -1: rebuilt without a reshape.
  ModelBuilder b(13);
  view(b, {-1, -2, 6}, {0, 1}, {2, 3}, "split_heads");
  b.ints("back", {0, 0, -1});
  b.node("Reshape", {"y", "back"}, {"z"}, "merge_heads");
  b.output("z");
  auto net = b.import();
  CHECK_THAT(net->loaded_graph_text(), !Contains("reshape("));
  for (const auto& [n, seq] : {std::make_pair(1, 1), std::make_pair(2, 3), std::make_pair(3, 2)}) {
    INFO("batch " << n << ", seq " << seq);
    const hybrid::Tensor x = iota({n, seq, 6});
    const auto y = net->call({x});
    REQUIRE(y.size() == 2);
    check_values(y[0], {n, seq, 2, 3}, x.to_vector());
    check_values(y[1], {n, seq, 6}, x.to_vector());
  }
  // One name on two axes is one dimension: the same rebuild.
  ModelBuilder one(13);
  view(one, {-1, -1, 4}, {0, 1}, {2, 2}, "one_name");
  check_values((*one.import())(iota({2, 2, 4})), {2, 2, 2, 2}, iota({16}).to_vector());
  // A target whose element count overflows int64 is refused, not computed.
  ModelBuilder big(13);
  big.input("x", {-1, 4});
  big.ints("t", {-1, int64_t{1} << 39, int64_t{1} << 39});
  big.node("Reshape", {"x", "t"}, {"y"}, "too_big");
  big.output("y");
  CHECK_THROWS_MATCHES(big.import(), FormatError, What(Contains("'too_big'") && Contains("int64")));
  // (seq, batch, 6): the symbolic extents swap places; no -1 can say that.
  ModelBuilder swap(13);
  view(swap, {-1, -2, 6}, {1, 0}, {6}, "swapped");
  CHECK_THROWS_MATCHES(swap.import(), FormatError,
                       What(Contains("'swapped'") && Contains("reshapes (?, ?, 6) to (?, ?, 6)") &&
                            Contains("only one (-1)") && Contains("kept in place")));
  // (batch · seq, 2, 3): one extent depends on both, one -1.
  ModelBuilder rows(13);
  rows.input("x", {-1, -2, 6});
  rows.ints("t", {-1, 2, 3});
  rows.node("Reshape", {"x", "t"}, {"y"});
  rows.output("y");
  check_values((*rows.import())(iota({2, 3, 6})), {6, 2, 3}, iota({36}).to_vector());
  // Inputs whose differently named batch dimensions must be equal still import.
  ModelBuilder two(13);
  two.input("x", {-1, 2});
  two.input("m", {-2, 2});
  two.node("Add", {"x", "m"}, {"y"});
  two.output("y");
  check_values(two.import()->call({iota({3, 2}), iota({3, 2})}).at(0), {3, 2}, {0, 2, 4, 6, 8, 10});
}

TEST_CASE("onnx import: Gemm with transA, alpha and beta", "[onnx][import]") {
  ModelBuilder b(13);
  b.input("a", {3, -1});  // transA: A is (K, M) with M the batch
  b.init("w", {3, 2}, {1, 2, 3, 4, 5, 6});
  b.init("c", {1, 2}, {10, 20});
  auto* n = b.node("Gemm", {"a", "w", "c"}, {"y"});
  ModelBuilder::attr(n, "transA", int64_t{1});
  ModelBuilder::attr(n, "alpha", 0.5f);
  ModelBuilder::attr(n, "beta", 2.0f);
  b.output("y");
  auto net = b.import();
  // A^T = [[0, 2, 4], [1, 3, 5]]; A^T W = [[26, 32], [35, 44]]; ·0.5 + 2·c.
  check_values((*net)(iota({3, 2})), {2, 2}, {33, 56, 37.5f, 62});
  const auto yd = (*b.import<double>())(TensorT<double>(hybrid::from_vector<double>({0, 1, 2, 3, 4, 5}, {3, 2})));
  CHECK(yd.to_vector() == std::vector<double>{33, 56, 37.5, 62});
  // transB = 1, alpha = beta = 1, bias (N,): one fully_connected with the (out, in) weight.
  ModelBuilder fc(13);
  fc.input("x", {-1, 3});
  fc.init("w", {2, 3}, {1, 0, 0, 0, 1, 1});
  fc.init("bias", {2}, {0.5f, -1});
  auto* g = fc.node("Gemm", {"x", "w", "bias"}, {"y"});
  ModelBuilder::attr(g, "transB", int64_t{1});
  fc.output("y");
  auto fnet = fc.import();
  CHECK_THAT(fnet->loaded_graph_text(), Contains("fully_connected("));
  check_values((*fnet)(iota({2, 3})), {2, 2}, {0.5f, 2, 3.5f, 8});
}

TEST_CASE("onnx import: AveragePool count_include_pad 0 and 1, and refused windows", "[onnx][import]") {
  for (int64_t include : {0, 1}) {
    ModelBuilder b(13);
    b.input("x", {-1, 1, 2, 2});
    auto* n = b.node("AveragePool", {"x"}, {"y"}, "pool");
    ModelBuilder::attr(n, "kernel_shape", std::vector<int64_t>{2, 2});
    ModelBuilder::attr(n, "pads", std::vector<int64_t>{1, 1, 1, 1});
    ModelBuilder::attr(n, "strides", std::vector<int64_t>{2, 2});
    if (include) ModelBuilder::attr(n, "count_include_pad", include);
    b.output("y");
    // x = [[1, 2], [3, 4]]; each 2x2 window holds one element and three pads.
    const auto y = (*b.import())(iota({1, 1, 2, 2}, 1));
    if (include) check_values(y, {1, 1, 2, 2}, {0.25f, 0.5f, 0.75f, 1});
    else check_values(y, {1, 1, 2, 2}, {1, 2, 3, 4});
  }
  ModelBuilder asym(13);
  asym.input("x", {-1, 1, 4, 4});
  auto* n = asym.node("MaxPool", {"x"}, {"y"}, "asym_pool");
  ModelBuilder::attr(n, "kernel_shape", std::vector<int64_t>{2, 2});
  ModelBuilder::attr(n, "pads", std::vector<int64_t>{0, 0, 1, 1});
  asym.output("y");
  CHECK_THROWS_MATCHES(asym.import(), FormatError, What(Contains("'asym_pool'") && Contains("asymmetric pads")));
  // Two refused nodes on separate branches are reported together; what depends on them is not.
  auto* n2 = asym.node("MaxPool", {"x"}, {"y2"}, "asym_pool_2");
  ModelBuilder::attr(n2, "kernel_shape", std::vector<int64_t>{2, 2});
  ModelBuilder::attr(n2, "pads", std::vector<int64_t>{1, 0, 0, 0});
  asym.node("Add", {"y", "y2"}, {"z"}, "sum");
  asym.g->mutable_output(0)->set_name("z");
  CHECK_THROWS_MATCHES(asym.import(), FormatError,
                       What(Contains("test.onnx: 2 node(s) cannot be imported") && Contains("'asym_pool'") &&
                            Contains("'asym_pool_2'") && !Contains("'sum'")));
  ModelBuilder ceil(13);
  ceil.input("x", {-1, 1, 5, 5});
  auto* m = ceil.node("MaxPool", {"x"}, {"y"}, "ceil_pool");
  ModelBuilder::attr(m, "kernel_shape", std::vector<int64_t>{2, 2});
  ModelBuilder::attr(m, "strides", std::vector<int64_t>{2, 2});
  ModelBuilder::attr(m, "ceil_mode", int64_t{1});
  ceil.output("y");
  CHECK_THROWS_MATCHES(ceil.import(), FormatError, What(Contains("'ceil_pool'") && Contains("ceil_mode")));
  // Where rounding up gives the same extent, ceil_mode = 1 is accepted.
  ModelBuilder even(13);
  even.input("x", {-1, 1, 4, 4});
  auto* e = even.node("MaxPool", {"x"}, {"y"}, "even_pool");
  ModelBuilder::attr(e, "kernel_shape", std::vector<int64_t>{2, 2});
  ModelBuilder::attr(e, "strides", std::vector<int64_t>{2, 2});
  ModelBuilder::attr(e, "ceil_mode", int64_t{1});
  even.output("y");
  check_values((*even.import())(iota({1, 1, 4, 4})), {1, 1, 2, 2}, {5, 7, 13, 15});
}

TEST_CASE("onnx import: Conv with SAME_UPPER padding resolves to symmetric pads", "[onnx][import]") {
  ModelBuilder b(13);
  b.input("x", {-1, 1, 3, 3});
  b.init("w", {1, 1, 3, 3}, {0, 0, 0, 0, 1, 0, 0, 0, 1});
  auto* n = b.node("Conv", {"x", "w"}, {"y"}, "same");
  ModelBuilder::attr(n, "auto_pad", std::string("SAME_UPPER"));
  b.output("y");
  // y[i, j] = x[i, j] + x[i+1, j+1] (zero outside).
  check_values((*b.import())(iota({1, 1, 3, 3})), {1, 1, 3, 3}, {4, 6, 2, 10, 12, 5, 6, 7, 8});
  ModelBuilder odd(13);
  odd.input("x", {-1, 1, 4, 4});
  odd.init("w", {1, 1, 2, 2}, {1, 1, 1, 1});
  auto* m = odd.node("Conv", {"x", "w"}, {"y"}, "uneven");
  ModelBuilder::attr(m, "auto_pad", std::string("SAME_UPPER"));
  odd.output("y");
  CHECK_THROWS_MATCHES(odd.import(), FormatError, What(Contains("'uneven'") && Contains("SAME_UPPER")));
}

TEST_CASE("onnx import: inputs without a rank and unsupported element types are refused", "[onnx][import]") {
  ModelBuilder b(13);
  auto* v = b.g->add_input();
  v->set_name("x");
  v->mutable_type()->mutable_tensor_type()->set_elem_type(::onnx::TensorProto::FLOAT);
  b.node("Relu", {"x"}, {"y"});
  b.output("y");
  CHECK_THROWS_MATCHES(b.import(), FormatError, What(Contains("test.onnx") && Contains("'x'") && Contains("unknown rank")));
  ModelBuilder s(13);
  s.input("x", {2}, ::onnx::TensorProto::STRING);
  s.node("Identity", {"x"}, {"y"});
  s.output("y");
  CHECK_THROWS_MATCHES(s.import(), FormatError, What(Contains("'x'") && Contains("string")));
  ModelBuilder f16(13);
  f16.input("x", {2});
  auto* t = f16.g->add_initializer();
  t->set_name("h");
  t->set_data_type(::onnx::TensorProto::FLOAT16);
  t->add_dims(2);
  t->add_int32_data(0);
  t->add_int32_data(0);
  f16.node("Add", {"x", "h"}, {"y"});
  f16.output("y");
  CHECK_THROWS_MATCHES(f16.import(), FormatError, What(Contains("initializer 'h'") && Contains("float16")));
  // Dims that claim far more than the data holds are refused before anything that size is allocated.
  ModelBuilder huge(13);
  huge.input("x", {2});
  huge.init("w", {1 << 19, 1 << 19}, {1});
  huge.node("Add", {"x", "w"}, {"y"});
  huge.output("y");
  CHECK_THROWS_MATCHES(huge.import(), FormatError, What(Contains("initializer 'w'") && Contains("float_data holds 1")));
}

TEST_CASE("onnx import: nodes out of order are sorted; Split and Squeeze", "[onnx][import]") {
  ModelBuilder b(13);
  b.input("x", {-1, 4});
  // Listed consumers first: ONNX requires topological order, the importer sorts.
  b.node("Squeeze", {"u", "ax"}, {"y"}, "squeeze");
  b.node("Unsqueeze", {"s1", "ax"}, {"u"}, "unsqueeze");
  b.ints("ax", {1});
  b.ints("sizes", {1, 3});
  auto* sp = b.node("Split", {"x", "sizes"}, {"s0", "s1"}, "split");
  ModelBuilder::attr(sp, "axis", int64_t{1});
  b.output("y");
  auto net = b.import();
  check_values((*net)(iota({2, 4})), {2, 3}, {1, 2, 3, 5, 6, 7});
}

TEST_CASE("onnx import: a near-miss of the layer norm pattern runs as its elementwise ops", "[onnx][import]") {
  // mean over the last axis, but the epsilon is added after the square root:
  // not layer_norm, so the ops stay as written.
  ModelBuilder b(13);
  b.input("x", {-1, 4});
  auto mean = [&](const std::string& in, const std::string& out) {
    auto* n = b.node("ReduceMean", {in}, {out}, out);
    ModelBuilder::attr(n, "axes", std::vector<int64_t>{-1});
  };
  mean("x", "m");
  b.node("Sub", {"x", "m"}, {"d"});
  b.init("two", {}, {2});
  b.node("Pow", {"d", "two"}, {"d2"});
  mean("d2", "v");
  b.node("Sqrt", {"v"}, {"s"});
  b.init("eps", {}, {1});
  b.node("Add", {"s", "eps"}, {"se"});
  b.node("Div", {"d", "se"}, {"n"});
  b.init("gamma", {4}, {1, 1, 1, 1});
  b.node("Mul", {"n", "gamma"}, {"g"});
  b.init("beta", {4}, {0, 0, 0, 0});
  b.node("Add", {"g", "beta"}, {"y"}, "last");
  b.output("y");
  auto net = b.import();
  CHECK_THAT(net->loaded_graph_text(), !Contains("layer_norm"));
  // x = 0 1 2 3: d = -1.5 -0.5 0.5 1.5, v = 1.25, y = d / (√1.25 + 1).
  const float s = std::sqrt(1.25f) + 1;
  check_values((*net)(iota({1, 4})), {1, 4}, {-1.5f / s, -0.5f / s, 0.5f / s, 1.5f / s});
}

TEST_CASE("onnx import: a filled tensor shaped like the batch broadcasts, or is refused", "[onnx][import]") {
  // x + ones(Shape(x)) · 2: the fill becomes a (1, 2) constant that broadcasts.
  ModelBuilder b(13);
  b.input("x", {-1, 2});
  b.node("Shape", {"x"}, {"s"});
  auto* fill = b.node("ConstantOfShape", {"s"}, {"ones"});
  auto* a = fill->add_attribute();
  a->set_name("value");
  a->set_type(::onnx::AttributeProto::TENSOR);
  a->mutable_t()->set_data_type(::onnx::TensorProto::FLOAT);
  a->mutable_t()->add_dims(1);
  a->mutable_t()->add_float_data(2);
  b.node("Add", {"x", "ones"}, {"y"}, "add_fill");
  b.output("y");
  auto net = b.import();
  for (int64_t n : {1, 3}) {
    std::vector<float> v(static_cast<size_t>(2 * n));
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) + 2;
    check_values((*net)(iota({n, 2})), {n, 2}, v);
  }
  // Concatenated along the other axis it would need the full batch: refused, not baked in at batch 1.
  ModelBuilder c(13);
  c.input("x", {-1, 2});
  c.node("Shape", {"x"}, {"s"});
  c.node("ConstantOfShape", {"s"}, {"zeros"});
  auto* cat = c.node("Concat", {"x", "zeros"}, {"y"}, "cat_zeros");
  ModelBuilder::attr(cat, "axis", int64_t{1});
  c.output("y");
  CHECK_THROWS_MATCHES(c.import(), FormatError, What(Contains("'cat_zeros'") && Contains("batch")));
  // As a graph output it cannot be computed at all.
  ModelBuilder o(13);
  o.input("x", {-1, 2});
  o.node("Shape", {"x"}, {"s"});
  o.node("ConstantOfShape", {"s"}, {"y"});
  o.output("y");
  CHECK_THROWS_MATCHES(o.import(), FormatError, What(Contains("graph output 'y'")));
}

TEST_CASE("onnx import: the walk goes on consistently past a node refused at another batch size", "[onnx][import]") {
  // The concat works at batch 1 only; the nodes after it are still mapped
  // (to find other refusals) and must see the right shapes.
  ModelBuilder b(13);
  b.input("x", {-1, 2});
  b.init("row", {1, 2}, {1, 2});
  auto* cat = b.node("Concat", {"x", "row"}, {"c"}, "cat");
  ModelBuilder::attr(cat, "axis", int64_t{1});
  b.node("Relu", {"x"}, {"r"});
  b.node("Add", {"r", "r"}, {"y"});
  b.node("Mul", {"y", "r"}, {"z"});
  b.output("c");
  b.output("z");
  CHECK_THROWS_MATCHES(b.import(), FormatError,
                       What(Contains("1 node(s) cannot be imported") && Contains("'cat'") && Contains("batch size")));
}

TEST_CASE("onnx import: Clip with bounds omitted, one bound, crossed bounds and run-time bounds", "[onnx][import]") {
  const float inf = std::numeric_limits<float>::infinity(), lowest = std::numeric_limits<float>::lowest(),
              largest = std::numeric_limits<float>::max();
  const hybrid::Tensor x = hybrid::from_vector<float>({-inf, -2, 0.5f, 3, inf}, {1, 5});
  auto clip = [&](const std::vector<std::string>& in, const std::vector<float>& lo_hi) {
    ModelBuilder b(13);
    b.input("x", {-1, 5});
    if (lo_hi.size() > 0) b.init("lo", {}, {lo_hi[0]});
    if (lo_hi.size() > 1) b.init("hi", {}, {lo_hi[1]});
    std::vector<std::string> args{"x"};
    args.insert(args.end(), in.begin(), in.end());
    b.node("Clip", args, {"y"}, "clip");
    b.output("y");
    return (*b.import())(x).to_vector();
  };
  // No bounds: the type's lowest and largest values (not infinities).
  CHECK(clip({}, {}) == std::vector<float>{lowest, -2, 0.5f, 3, largest});
  // Only max (min omitted as ""), only min.
  CHECK(clip({"", "hi"}, {0, 1}) == std::vector<float>{lowest, -2, 0.5f, 1, 1});
  CHECK(clip({"lo"}, {0}) == std::vector<float>{0, 0, 0.5f, 3, largest});
  // min > max: everything is max (ONNX: Min(max, Max(x, min))).
  CHECK(clip({"lo", "hi"}, {2, 1}) == std::vector<float>{1, 1, 1, 1, 1});
  // Bounds computed at run time: Max then Min.
  ModelBuilder r(13);
  r.input("x", {-1, 5});
  r.input("lo", {});
  r.init("hi", {}, {1});
  r.node("Clip", {"x", "lo", "hi"}, {"y"}, "clip");
  r.output("y");
  auto net = r.import();
  CHECK_THAT(net->loaded_graph_text(), Contains("maximum(") && Contains("minimum("));
  CHECK(net->call({x, hybrid::from_vector<float>({-1}, {})}).at(0).to_vector() == std::vector<float>{-1, -1, 0.5f, 1, 1});
  // A bound that is not a scalar is refused, naming the node.
  ModelBuilder v(13);
  v.input("x", {-1, 5});
  v.init("lo", {2}, {0, 1});
  v.node("Clip", {"x", "lo"}, {"y"}, "clip_vec");
  v.output("y");
  CHECK_THROWS_MATCHES(v.import(), FormatError, What(Contains("'clip_vec'") && Contains("scalar")));
}

TEST_CASE("onnx import: ArgMax keepdims 0 and 1, negative axis, the first of ties", "[onnx][import]") {
  // Rows: [1 5 5 2] (a tie: the first wins), [7 0 -1 7], [0 0 0 0].
  const std::vector<float> rows{1, 5, 5, 2, 7, 0, -1, 7, 0, 0, 0, 0};
  for (int64_t keep : {0, 1}) {
    ModelBuilder b(13);
    b.input("x", {-1, 3, 4});
    auto* n = b.node("ArgMax", {"x"}, {"i"}, "argmax");
    ModelBuilder::attr(n, "axis", int64_t{-1});
    ModelBuilder::attr(n, "keepdims", keep);
    auto* c = b.node("Cast", {"i"}, {"y"});
    ModelBuilder::attr(c, "to", int64_t{::onnx::TensorProto::FLOAT});
    b.output("y");
    auto net = b.import();
    for (int64_t batch : {1, 2}) {
      std::vector<float> in, want;
      for (int64_t k = 0; k < batch; ++k) {
        in.insert(in.end(), rows.begin(), rows.end());
        want.insert(want.end(), {1, 0, 0});
      }
      const Shape shape = keep ? Shape{batch, 3, 1} : Shape{batch, 3};
      check_values((*net)(hybrid::from_vector<float>(in, {batch, 3, 4})), shape, want);
    }
  }
  // The default axis 0 and keepdims 1.
  ModelBuilder d(13);
  d.input("x", {3, 4});
  d.node("ArgMax", {"x"}, {"i"}, "argmax0");
  auto* c = d.node("Cast", {"i"}, {"y"});
  ModelBuilder::attr(c, "to", int64_t{::onnx::TensorProto::DOUBLE});
  d.output("y");
  check_values((*d.import())(hybrid::from_vector<float>(rows, {3, 4})), {1, 4}, {1, 0, 0, 1});
  // select_last_index = 1 is refused, naming the node.
  ModelBuilder last(13);
  last.input("x", {-1, 4});
  auto* l = last.node("ArgMax", {"x"}, {"y"}, "argmax_last");
  ModelBuilder::attr(l, "select_last_index", int64_t{1});
  last.output("y");
  CHECK_THROWS_MATCHES(last.import(), FormatError, What(Contains("'argmax_last'") && Contains("select_last_index")));
}

TEST_CASE("onnx import: Expand broadcasts both ways, with a lower-rank shape and 1s", "[onnx][import]") {
  // x (b, 1, 3) with the shape [2, 1]: (b, 2, 3), at any batch.
  ModelBuilder b(13);
  b.input("x", {-1, 1, 3});
  b.ints("s", {2, 1});
  b.node("Expand", {"x", "s"}, {"y"}, "expand");
  b.output("y");
  auto net = b.import();
  for (int64_t n : {1, 4}) {
    std::vector<float> want;
    for (int64_t r = 0; r < n; ++r)
      for (int k = 0; k < 2; ++k)
        for (int j = 0; j < 3; ++j) want.push_back(static_cast<float>(3 * r + j));
    check_values((*net)(iota({n, 1, 3})), {n, 2, 3}, want);
  }
  // A fixed result: one broadcast_to; x (3,) with [2, 1, 1] gives (2, 1, 3).
  ModelBuilder f(13);
  f.input("x", {3});
  f.ints("s", {2, 1, 1});
  f.node("Expand", {"x", "s"}, {"y"});
  f.output("y");
  auto fnet = f.import();
  CHECK_THAT(fnet->loaded_graph_text(), Contains("broadcast_to("));
  check_values((*fnet)(iota({3})), {2, 1, 3}, {0, 1, 2, 0, 1, 2});
  // A shape of 1s only keeps x as it is.
  ModelBuilder same(13);
  same.input("x", {-1, 3});
  same.ints("s", {1, 1});
  same.node("Expand", {"x", "s"}, {"y"});
  same.output("y");
  check_values((*same.import())(iota({2, 3})), {2, 3}, {0, 1, 2, 3, 4, 5});
  // Shapes that do not broadcast are refused, naming the node.
  ModelBuilder bad(13);
  bad.input("x", {-1, 3});
  bad.ints("s", {2});
  bad.node("Expand", {"x", "s"}, {"y"}, "bad_expand");
  bad.output("y");
  CHECK_THROWS_MATCHES(bad.import(), FormatError, What(Contains("'bad_expand'") && Contains("broadcast")));
}

TEST_CASE("onnx import: GatherElements with negative indices wraps them; out of range is an error", "[onnx][import]") {
  // Run-time indices (b, 1) along axis 1 of (b, 4): -1 is the last, -4 the first.
  ModelBuilder b(13);
  b.input("x", {-1, 4});
  b.input("i", {-1, 1}, ::onnx::TensorProto::INT64);
  auto* n = b.node("GatherElements", {"x", "i"}, {"y"}, "gather_el");
  ModelBuilder::attr(n, "axis", int64_t{-1});
  b.output("y");
  auto net = b.import();
  CHECK_THAT(net->loaded_graph_text(), Contains("pick("));
  check_values(net->call({iota({3, 4}), hybrid::from_vector<float>({-1, 2, -4}, {3, 1})}).at(0), {3, 1}, {3, 6, 8});
  // An index outside [-4, 3] fails when the model runs.
  CHECK_THROWS_AS(net->call({iota({1, 4}), hybrid::from_vector<float>({4}, {1, 1})}), hybrid::Error);
  CHECK_THROWS_AS(net->call({iota({1, 4}), hybrid::from_vector<float>({-5}, {1, 1})}), hybrid::Error);
  // Constant indices along axis 0: wrapped at import, out of range refused there.
  auto constant = [](const std::vector<int64_t>& idx, const std::vector<int64_t>& dims = {1, 4}) {
    ModelBuilder c(13);  // returned for import() alone, which reads the model, not `g`
    c.input("x", {3, 4});
    c.ints("i", idx, dims);
    c.node("GatherElements", {"x", "i"}, {"y"}, "gather_const");
    c.output("y");
    return c;
  };
  check_values((*constant({0, -1, 2, -3}).import())(iota({3, 4})), {1, 4}, {0, 9, 10, 3});
  CHECK_THROWS_MATCHES(constant({0, 3, 0, 0}).import(), FormatError,
                       What(Contains("'gather_const'") && Contains("index 3 is out of range [-3, 2]")));
  CHECK_THROWS_MATCHES(constant({0, 0, -4, 0}).import(), FormatError,
                       What(Contains("'gather_const'") && Contains("index -4")));
  // More than one index per line is refused, naming the node.
  CHECK_THROWS_MATCHES(constant({0, 1, 0, 1, 0, 1, 0, 1}, {2, 4}).import(), FormatError,
                       What(Contains("'gather_const'") && Contains("one index per line")));
}

TEST_CASE("onnx import: Min and Max of several inputs, Not, Softplus, Reciprocal", "[onnx][import]") {
  ModelBuilder b(13);
  b.input("x", {-1, 3});
  b.init("row", {3}, {1, -1, 0.5f});
  b.init("k", {}, {0.25f});
  b.node("Max", {"x", "row", "k"}, {"mx"});
  b.node("Min", {"x", "row"}, {"mn"});
  b.node("Min", {"mx"}, {"mx1"}, "min_of_one");  // one input: itself
  b.node("Greater", {"x", "k"}, {"gt"});
  b.node("Not", {"gt"}, {"ng"});
  auto* c = b.node("Cast", {"ng"}, {"ngf"});
  ModelBuilder::attr(c, "to", int64_t{::onnx::TensorProto::FLOAT});
  b.node("Softplus", {"x"}, {"sp"});
  b.node("Reciprocal", {"row"}, {"inv"});
  b.node("Abs", {"x"}, {"ax"});
  b.node("Sqrt", {"ax"}, {"sq"});
  b.node("Reciprocal", {"sq"}, {"rs"}, "rsqrt");
  b.node("Reciprocal", {"x"}, {"rx"});
  for (const char* o : {"mx1", "mn", "ngf", "sp", "inv", "rs", "rx"}) b.output(o);
  auto net = b.import();
  CHECK_THAT(net->loaded_graph_text(), Contains("rsqrt(") && Contains("softrelu("));
  const auto y = net->call({hybrid::from_vector<float>({-2, 0, 4}, {1, 3})});
  REQUIRE(y.size() == 7);
  check_values(y[0], {1, 3}, {1, 0.25f, 4});
  check_values(y[1], {1, 3}, {-2, -1, 0.5f});
  check_values(y[2], {1, 3}, {1, 1, 0});
  check_values(y[3], {1, 3}, {std::log1p(std::exp(-2.0f)), std::log(2.0f), 4 + std::log1p(std::exp(-4.0f))});
  check_values(y[4], {3}, {1, -1, 2});
  check_values(y[5], {1, 3}, {1 / std::sqrt(2.0f), INFINITY, 0.5f});
  CHECK(y[6].to_vector() == std::vector<float>{-0.5f, INFINITY, 0.25f});
}
