// Export and import: export → import round trips bit-identical to the
// exporting block (seed MLP, the chapter's HybridNet, a model with constants,
// a model using every portable op; float and double), imported graphs run at
// other batch sizes, re-export gives the same bytes, graphs with several
// named inputs, and every malformed graph or params file rejected with a
// FormatError naming the file and the place.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "../support/files.hpp"
#include "../support/models.hpp"

using Catch::Contains;
using hybrid::Error;
using hybrid::FormatError;
using hybrid::OpCode;
using hybrid::Shape;
using hybrid::TensorT;
namespace fs = std::filesystem;
namespace io = hybrid::io;
namespace nn = hybrid::nn;
namespace st = hybrid::io::safetensors;
using ojson = nlohmann::ordered_json;

using testing::AllOpsNetT;
using testing::HybridNetT;
using testing::le64;
using testing::read_bytes;
using testing::seed_mlp;
using testing::TempDir;
using testing::write_bytes;

namespace {


/// Same shape and the same bytes.
template <class T>
bool bit_identical(const TensorT<T>& a, const TensorT<T>& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), sizeof(T) * static_cast<size_t>(a.size())) == 0;
}

/// The message of the FormatError `f` throws; fails the test otherwise.
template <class F>
std::string format_error_of(F&& f) {
  try {
    f();
  } catch (const FormatError& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL("expected a FormatError, got another exception: " << e.what());
  }
  FAIL("expected a FormatError, nothing was thrown");
  return {};
}

/// The message of the hybrid::Error (not a FormatError) `f` throws.
template <class F>
std::string argument_error_of(F&& f) {
  try {
    f();
  } catch (const FormatError& e) {
    FAIL("expected an argument Error, got a FormatError: " << e.what());
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL("expected hybrid::Error, got another exception: " << e.what());
  }
  FAIL("expected hybrid::Error, nothing was thrown");
  return {};
}

// ---------------------------------------------------------------------------
// Models

/// Constants of every kind: scalars, a broadcast ones(), non-finite values
/// (-inf, inf, NaN) kept in the file, one made long before its use, softmax,
/// slices with negative and clamped bounds, concat, and reshapes with -1.
template <class T>
class ConstNetT : public nn::HybridBlockT<T> {
 public:
  ConstNetT() { dense = this->register_block("dense", nn::DenseT<T>(6)); }
  TensorT<T> forward(const TensorT<T>& x) override {
    using namespace hybrid;
    const T inf = std::numeric_limits<T>::infinity();
    const TensorT<T> scale = from_vector<T>({T(0.5), T(-1), T(2), T(0), T(1.5), T(-0.25)}, {1, 6});  // used last
    TensorT<T> h = (*dense)(x) * T(2) + ones<T>({1, 6});
    h = minimum(maximum(h, full<T>({1, 6}, -inf)), full<T>({1, 6}, inf));
    h = where(equal(h, h), h, full<T>({1, 6}, std::numeric_limits<T>::quiet_NaN()));
    const TensorT<T> c = concat<T>({slice(h, 1, -3, 100), slice(h, 1, 0, 3)}, 1);
    return reshape(softmax(reshape(c, {-1, 3, 2}), -1), {-1, 6}) * scale;
  }
  std::shared_ptr<nn::DenseT<T>> dense;
};

/// Exports `net` after one hybridized call on an input of `in_shape`, imports
/// it, and checks the import against the exporting block: bit-identical at
/// the traced shape, close at batch 64 and 256, and re-exported byte for byte.
template <class T, class Net>
void check_round_trip(Net& net, const Shape& in_shape, const std::string& prefix) {
  net.hybridize();
  hybrid::random::seed(11);
  const TensorT<T> x = hybrid::random::normal<T>(in_shape);
  const TensorT<T> y = net(x);
  net.export_model(prefix);
  const std::string symbol = prefix + "-symbol.json", params = prefix + "-0000.params";
  REQUIRE(fs::exists(symbol));
  REQUIRE(fs::exists(params));

  auto imported = nn::SymbolBlockT<T>::imports(symbol, {"data"}, params);
  REQUIRE(imported->is_hybridized());
  const TensorT<T> z = (*imported)(x);
  CHECK(bit_identical(z, y));
  CHECK(bit_identical((*imported)(x), y));  // the replay, not only the first trace

  // The imported block's parameters hold the exporting block's values.
  for (const auto& p : net.collect_params()) {
    REQUIRE(imported->collect_params().contains(p->name()));
    CHECK(bit_identical(imported->collect_params()[p->name()]->data(), p->data()));
  }

  // Traced at batch 1, run at 64 and 256.
  for (int64_t batch : {64, 256}) {
    Shape s = in_shape;
    s[0] = batch;
    const TensorT<T> xb = hybrid::random::normal<T>(s);
    const TensorT<T> yb = net(xb), zb = (*imported)(xb);
    CHECK(zb.shape() == yb.shape());
    CHECK(hybrid::allclose(zb, yb, 1e-5, 1e-6));
  }

  // Eagerly (interpreting the graph node by node) it agrees too.
  auto eager = nn::SymbolBlockT<T>::imports(symbol, {"data"}, params);
  eager->hybridize(false);
  CHECK(hybrid::allclose((*eager)(x), y, 1e-5, 1e-6));

  // Re-export after a call at the traced shape: the same bytes.
  CHECK(bit_identical((*imported)(x), y));
  imported->export_model(prefix + "-again");
  CHECK(read_bytes(prefix + "-again-symbol.json") == read_bytes(symbol));
  CHECK(read_bytes(prefix + "-again-0000.params") == read_bytes(params));
}

/// A small exported model for the corrupt-file cases: data (1, 4) →
/// Dense(3, relu) → Dense(2); parameters 0.weight (3, 4), 0.bias (3,),
/// 1.weight (2, 3), 1.bias (2,).
struct SmallModel {
  std::string symbol, params;
  ojson doc;  // the graph file, parsed
};

SmallModel export_small_model(const TempDir& dir) {
  nn::HybridSequential net;
  net.add(nn::Dense(3, "relu", true, 4), nn::Dense(2, "", true, 3));
  hybrid::random::seed(5);
  net.initialize(nn::init::Normal(1.0));
  net.hybridize();
  net(hybrid::random::normal({1, 4}));
  net.export_model(dir.file("small"));
  SmallModel m{dir.file("small-symbol.json"), dir.file("small-0000.params"), {}};
  m.doc = ojson::parse(read_bytes(m.symbol));
  return m;
}

/// Index of the first node with op `op` in a parsed graph file.
size_t node_index(const ojson& doc, const std::string& op) {
  for (size_t i = 0; i < doc["nodes"].size(); ++i)
    if (doc["nodes"][i]["op"] == op) return i;
  FAIL("no node with op " << op);
  return 0;
}

/// A params file from a header (a JSON object) and data bytes.
std::string params_bytes(const ojson& header, const std::string& data) {
  const std::string text = header.dump();
  return le64(text.size()) + text + data;
}

/// `n` float32 values as little-endian bytes.
std::string f32_bytes(size_t n, float v = 0.5f) {
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    char b[4];
    std::memcpy(b, &v, 4);
    s.append(b, 4);
  }
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------

TEST_CASE("export writes the graph and params files in the documented layout", "[io]") {
  TempDir dir;
  nn::HybridSequential net = seed_mlp<float>();
  net.hybridize();
  hybrid::random::seed(1);
  net(hybrid::random::normal({1, 512}));
  net.export_model(dir.file("mlp"), 7);
  REQUIRE(fs::exists(dir.file("mlp-symbol.json")));
  REQUIRE(fs::exists(dir.file("mlp-0007.params")));

  const std::string text = read_bytes(dir.file("mlp-symbol.json"));
  const ojson doc = ojson::parse(text);
  std::vector<std::string> keys;
  for (auto it = doc.begin(); it != doc.end(); ++it) keys.push_back(it.key());
  CHECK(keys ==
        std::vector<std::string>{"format", "format_version", "producer", "dtype", "nodes", "arg_nodes", "heads"});
  CHECK(doc["format"] == "hybrid-symbol");
  CHECK(doc["format_version"] == io::kGraphFormatVersion);
  CHECK(doc["producer"]["name"] == "hybrid");
  CHECK(doc["producer"]["version"] == io::kProducerVersion);
  CHECK(doc["dtype"] == "float32");

  // The input variable carries its kind, traced shape and dtype.
  const ojson& data = doc["nodes"][0];
  CHECK(data["op"] == "null");
  CHECK(data["name"] == "data");
  CHECK(data["attrs"] == ojson::parse(R"({"kind": "input", "shape": [1, 512], "dtype": "float32"})"));
  CHECK(data["inputs"] == ojson::array());

  // The portable ops: Dense is fully_connected (fusion is not exported).
  std::vector<std::string> ops, params;
  std::vector<int> variables;
  for (size_t i = 0; i < doc["nodes"].size(); ++i) {
    const ojson& n = doc["nodes"][i];
    if (n["op"] == "null") {
      variables.push_back(static_cast<int>(i));
      if (n["attrs"]["kind"] == "param") params.push_back(n["name"].get<std::string>());
    } else {
      ops.push_back(n["op"].get<std::string>());
    }
    for (const auto& in : n["inputs"]) {
      REQUIRE(in.size() == 3);
      CHECK(in[0].get<size_t>() < i);
      CHECK(in[1] == 0);
      CHECK(in[2] == 0);
    }
  }
  CHECK(ops == std::vector<std::string>{"fully_connected", "relu", "fully_connected", "relu", "fully_connected"});
  CHECK(params == std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias"});
  CHECK(doc["arg_nodes"] == ojson(variables));
  CHECK(doc["heads"] == ojson::parse("[[" + std::to_string(doc["nodes"].size() - 1) + ", 0, 0]]"));
  const ojson& fc = doc["nodes"][node_index(doc, "fully_connected")];
  CHECK(fc["attrs"] == ojson::parse(R"({"flatten": true, "no_bias": false, "activation": ""})"));
  CHECK(fc["inputs"].size() == 3);

  // The params file: safetensors, one F32 entry per parameter variable, in graph order.
  const std::string bytes = read_bytes(dir.file("mlp-0007.params"));
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i)
    header_len = (header_len << 8) | static_cast<unsigned char>(bytes[static_cast<size_t>(i)]);
  CHECK((8 + header_len) % 8 == 0);
  const ojson header = ojson::parse(bytes.substr(8, header_len));
  CHECK(header["__metadata__"] == ojson::parse(R"({"format": "hybrid-params"})"));
  const st::File file = st::read(dir.file("mlp-0007.params"));
  std::vector<std::string> names;
  for (const auto& t : file.tensors()) {
    names.push_back(t.name);
    CHECK(t.dtype == hybrid::DType::float32);
    CHECK(header[t.name]["dtype"] == "F32");
  }
  CHECK(names == params);
  CHECK(file.find("0.weight")->shape == Shape{256, 512});
  CHECK(file.find("2.bias")->shape == Shape{2});
  for (const auto& p : net.collect_params())
    CHECK(bit_identical(file.tensor<float>(*file.find(p->name())), p->data()));
}

TEST_CASE("double models export a float64 graph and F64 params", "[io]") {
  TempDir dir;
  HybridNetT<double> net;
  net.initialize();
  net.hybridize();
  net(hybrid::random::normal<double>({1, 4}));
  net.export_model(dir.file("hn"));
  const ojson doc = ojson::parse(read_bytes(dir.file("hn-symbol.json")));
  CHECK(doc["dtype"] == "float64");
  CHECK(doc["nodes"][0]["attrs"]["dtype"] == "float64");
  const st::File file = st::read(dir.file("hn-0000.params"));
  REQUIRE(file.tensors().size() == 4);
  for (const auto& t : file.tensors()) CHECK(t.dtype == hybrid::DType::float64);
  CHECK(file.find("hidden.weight")->shape == Shape{4, 4});
  CHECK(file.find("output.bias")->shape == Shape{2});
  // A float64 graph does not load as float32.
  const std::string msg = format_error_of(
      [&] { nn::SymbolBlock::imports(dir.file("hn-symbol.json"), {"data"}, dir.file("hn-0000.params")); });
  CHECK_THAT(msg, Contains(dir.file("hn-symbol.json")) && Contains("dtype") && Contains("float64"));
}

TEMPLATE_TEST_CASE("the seed MLP round trips bit-identically", "[io]", float, double) {
  TempDir dir;
  auto net = seed_mlp<TestType>();
  check_round_trip<TestType>(net, Shape{1, 512}, dir.file("mlp"));
}

TEMPLATE_TEST_CASE("the chapter's HybridNet round trips bit-identically", "[io]", float, double) {
  TempDir dir;
  HybridNetT<TestType> net;
  net.initialize();
  check_round_trip<TestType>(net, Shape{1, 4}, dir.file("hybridnet"));
}

TEMPLATE_TEST_CASE("a model with constants round trips bit-identically", "[io]", float, double) {
  TempDir dir;
  ConstNetT<TestType> net;
  net.initialize(nn::init::Normal(1.0));
  check_round_trip<TestType>(net, Shape{1, 5}, dir.file("consts"));
  // The constants are in the file, non-finite ones as strings.
  const std::string text = read_bytes(dir.file("consts-symbol.json"));
  CHECK_THAT(text, Contains("\"op\": \"constant\""));
  CHECK_THAT(text, Contains("\"nan\""));
  CHECK_THAT(text, Contains("\"inf\""));
  CHECK_THAT(text, Contains("\"-inf\""));
  const ojson doc = ojson::parse(text);
  // The constant made first is node 1, far from its only use (the last op).
  CHECK(doc["nodes"][1]["op"] == "constant");
  CHECK(doc["nodes"][1]["attrs"]["value"] == ojson::parse("[0.5, -1.0, 2.0, 0.0, 1.5, -0.25]"));
  size_t first_use = 0;
  for (size_t i = 0; i < doc["nodes"].size() && !first_use; ++i)
    for (const auto& in : doc["nodes"][i]["inputs"])
      if (in[0] == 1) first_use = i;
  CHECK(first_use == doc["nodes"].size() - 1);
  CHECK(first_use > 10);
  CHECK(doc["nodes"][node_index(doc, "slice")]["attrs"] == ojson::parse(R"({"axis": 1, "begin": -3, "end": 100})"));
  CHECK(doc["nodes"][node_index(doc, "reshape")]["attrs"] == ojson::parse(R"({"shape": [-1, 3, 2]})"));
  CHECK(doc["nodes"][node_index(doc, "softmax")]["attrs"] == ojson::parse(R"({"axis": 2})"));
}

TEMPLATE_TEST_CASE("a model using every portable op round trips bit-identically", "[io]", float, double) {
  TempDir dir;
  AllOpsNetT<TestType> net;
  net.initialize(nn::init::Normal(0.5));
  check_round_trip<TestType>(net, Shape{1, 6}, dir.file("allops"));
  const ojson doc = ojson::parse(read_bytes(dir.file("allops-symbol.json")));
  std::vector<std::string> ops;
  for (const auto& n : doc["nodes"]) ops.push_back(n["op"].get<std::string>());
  auto in_file = [&](const std::string& op) { return std::find(ops.begin(), ops.end(), op) != ops.end(); };
  // Every portable op of the op table is in the file, so an op added to the
  // table without a use in this model fails here.
  int portable = 0;
  for (int i = 0; i < hybrid::kOpCount; ++i) {
    const auto op = static_cast<OpCode>(i);
    if (hybrid::has_trait(op, hybrid::kSource) || hybrid::has_trait(op, hybrid::kInternal)) continue;
    ++portable;
    INFO("op " << hybrid::op_def(op).name);
    CHECK(in_file(hybrid::op_def(op).name));
  }
  CHECK(portable > 0);
  CHECK(in_file("null"));
  CHECK(in_file("constant"));
  // Every op in the file is a portable op of the table (split is written as slices).
  for (const std::string& name : ops) {
    INFO("op " << name);
    OpCode code = OpCode::count;
    REQUIRE(hybrid::op_from_name(name, code));
    CHECK_FALSE(hybrid::has_trait(code, hybrid::kInternal));
  }
  // Each op's attributes, as written.
  auto attrs_of = [&](const std::string& op) {
    std::vector<ojson> all;
    for (const auto& n : doc["nodes"])
      if (n["op"] == op) all.push_back(n["attrs"]);
    return all;
  };
  CHECK(attrs_of("leaky_relu") == std::vector<ojson>{ojson::parse(R"({"alpha": 0.25})")});
  CHECK(attrs_of("clip") == std::vector<ojson>{ojson::parse(R"({"a_min": -0.5, "a_max": 0.75})")});
  CHECK(attrs_of("one_hot") ==
        std::vector<ojson>{ojson::parse(R"({"depth": 6, "on_value": 2.0, "off_value": -1.0})")});
  CHECK(attrs_of("pad") == std::vector<ojson>{ojson::parse(R"({"pad_before": [0, 1], "pad_after": [0, 2], "constant_value": 0.5})")});
  CHECK(attrs_of("take") == std::vector<ojson>{ojson::parse(R"({"axis": 1})")});
  CHECK(attrs_of("pick") == std::vector<ojson>{ojson::parse(R"({"axis": 1, "keepdims": true})")});
  CHECK(attrs_of("argmax") == std::vector<ojson>{ojson::parse(R"({"axis": 1, "keepdims": false})")});
  CHECK(attrs_of("stack") == std::vector<ojson>{ojson::parse(R"({"axis": 1})")});
  CHECK(attrs_of("dropout") == std::vector<ojson>{ojson::parse(R"({"rate": 0.25})")});
  REQUIRE(attrs_of("batch_norm").size() == 1);
  CHECK(attrs_of("batch_norm")[0]["axis"] == 1);
  CHECK(attrs_of("conv2d") == std::vector<ojson>{ojson::parse(
                                  R"({"no_bias": false, "activation": "sigmoid", "stride": [1, 1], "padding": [1, 0],
                                      "dilation": [1, 2], "groups": 2})")});
  CHECK(attrs_of("broadcast_to") == std::vector<ojson>{ojson::parse(R"({"shape": [1, 6]})")});
  for (const char* op : {"square", "rsqrt", "log1p", "gelu", "silu", "erf"}) CHECK(attrs_of(op) == std::vector<ojson>{ojson::object()});
  CHECK(attrs_of("max_pool2d") ==
        std::vector<ojson>{ojson::parse(R"({"kernel": [2, 2], "stride": [1, 1], "padding": [1, 1]})")});
  CHECK(attrs_of("avg_pool2d") == std::vector<ojson>{ojson::parse(
                                      R"({"kernel": [2, 3], "stride": [2, 1], "padding": [1, 1], "count_include_pad": false})")});
  CHECK(attrs_of("layer_norm") == std::vector<ojson>{ojson::parse(R"({"axis": 1, "epsilon": 0.0625})")});
  for (const char* op : {"global_avg_pool2d", "embedding"}) CHECK(attrs_of(op) == std::vector<ojson>{ojson::object()});
  // Reduction axes: null (all), an integer (one) or an array (several, sorted, non-negative).
  const auto sums = attrs_of("sum"), means = attrs_of("mean"), maxes = attrs_of("max");
  CHECK(std::count(sums.begin(), sums.end(), ojson::parse(R"({"axis": [1, 2], "keepdims": false})")) == 1);
  CHECK(std::count(means.begin(), means.end(), ojson::parse(R"({"axis": [1, 2], "keepdims": true})")) == 1);
  CHECK(std::count(maxes.begin(), maxes.end(), ojson::parse(R"({"axis": [1, 3], "keepdims": false})")) == 1);
  CHECK(std::count(sums.begin(), sums.end(), ojson::parse(R"({"axis": 2, "keepdims": true})")) == 1);
  // The split's two halves are slices along the last axis.
  CHECK(std::count(ops.begin(), ops.end(), "slice") == 3);
  bool saw_epilogue = false, saw_reverse = false, saw_all_axes = false;
  for (const auto& n : doc["nodes"]) {
    if (n["op"] == "fully_connected" && n["attrs"]["activation"] == "tanh") {
      saw_epilogue = true;
      CHECK(n["attrs"]["flatten"] == false);
      CHECK(n["attrs"]["no_bias"] == false);
    }
    if (n["op"] == "fully_connected" && n["attrs"]["no_bias"] == true) CHECK(n["inputs"].size() == 2);
    if (n["op"] == "transpose" && n["attrs"]["perm"].empty()) saw_reverse = true;
    if (n["op"] == "mean" && n["attrs"]["axis"].is_null()) saw_all_axes = true;
    if (n["op"] == "power_scalar") CHECK(n["attrs"] == ojson::parse(R"({"scalar": 1.5})"));
  }
  CHECK(saw_epilogue);
  CHECK(saw_reverse);
  CHECK(saw_all_axes);
}

TEST_CASE("export is byte-for-byte deterministic", "[io]") {
  TempDir dir;
  auto build = [] {
    hybrid::random::seed(3);
    nn::HybridSequential net = seed_mlp<float>();
    net.hybridize();
    net(hybrid::random::normal({1, 512}));
    return net;
  };
  nn::HybridSequential a = build(), b = build();
  a.export_model(dir.file("a"));
  a.export_model(dir.file("a2"));
  b.export_model(dir.file("b"));
  CHECK(read_bytes(dir.file("a-symbol.json")) == read_bytes(dir.file("a2-symbol.json")));
  CHECK(read_bytes(dir.file("a-symbol.json")) == read_bytes(dir.file("b-symbol.json")));
  CHECK(read_bytes(dir.file("a-0000.params")) == read_bytes(dir.file("b-0000.params")));
  // Reading and writing the graph again changes nothing.
  const auto g = io::load_graph<float>(dir.file("a-symbol.json"));
  CHECK(io::graph_to_json(g) == read_bytes(dir.file("a-symbol.json")));
}

TEST_CASE("export before a hybridized call explains what to do", "[io]") {
  TempDir dir;
  nn::HybridSequential net = seed_mlp<float>();
  SECTION("never called") {
    const std::string msg = argument_error_of([&] { net.export_model(dir.file("m")); });
    CHECK_THAT(msg, Contains("export_model") && Contains("hybridize()") && Contains("once"));
  }
  SECTION("hybridized but not called") {
    net.hybridize();
    const std::string msg = argument_error_of([&] { net.export_model(dir.file("m")); });
    CHECK_THAT(msg, Contains("export_model") && Contains("hybridize()"));
  }
  SECTION("called eagerly only") {
    net(hybrid::random::normal({1, 512}));
    const std::string msg = argument_error_of([&] { net.export_model(dir.file("m")); });
    CHECK_THAT(msg, Contains("hybridize()"));
  }
  CHECK_FALSE(fs::exists(dir.file("m-symbol.json")));
  CHECK_FALSE(fs::exists(dir.file("m-0000.params")));
}

TEST_CASE("a traced two-input graph imports with its inputs named in any order", "[io]") {
  TempDir dir;
  auto f = [](const TensorT<float>& a, const TensorT<float>& b) {
    return hybrid::matmul(a, hybrid::transpose(b)) * 2.0f + hybrid::sum(b, 1);
  };
  const auto g = hybrid::trace::trace_graph<float>(
      [&](const std::vector<TensorT<float>>& in) { return f(in[0], in[1]); },
      std::vector<Shape>{Shape{1, 3}, Shape{2, 3}});
  io::save_graph(g, dir.file("two-symbol.json"));
  st::write(dir.file("two-0000.params"), {}, {{"format", "hybrid-params"}});

  const ojson doc = ojson::parse(read_bytes(dir.file("two-symbol.json")));
  CHECK(doc["nodes"][0]["name"] == "data0");
  CHECK(doc["nodes"][1]["name"] == "data1");

  hybrid::random::seed(2);
  const TensorT<float> a = hybrid::random::normal({5, 3}), b = hybrid::random::normal({2, 3});
  const TensorT<float> expected = f(a, b);

  // Named in file order, and the other way round: the names bind, not the order.
  const std::string symbol = dir.file("two-symbol.json"), params = dir.file("two-0000.params");
  auto in_order = nn::SymbolBlock::imports(symbol, {"data0", "data1"}, params);
  auto swapped = nn::SymbolBlock::imports(symbol, {"data1", "data0"}, params);
  CHECK(in_order->input_names() == std::vector<std::string>{"data0", "data1"});
  CHECK(swapped->input_shapes() == std::vector<Shape>{Shape{2, 3}, Shape{1, 3}});
  const TensorT<float> y1 = (*in_order)({a, b}), y2 = (*swapped)({b, a});
  CHECK(y1.shape() == Shape{5, 2});
  CHECK(hybrid::allclose(y1, expected));
  CHECK(bit_identical(y1, y2));
  CHECK(bit_identical((*in_order)({a, b}), y1));  // replayed

  // Eagerly too.
  in_order->hybridize(false);
  CHECK(hybrid::allclose((*in_order)({a, b}), expected));

  // Names that do not match the graph's inputs are a mismatch with the file:
  // FormatErrors naming it and the inputs.
  std::string msg = format_error_of(
      [&] { nn::SymbolBlock::imports(dir.file("two-symbol.json"), {"data0"}, dir.file("two-0000.params")); });
  CHECK_THAT(msg, Contains(dir.file("two-symbol.json")) && Contains("'data0', 'data1'") && Contains("1 were named"));
  msg = format_error_of([&] {
    nn::SymbolBlock::imports(dir.file("two-symbol.json"), {"data0", "x"}, dir.file("two-0000.params"));
  });
  CHECK_THAT(msg, Contains("'x' is not an input") && Contains(dir.file("two-symbol.json")));
  msg = format_error_of([&] {
    nn::SymbolBlock::imports(dir.file("two-symbol.json"), {"data0", "data1", "data2"}, dir.file("two-0000.params"));
  });
  CHECK_THAT(msg, Contains(dir.file("two-symbol.json")) && Contains("'data2' is not an input"));
  // A name given twice is wrong whatever the file holds: an argument error.
  msg = argument_error_of([&] {
    nn::SymbolBlock::imports(dir.file("two-symbol.json"), {"data0", "data0"}, dir.file("two-0000.params"));
  });
  CHECK_THAT(msg, Contains("'data0' is given twice"));
  msg = argument_error_of([&] { (*swapped)({b}); });
  CHECK_THAT(msg, Contains("called with 1 inputs") && Contains("takes 2"));
}

TEST_CASE("a hand-written graph with named inputs, a parameter and a constant", "[io]") {
  TempDir dir;
  const std::string text = R"({
    "format": "hybrid-symbol", "format_version": 1, "producer": {"name": "by hand", "version": "1"},
    "dtype": "float32",
    "nodes": [
      {"op": "null", "name": "x", "attrs": {"kind": "input", "shape": [1, 3], "dtype": "float32"}, "inputs": []},
      {"op": "null", "name": "y", "attrs": {"kind": "input", "shape": [1, 3], "dtype": "float32"}, "inputs": []},
      {"op": "null", "name": "scale", "attrs": {"kind": "param", "shape": [3], "dtype": "float32"}, "inputs": []},
      {"op": "multiply", "name": "m", "attrs": {}, "inputs": [[0, 0, 0], [2, 0, 0]]},
      {"op": "constant", "name": "half", "attrs": {"shape": [], "value": [0.5]}, "inputs": []},
      {"op": "subtract", "name": "s", "attrs": {}, "inputs": [[1, 0, 0], [4, 0, 0]]},
      {"op": "add", "name": "out", "attrs": {}, "inputs": [[3, 0, 0], [5, 0, 0]]}
    ],
    "arg_nodes": [0, 1, 2],
    "heads": [[6, 0, 0]]
  })";
  write_bytes(dir.file("hand-symbol.json"), text);
  const TensorT<float> scale = hybrid::from_vector<float>({1.0f, -2.0f, 0.25f});
  st::write(dir.file("hand-0000.params"), {st::entry("scale", scale)}, {{"format", "hybrid-params"}});

  auto block = nn::SymbolBlock::imports(dir.file("hand-symbol.json"), {"y", "x"}, dir.file("hand-0000.params"));
  hybrid::random::seed(4);
  const TensorT<float> x = hybrid::random::normal({7, 3}), y = hybrid::random::normal({7, 3});
  const TensorT<float> out = (*block)({y, x});
  CHECK(hybrid::allclose(out, x * scale + (y - 0.5f), 0, 0));
  CHECK(block->collect_params()["scale"]->shape() == Shape{3});

  // Re-exported after a call at the traced shapes, with the inputs named in
  // file order: the graph as the writer lays it out, input names kept.
  auto ordered = nn::SymbolBlock::imports(dir.file("hand-symbol.json"), {"x", "y"}, dir.file("hand-0000.params"));
  (*ordered)({hybrid::random::normal({1, 3}), hybrid::random::normal({1, 3})});
  ordered->export_model(dir.file("again"));
  const std::string canonical = io::graph_to_json(io::load_graph<float>(dir.file("hand-symbol.json")));
  CHECK(read_bytes(dir.file("again-symbol.json")) == canonical);
  CHECK(read_bytes(dir.file("again-0000.params")) == read_bytes(dir.file("hand-0000.params")));
  const ojson again = ojson::parse(canonical);
  CHECK(again["nodes"][0]["name"] == "x");
  CHECK(again["nodes"][1]["name"] == "y");
  CHECK(again["nodes"][4]["op"] == "constant");
}

TEST_CASE("imported graphs print as DOT before and after a call", "[io]") {
  TempDir dir;
  const SmallModel m = export_small_model(dir);
  auto block = nn::SymbolBlock::imports(m.symbol, {"data"}, m.params);
  // Before any call: the graph as loaded.
  const std::string loaded = block->graph_dot();
  CHECK_THAT(loaded, Contains("digraph") && Contains("data") && Contains("0.weight") && Contains("relu"));
  CHECK(loaded == block->loaded_graph_dot());
  CHECK_THAT(block->loaded_graph_text(), Contains("input data") && Contains("param 1.bias"));
  CHECK(block->input_shapes() == std::vector<Shape>{Shape{1, 4}});
  // After a call: the compiled graph, with the relu fused into fully_connected.
  (*block)(hybrid::random::normal({3, 4}));
  CHECK_THAT(block->graph_dot(), Contains("fully_connected+relu") && Contains("(3, 2)"));
  CHECK_THAT(block->loaded_graph_dot(), !Contains("fully_connected+relu"));
  CHECK(block->graph_ops() == std::vector<std::string>{"fully_connected", "fully_connected"});
}

TEST_CASE("non-finite attribute values round trip as strings", "[io]") {
  const auto g = hybrid::trace::trace_graph<double>(
      [](const TensorT<double>& x) { return hybrid::pow(x, std::numeric_limits<double>::infinity()); }, Shape{2});
  const std::string text = io::graph_to_json(g);
  CHECK_THAT(text, Contains("\"scalar\": \"inf\""));
  const auto back = io::graph_from_json<double>(text, "pow.json");
  REQUIRE(back.nodes.size() == 2);
  CHECK(std::isinf(back.nodes[1].attrs.scalar));
  CHECK(io::graph_to_json(back) == text);
}

TEST_CASE("malformed graph files are rejected with FormatError", "[io]") {
  TempDir dir;
  const SmallModel m = export_small_model(dir);
  const std::string bad = dir.file("bad-symbol.json");
  // Writes the graph file changed by `edit` and returns its import's FormatError.
  auto load_edited = [&](const std::function<void(ojson&)>& edit) {
    ojson doc = m.doc;
    edit(doc);
    write_bytes(bad, doc.dump(1));
    return format_error_of([&] { nn::SymbolBlock::imports(bad, {"data"}, m.params); });
  };
  auto load_text = [&](const std::string& text) {
    write_bytes(bad, text);
    return format_error_of([&] { nn::SymbolBlock::imports(bad, {"data"}, m.params); });
  };
  const size_t fc = node_index(m.doc, "fully_connected"), relu = node_index(m.doc, "relu");
  const std::string at_fc = "nodes[" + std::to_string(fc) + "]", at_relu = "nodes[" + std::to_string(relu) + "]";

  SECTION("the valid file loads") {
    auto block = nn::SymbolBlock::imports(m.symbol, {"data"}, m.params);
    CHECK(block->graph().nodes.size() == m.doc["nodes"].size());
  }
  SECTION("malformed JSON") {
    const std::string text = read_bytes(m.symbol);
    const std::string msg = load_text(text.substr(0, text.size() / 2));
    CHECK_THAT(msg, Contains(bad) && Contains("malformed JSON"));
  }
  SECTION("empty file") { CHECK_THAT(load_text(""), Contains(bad) && Contains("malformed JSON")); }
  SECTION("not a JSON object") { CHECK_THAT(load_text("[1, 2, 3]"), Contains(bad) && Contains("not a JSON object")); }
  SECTION("a missing top-level key") {
    for (const char* key : {"format", "format_version", "dtype", "nodes", "heads", "arg_nodes"}) {
      INFO("key " << key);
      const std::string msg = load_edited([&](ojson& d) { d.erase(key); });
      CHECK_THAT(msg, Contains(bad) && Contains(std::string("missing key '") + key + "'"));
    }
  }
  SECTION("a missing node key") {
    for (const char* key : {"op", "name", "attrs", "inputs"}) {
      INFO("key " << key);
      const std::string msg = load_edited([&](ojson& d) { d["nodes"][fc].erase(key); });
      CHECK_THAT(msg, Contains(bad) && Contains(at_fc) && Contains(std::string("missing key '") + key + "'"));
    }
  }
  SECTION("a node that is not an object") {
    CHECK_THAT(load_edited([&](ojson& d) { d["nodes"][1] = 42; }), Contains(bad) && Contains("nodes[1]"));
  }
  SECTION("a wrongly typed node field") {
    const std::string msg = load_edited([&](ojson& d) { d["nodes"][fc]["inputs"] = "none"; });
    CHECK_THAT(msg, Contains(at_fc) && Contains("inputs an array"));
  }
  SECTION("the wrong format name or version") {
    CHECK_THAT(load_edited([](ojson& d) { d["format"] = "mxnet"; }), Contains(bad) && Contains("format"));
    CHECK_THAT(load_edited([](ojson& d) { d["format_version"] = 2; }),
               Contains(bad) && Contains("format_version") && Contains("unsupported version 2"));
    CHECK_THAT(load_edited([](ojson& d) { d["format_version"] = "1"; }), Contains("unsupported version"));
  }
  SECTION("an unknown op") {
    std::string msg = load_edited([&](ojson& d) { d["nodes"][relu]["op"] = "conv3d"; });
    CHECK_THAT(msg, Contains(bad) && Contains(at_relu) && Contains("unknown op 'conv3d'"));
    // The executor's internal fused op is not part of the file format.
    msg = load_edited([&](ojson& d) { d["nodes"][relu]["op"] = "fused_elementwise"; });
    CHECK_THAT(msg, Contains(at_relu) && Contains("unknown op 'fused_elementwise'"));
    // Nor are the backward ops that gradient rules make.
    for (const char* op : {"max_pool2d_backward", "avg_pool2d_backward", "embedding_backward", "conv2d_backward_data",
                           "conv2d_backward_weight"}) {
      msg = load_edited([&](ojson& d) { d["nodes"][relu]["op"] = op; });
      CHECK_THAT(msg, Contains(at_relu) && Contains(std::string("unknown op '") + op + "'"));
    }
  }
  SECTION("the wrong number of inputs") {
    std::string msg = load_edited([&](ojson& d) { d["nodes"][relu]["inputs"].push_back({0, 0, 0}); });
    CHECK_THAT(msg, Contains(bad) && Contains(at_relu) && Contains("expects 1 inputs, got 2"));
    msg = load_edited([&](ojson& d) { d["nodes"][fc]["inputs"].erase(2); });
    CHECK_THAT(msg, Contains(at_fc) && Contains("expects 3 inputs, got 2"));
    msg = load_edited([&](ojson& d) { d["nodes"][0]["inputs"].push_back({0, 0, 0}); });
    CHECK_THAT(msg, Contains("nodes[0]") && Contains("a source node has no inputs"));
  }
  SECTION("a missing attribute") {
    const std::string msg = load_edited([&](ojson& d) { d["nodes"][fc]["attrs"].erase("flatten"); });
    CHECK_THAT(msg, Contains(bad) && Contains(at_fc) && Contains("missing attribute 'flatten'"));
    CHECK_THAT(load_edited([](ojson& d) { d["nodes"][0]["attrs"].erase("kind"); }),
               Contains("nodes[0]") && Contains("missing attribute 'kind'"));
  }
  SECTION("an unexpected attribute") {
    const std::string msg = load_edited([&](ojson& d) { d["nodes"][relu]["attrs"]["axis"] = 1; });
    CHECK_THAT(msg, Contains(bad) && Contains(at_relu) && Contains("unexpected attribute 'axis'"));
  }
  SECTION("an attribute of the wrong type or value") {
    CHECK_THAT(load_edited([&](ojson& d) { d["nodes"][fc]["attrs"]["flatten"] = 1; }),
               Contains(at_fc) && Contains("attribute 'flatten' expects true or false"));
    CHECK_THAT(load_edited([&](ojson& d) { d["nodes"][fc]["attrs"]["activation"] = "softmax"; }),
               Contains(at_fc) && Contains("names no activation: 'softmax'"));
    CHECK_THAT(load_edited([](ojson& d) { d["nodes"][0]["attrs"]["kind"] = "output"; }),
               Contains("nodes[0]") && Contains("kind"));
    CHECK_THAT(load_edited([](ojson& d) { d["nodes"][0]["attrs"]["dtype"] = "float64"; }),
               Contains("nodes[0]") && Contains("dtype"));
    CHECK_THAT(load_edited([](ojson& d) { d["nodes"][0]["attrs"]["shape"] = {1, -4}; }),
               Contains("nodes[0]") && Contains("negative dimension"));
    CHECK_THAT(load_edited([](ojson& d) { d["nodes"][0]["attrs"]["shape"] = {1, 1, 1, 1, 1, 1, 1, 1, 4}; }),
               Contains("nodes[0]") && Contains("more than 8 dimensions"));
    CHECK_THAT(load_edited([](ojson& d) { d["nodes"][0]["attrs"]["shape"] = {1, 4.5}; }),
               Contains("nodes[0]") && Contains("expects an integer"));
  }
  SECTION("an integer attribute beyond int64") {
    // A slice whose bound does not fit an int64.
    ojson doc = m.doc;
    ojson node = {{"op", "slice"},
                  {"name", "s"},
                  {"attrs", {{"axis", 1}, {"begin", 0}, {"end", ojson(uint64_t{18446744073709551615ull})}}},
                  {"inputs", ojson::array({ojson::array({0, 0, 0})})}};
    doc["nodes"].insert(doc["nodes"].begin() + 1, node);
    write_bytes(bad, doc.dump());
    const std::string msg = format_error_of([&] { io::load_graph<float>(bad); });
    CHECK_THAT(msg, Contains(bad) && Contains("nodes[1]") && Contains("attribute 'end'") && Contains("out of range"));
  }
  SECTION("a dangling node reference") {
    std::string msg = load_edited([&](ojson& d) { d["nodes"][fc]["inputs"][0] = {99, 0, 0}; });
    CHECK_THAT(msg, Contains(bad) && Contains(at_fc + " (fully_connected") && Contains("inputs[0]") &&
                        Contains("refers to node 99"));
    msg = load_edited([&](ojson& d) { d["nodes"][fc]["inputs"][0] = {-1, 0, 0}; });
    CHECK_THAT(msg, Contains(at_fc) && Contains("refers to node -1"));
    msg = load_edited([](ojson& d) { d["heads"][0] = {50, 0, 0}; });
    CHECK_THAT(msg, Contains(bad) && Contains("heads[0]") && Contains("refers to node 50"));
  }
  SECTION("a forward node reference") {
    const std::string msg = load_edited([&](ojson& d) { d["nodes"][fc]["inputs"][0] = {relu, 0, 0}; });
    CHECK_THAT(msg, Contains(bad) && Contains(at_fc) && Contains("refers to node " + std::to_string(relu)) &&
                        Contains("does not come before it"));
  }
  SECTION("a cycle") {
    // A node that reads itself, and two nodes that read each other.
    std::string msg = load_edited([&](ojson& d) { d["nodes"][relu]["inputs"][0] = {relu, 0, 0}; });
    CHECK_THAT(msg, Contains(at_relu) && Contains("does not come before it"));
    msg = load_edited([&](ojson& d) {
      d["nodes"][fc]["inputs"][0] = {relu, 0, 0};
      d["nodes"][relu]["inputs"][0] = {fc, 0, 0};
    });
    CHECK_THAT(msg, Contains(at_fc) && Contains("does not come before it"));
  }
  SECTION("a malformed node reference") {
    CHECK_THAT(load_edited([&](ojson& d) { d["nodes"][relu]["inputs"][0] = {fc, 0}; }),
               Contains(at_relu) && Contains("triple"));
    CHECK_THAT(load_edited([&](ojson& d) { d["nodes"][relu]["inputs"][0] = {fc, 1, 0}; }),
               Contains(at_relu) && Contains("refers to output 1"));
    CHECK_THAT(load_edited([&](ojson& d) { d["nodes"][relu]["inputs"][0] = {"3", 0, 0}; }),
               Contains(at_relu) && Contains("triple"));
  }
  SECTION("duplicate names") {
    std::string msg = load_edited([](ojson& d) { d["nodes"][2]["name"] = d["nodes"][1]["name"]; });
    CHECK_THAT(msg, Contains(bad) && Contains("nodes[2]") && Contains("duplicate variable name '0.weight'"));
    // A repeated key in one object is refused too, not silently dropped.
    std::string text = read_bytes(m.symbol);
    text.replace(text.find("\"format\""), 8, "\"dtype\": \"float32\", \"format\"");
    msg = load_text(text);
    CHECK_THAT(msg, Contains(bad) && Contains("repeats the key 'dtype'"));
  }
  SECTION("an empty variable name") {
    CHECK_THAT(load_edited([](ojson& d) { d["nodes"][1]["name"] = ""; }),
               Contains("nodes[1]") && Contains("non-empty name"));
  }
  SECTION("wrong heads or arg_nodes") {
    CHECK_THAT(load_edited([](ojson& d) { d["heads"] = ojson::array(); }), Contains(bad) && Contains("heads"));
    CHECK_THAT(load_edited([](ojson& d) { d["arg_nodes"] = {0, 1}; }), Contains(bad) && Contains("arg_nodes"));
  }
  SECTION("shapes that do not fit the ops") {
    // A weight whose shape disagrees with the data it multiplies.
    const std::string msg = load_edited([](ojson& d) { d["nodes"][1]["attrs"]["shape"] = {3, 5}; });
    CHECK_THAT(msg, Contains(bad) && Contains(at_fc) && Contains("features"));
  }
  SECTION("dims whose product overflows") {
    std::string msg = load_edited([](ojson& d) { d["nodes"][0]["attrs"]["shape"] = {4294967296, 4294967296, 4}; });
    CHECK_THAT(msg, Contains(bad) && Contains("nodes[0]") && Contains("overflows"));
    // A zero extent empties the tensor, but the other extents still must not overflow.
    msg = load_edited([](ojson& d) { d["nodes"][0]["attrs"]["shape"] = {0, 4611686018427387904, 4}; });
    CHECK_THAT(msg, Contains("nodes[0]") && Contains("overflows"));
    // Concatenation must not overflow an extent: five inputs of 2^61 - 1
    // floats each (just under 2^63 bytes).
    ojson doc = m.doc;
    doc["nodes"][0]["attrs"]["shape"] = {1, 2305843009213693951};
    const ojson concat_node = {{"op", "concat"},
                               {"name", "c"},
                               {"attrs", {{"axis", 1}}},
                               {"inputs", {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}}}};
    doc["nodes"].insert(doc["nodes"].begin() + 1, concat_node);
    write_bytes(bad, doc.dump());
    msg = format_error_of([&] { io::load_graph<float>(bad); });
    CHECK_THAT(msg, Contains(bad) && Contains("nodes[1] (concat") && Contains("concatenated extent") &&
                        Contains("overflows"));
  }
  SECTION("a constant whose values do not match its shape") {
    ojson doc = m.doc;
    ojson c = {{"op", "constant"},
               {"name", "c"},
               {"attrs", {{"shape", {2, 2}}, {"value", {1, 2, 3}}}},
               {"inputs", ojson::array()}};
    doc["nodes"].insert(doc["nodes"].begin() + 1, c);
    write_bytes(bad, doc.dump());
    CHECK_THAT(format_error_of([&] { io::load_graph<float>(bad); }),
               Contains(bad) && Contains("nodes[1] (constant") && Contains("array of 4 numbers"));
    // A huge declared shape with few values fails before anything is allocated.
    doc["nodes"][1]["attrs"] = {{"shape", {1000000, 1000000}}, {"value", ojson::array({1})}};
    write_bytes(bad, doc.dump());
    CHECK_THAT(format_error_of([&] { io::load_graph<float>(bad); }), Contains("array of 1000000000000 numbers"));
    doc["nodes"][1]["attrs"] = {{"shape", ojson::array({2})}, {"value", {1, "one"}}};
    write_bytes(bad, doc.dump());
    CHECK_THAT(format_error_of([&] { io::load_graph<float>(bad); }), Contains("nodes[1]") && Contains("not a number"));
    doc["nodes"][1]["attrs"] = {{"shape", ojson::array({1})}, {"value", ojson::array({1e300})}};
    write_bytes(bad, doc.dump());
    CHECK_THAT(format_error_of([&] { io::load_graph<float>(bad); }), Contains("out of range for float32"));
  }
  SECTION("deeply nested JSON") {
    std::string deep = "{\"format\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
    CHECK_THAT(load_text(deep), Contains(bad) && Contains("nest deeper"));
  }
  SECTION("a missing file is an argument error") {
    const std::string msg =
        argument_error_of([&] { nn::SymbolBlock::imports(dir.file("none-symbol.json"), {"data"}, m.params); });
    CHECK_THAT(msg, Contains(dir.file("none-symbol.json")));
  }
}

TEST_CASE("graph files: the limits FORMAT.md states hold exactly", "[io]") {
  TempDir dir;
  const SmallModel m = export_small_model(dir);
  const std::string path = dir.file("limits-symbol.json");
  auto load_doc = [&](const ojson& doc) {
    write_bytes(path, doc.dump(1));
    return io::load_graph<float>(path);
  };
  auto rejected = [&](const ojson& doc) {
    write_bytes(path, doc.dump(1));
    return format_error_of([&] { io::load_graph<float>(path); });
  };
  const int last = static_cast<int>(m.doc["nodes"].size());  // the index of a node appended at the end
  const std::string at_last = "nodes[" + std::to_string(last) + "]";
  auto appended = [&](const ojson& node) {
    ojson doc = m.doc;
    doc["nodes"].push_back(node);
    return doc;
  };

  SECTION("values nest at most 64 levels, the top-level object being level 1") {
    // producer is ignored, so its nesting is the only thing that varies.
    auto nested = [&](int levels) {
      ojson doc = m.doc;
      const int arrays = levels - 2;  // under the top level (1) and producer (2)
      doc["producer"] = ojson::parse("{\"x\": " + std::string(arrays, '[') + std::string(arrays, ']') + "}");
      return doc;
    };
    CHECK(load_doc(nested(64)).nodes.size() == m.doc["nodes"].size());
    CHECK_THAT(rejected(nested(65)), Contains(path) && Contains("nest deeper than 64 levels"));
  }
  SECTION("a byte-order mark is not allowed") {
    write_bytes(path, "\xEF\xBB\xBF" + read_bytes(m.symbol));
    CHECK_THAT(format_error_of([&] { io::load_graph<float>(path); }), Contains(path) && Contains("byte-order mark"));
  }
  SECTION("an integer has no fraction or exponent: 3.0 is not one") {
    ojson doc = m.doc;
    doc["format_version"] = 1.0;
    CHECK_THAT(rejected(doc), Contains("format_version") && Contains("unsupported version 1.0"));
    std::string text = read_bytes(m.symbol);
    text.replace(text.find("\"format_version\": 1"), 19, "\"format_version\": 1e0");
    write_bytes(path, text);
    CHECK_THAT(format_error_of([&] { io::load_graph<float>(path); }), Contains("unsupported version"));
    doc = m.doc;
    doc["nodes"][0]["attrs"]["shape"] = {1, 4.0};
    CHECK_THAT(rejected(doc), Contains("nodes[0]") && Contains("expects an integer"));
    doc = m.doc;
    doc["nodes"][last - 1]["inputs"][0][0] = static_cast<double>(doc["nodes"][last - 1]["inputs"][0][0].get<int>());
    CHECK_THAT(rejected(doc), Contains("nodes[" + std::to_string(last - 1) + "]") && Contains("triple of integers"));
  }
  SECTION("a reshape target has at most 8 extents") {
    auto reshape = [](const ojson& target) {
      return ojson{{"op", "reshape"}, {"name", "r"}, {"attrs", {{"shape", target}}},
                   {"inputs", ojson::array({ojson::array({0, 0, 0})})}};
    };
    const auto g = load_doc(appended(reshape({1, 1, 1, 1, 1, 1, 2, -1})));
    CHECK(g.nodes.back().shape == Shape{1, 1, 1, 1, 1, 1, 2, 2});
    CHECK_THAT(rejected(appended(reshape({1, 1, 1, 1, 1, 1, 1, 2, 2}))),
               Contains(at_last + " (reshape") && Contains("more than 8 dimensions"));
  }
  SECTION("a shape's byte size must fit int64: inputs") {
    // float32 (2^60, 4) has 2^62 elements, which fit, but 2^64 bytes, which do not.
    ojson doc = m.doc;
    doc["nodes"][0]["attrs"]["shape"] = {int64_t{1} << 60, 4};
    CHECK_THAT(rejected(doc), Contains(path) && Contains("nodes[0]") && Contains("overflows"));
    // (2^58, 4) is 2^62 bytes as float32, and every inferred shape fits too ...
    doc["nodes"][0]["attrs"]["shape"] = {int64_t{1} << 58, 4};
    CHECK(load_doc(doc).nodes.back().shape == Shape{int64_t{1} << 58, 2});
    // ... but 2^63 bytes as float64.
    doc["dtype"] = "float64";
    for (auto& node : doc["nodes"])
      if (node["op"] == "null") node["attrs"]["dtype"] = "float64";
    write_bytes(path, doc.dump());
    CHECK_THAT(format_error_of([&] { io::load_graph<double>(path); }), Contains("nodes[0]") && Contains("overflows"));
  }
  SECTION("a shape's byte size must fit int64: constants, counting only non-zero extents") {
    auto constant = [](const ojson& shape) {
      return ojson{{"op", "constant"}, {"name", "c"}, {"attrs", {{"shape", shape}, {"value", ojson::array()}}},
                   {"inputs", ojson::array()}};
    };
    CHECK(load_doc(appended(constant({0, int64_t{1} << 58, 4}))).nodes.back().shape ==
          Shape{0, int64_t{1} << 58, 4});
    CHECK_THAT(rejected(appended(constant({0, int64_t{1} << 60, 4}))),
               Contains(at_last + " (constant") && Contains("overflows"));
  }
  SECTION("a shape's byte size must fit int64: inferred shapes") {
    // Two (2^58, 4) inputs concatenated: 2^61 elements fit int64, 2^63 bytes do not.
    ojson doc = m.doc;
    doc["nodes"][0]["attrs"]["shape"] = {int64_t{1} << 58, 4};
    doc["nodes"].push_back(
        {{"op", "concat"}, {"name", "c"}, {"attrs", {{"axis", 0}}}, {"inputs", {{0, 0, 0}, {0, 0, 0}}}});
    CHECK_THAT(rejected(doc), Contains(path) && Contains(at_last + " (concat") && Contains("overflows"));
  }
}

TEST_CASE("malformed params files are rejected with FormatError", "[io]") {
  TempDir dir;
  const SmallModel m = export_small_model(dir);
  const std::string bad = dir.file("bad.params");
  auto import_bad = [&] { return format_error_of([&] { nn::SymbolBlock::imports(m.symbol, {"data"}, bad); }); };
  // A header with the model's four F32 tensors laid out in order.
  auto good_header = [] {
    ojson h = ojson::object();
    h["__metadata__"] = {{"format", "hybrid-params"}};
    h["0.weight"] = {{"dtype", "F32"}, {"shape", {3, 4}}, {"data_offsets", {0, 48}}};
    h["0.bias"] = {{"dtype", "F32"}, {"shape", ojson::array({3})}, {"data_offsets", {48, 60}}};
    h["1.weight"] = {{"dtype", "F32"}, {"shape", {2, 3}}, {"data_offsets", {60, 84}}};
    h["1.bias"] = {{"dtype", "F32"}, {"shape", ojson::array({2})}, {"data_offsets", {84, 92}}};
    return h;
  };
  const std::string data = f32_bytes(23);

  SECTION("the hand-made header loads") {
    write_bytes(bad, params_bytes(good_header(), data));
    auto block = nn::SymbolBlock::imports(m.symbol, {"data"}, bad);
    CHECK(block->collect_params()["1.bias"]->data().to_vector() == std::vector<float>{0.5f, 0.5f});
  }
  SECTION("a parameter missing") {
    ojson h = good_header();
    h.erase("1.bias");
    write_bytes(bad, params_bytes(h, data.substr(0, 84)));
    CHECK_THAT(import_bad(), Contains(bad) && Contains("missing: '1.bias' (2,)"));
  }
  SECTION("an unexpected parameter") {
    ojson h = good_header();
    h["extra"] = {{"dtype", "F32"}, {"shape", ojson::array({1})}, {"data_offsets", {92, 96}}};
    write_bytes(bad, params_bytes(h, f32_bytes(24)));
    CHECK_THAT(import_bad(), Contains(bad) && Contains("unexpected: 'extra'"));
  }
  SECTION("a parameter of the wrong shape") {
    ojson h = good_header();
    h["0.weight"]["shape"] = {4, 3};
    write_bytes(bad, params_bytes(h, data));
    CHECK_THAT(import_bad(), Contains(bad) && Contains("mismatched: '0.weight'") && Contains("(4, 3)") &&
                                 Contains("(3, 4)"));
  }
  SECTION("a parameter of the wrong dtype") {
    ojson h = good_header();
    h["1.bias"] = {{"dtype", "F64"}, {"shape", ojson::array({2})}, {"data_offsets", {84, 100}}};
    write_bytes(bad, params_bytes(h, f32_bytes(25)));
    CHECK_THAT(import_bad(), Contains(bad) && Contains("mismatched: '1.bias' is float64"));
    h["1.bias"] = {{"dtype", "I32"}, {"shape", ojson::array({2})}, {"data_offsets", {84, 92}}};
    write_bytes(bad, params_bytes(h, data));
    CHECK_THAT(import_bad(), Contains(bad) && Contains("tensor '1.bias'") && Contains("supported dtypes"));
  }
  SECTION("a truncated file") {
    const std::string full = read_bytes(m.params);
    write_bytes(bad, full.substr(0, full.size() - 4));
    CHECK_THAT(import_bad(), Contains(bad) && Contains("tensor '1.bias'") && Contains("out of range"));
    write_bytes(bad, full.substr(0, 8 + 20));  // inside the header
    CHECK_THAT(import_bad(), Contains(bad) && Contains("runs past the end"));
    write_bytes(bad, full.substr(0, 5));
    CHECK_THAT(import_bad(), Contains(bad) && Contains("too short"));
    write_bytes(bad, "");
    CHECK_THAT(import_bad(), Contains(bad) && Contains("too short"));
  }
  SECTION("a header length past the end of the file") {
    const std::string full = read_bytes(m.params);
    write_bytes(bad, le64(full.size()) + full.substr(8));
    CHECK_THAT(import_bad(), Contains(bad) && Contains("runs past the end"));
    // The largest length: rejected before anything is allocated.
    write_bytes(bad, le64(~uint64_t{0}) + full.substr(8));
    CHECK_THAT(import_bad(), Contains(bad) && Contains("runs past the end"));
  }
  SECTION("a malformed header") {
    write_bytes(bad, le64(5) + "{\"a\":" + data);
    CHECK_THAT(import_bad(), Contains(bad) && Contains("header: malformed JSON"));
    write_bytes(bad, le64(2) + "[]");
    CHECK_THAT(import_bad(), Contains(bad) && Contains("must be a JSON object"));
    ojson h = good_header();
    h["0.bias"].erase("data_offsets");
    write_bytes(bad, params_bytes(h, data));
    CHECK_THAT(import_bad(), Contains(bad) && Contains("tensor '0.bias'") && Contains("data_offsets"));
  }
  SECTION("data offsets out of range") {
    ojson h = good_header();
    h["1.bias"]["data_offsets"] = {84, 96};
    write_bytes(bad, params_bytes(h, data));
    CHECK_THAT(import_bad(), Contains(bad) && Contains("tensor '1.bias'") && Contains("out of range"));
    h["1.bias"]["data_offsets"] = {92, 84};
    write_bytes(bad, params_bytes(h, data));
    CHECK_THAT(import_bad(), Contains("tensor '1.bias'") && Contains("out of range"));
    h["1.bias"]["data_offsets"] = {84, -1};
    write_bytes(bad, params_bytes(h, data));
    CHECK_THAT(import_bad(), Contains("tensor '1.bias'") && Contains("non-negative integer"));
  }
  SECTION("data offsets that overlap") {
    ojson h = good_header();
    h["0.bias"]["data_offsets"] = {40, 52};
    write_bytes(bad, params_bytes(h, data));
    CHECK_THAT(import_bad(), Contains(bad) && Contains("overlaps"));
  }
  SECTION("data offsets that leave a gap") {
    ojson h = good_header();
    h["1.bias"]["data_offsets"] = {88, 96};
    write_bytes(bad, params_bytes(h, f32_bytes(24)));
    CHECK_THAT(import_bad(), Contains(bad) && Contains("belong to no tensor"));
  }
  SECTION("offsets that disagree with the shape") {
    ojson h = good_header();
    h["0.bias"]["shape"] = ojson::array({2});
    write_bytes(bad, params_bytes(h, data));
    CHECK_THAT(import_bad(), Contains(bad) && Contains("tensor '0.bias'") && Contains("needs 8 bytes"));
  }
  SECTION("dims whose product overflows") {
    ojson h = good_header();
    h["0.bias"]["shape"] = {4294967296, 4294967296, 4294967296};
    write_bytes(bad, params_bytes(h, data));
    CHECK_THAT(import_bad(), Contains(bad) && Contains("tensor '0.bias'") && Contains("overflows"));
  }
  SECTION("a huge parameter in the graph is checked against the file, not allocated") {
    ojson doc = m.doc;
    doc["nodes"].push_back({{"op", "null"},
                            {"name", "huge"},
                            {"attrs",
                             {{"kind", "param"}, {"shape", ojson::array({1099511627776})}, {"dtype", "float32"}}},
                            {"inputs", ojson::array()}});
    doc["arg_nodes"].push_back(doc["nodes"].size() - 1);
    write_bytes(dir.file("huge-symbol.json"), doc.dump());
    const std::string msg =
        format_error_of([&] { nn::SymbolBlock::imports(dir.file("huge-symbol.json"), {"data"}, m.params); });
    CHECK_THAT(msg, Contains(m.params) && Contains("missing: 'huge' (1099511627776,)"));
  }
  SECTION("a missing params file is an argument error") {
    const std::string msg =
        argument_error_of([&] { nn::SymbolBlock::imports(m.symbol, {"data"}, dir.file("none.params")); });
    CHECK_THAT(msg, Contains(dir.file("none.params")));
  }
}

TEST_CASE("real attributes that are no float32 re-export the same bytes", "[io]") {
  // 0.3, -0.1 and 0.7 have no exact float32 value: a float graph stores them
  // rounded to float32 when the op is recorded, which is also what the reader
  // makes of them, so an imported graph re-exports the same bytes.
  TempDir dir;
  nn::HybridLambdaT<float> net(
      [](const TensorT<float>& x) { return hybrid::clip(hybrid::leaky_relu(x, 0.3), -0.1, 0.7); });
  net.hybridize();
  hybrid::random::seed(6);
  const TensorT<float> x = hybrid::random::normal({2, 5});
  const TensorT<float> y = net(x);
  net.export_model(dir.file("m"));
  auto imported = nn::SymbolBlock::imports(dir.file("m-symbol.json"), {"data"}, dir.file("m-0000.params"));
  CHECK(bit_identical((*imported)(x), y));
  imported->export_model(dir.file("again"));
  CHECK(read_bytes(dir.file("again-symbol.json")) == read_bytes(dir.file("m-symbol.json")));
}

namespace {
/// Two inputs, two outputs.
class TwoInTwoOut : public nn::HybridBlock {
  using Tensor = hybrid::Tensor;
 public:
  TwoInTwoOut() { w = register_parameter("w", Shape{3}); }
  std::vector<Tensor> forward_many(const std::vector<Tensor>& in) override {
    return {in[0] * w->data() + in[1], hybrid::tanh(in[1]) - in[0]};
  }
  std::shared_ptr<nn::Parameter> w;
};
}  // namespace

TEST_CASE("a block with several inputs and outputs exports and imports", "[export]") {
  using hybrid::Tensor;
  TwoInTwoOut block;
  block.initialize(nn::init::Uniform(1.0));
  block.hybridize();
  const Tensor a = hybrid::random::normal<float>({2, 3}), b = hybrid::random::normal<float>({2, 3});
  const std::vector<Tensor> expected = block.call({a, b});
  REQUIRE(expected.size() == 2);
  const testing::TempDir dir;
  const std::string prefix = dir.file("two_way");
  block.export_model(prefix);
  const auto loaded = nn::SymbolBlock::imports(prefix + "-symbol.json", {"data0", "data1"}, prefix + "-0000.params");
  CHECK(loaded->graph().outputs.size() == 2);
  CHECK(loaded->input_names() == std::vector<std::string>{"data0", "data1"});
  const std::vector<Tensor> got = loaded->call({a, b});
  REQUIRE(got.size() == 2);
  for (size_t k = 0; k < 2; ++k) CHECK(got[k].to_vector() == expected[k].to_vector());
  // One output through block(a, b) is an error naming call().
  CHECK_THROWS_WITH((*loaded)({a, b}), Contains("call(inputs)"));
}
