// Loading scales with the file's size: a params file with 100,000 tensors
// and a graph file with 100,000 nodes (valid and invalid) load in about a
// second each in the sanitizer build, and SymbolBlock imports a graph with
// 10,000 parameters. These cases assert results, not times. The CTest
// timeout is the guard: the quadratic params reader these replace needed
// about 11 minutes of CPU for 100,000 tensors even without sanitizers.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>

#include <cstring>
#include <string>

#include "../support/files.hpp"

using Catch::Contains;
using hybrid::FormatError;
using hybrid::Shape;
using hybrid::Tensor;
namespace io = hybrid::io;
namespace nn = hybrid::nn;

using testing::le64;
using testing::TempDir;
using testing::write_bytes;

namespace {

constexpr int kCount = 100'000;

/// A params file of `n` F32 tensors of shape (1,), named prefix0, prefix1, …,
/// tensor i holding the value i.
std::string params_file(int n, const std::string& prefix) {
  std::string header = "{\"__metadata__\":{\"format\":\"hybrid-params\"}";
  std::string data(4 * static_cast<size_t>(n), '\0');
  for (int i = 0; i < n; ++i) {
    header.append(",\"").append(prefix).append(std::to_string(i));
    header.append("\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[").append(std::to_string(4 * i));
    header.append(",").append(std::to_string(4 * i + 4)).append("]}");
    const float value = static_cast<float>(i);
    std::memcpy(&data[4 * static_cast<size_t>(i)], &value, 4);
  }
  header += "}";
  return le64(header.size()) + header + data;
}

/// Appends a node object to `out`.
void append_node(std::string& out, const char* op, const std::string& name, const char* attrs,
                 const std::string& inputs) {
  out.append("{\"op\":\"").append(op).append("\",\"name\":\"").append(name).append("\",\"attrs\":");
  out.append(attrs).append(",\"inputs\":").append(inputs).append("}");
}
std::string ref(int node) { return "[" + std::to_string(node) + ",0,0]"; }
std::string graph_json(const std::string& nodes, const std::string& arg_nodes, const std::string& heads) {
  return "{\"format\":\"hybrid-symbol\",\"format_version\":1,\"dtype\":\"float32\",\"nodes\":[" + nodes +
         "],\"arg_nodes\":[" + arg_nodes + "],\"heads\":[" + heads + "]}";
}
const char* const kInput = R"({"kind":"input","shape":[2,3],"dtype":"float32"})";

/// An input followed by n - 1 relu nodes, each reading the one before;
/// `last_node` is spliced into the last node's object.
std::string relu_chain(int n, const std::string& last_node = "") {
  std::string nodes;
  append_node(nodes, "null", "data", kInput, "[]");
  for (int i = 1; i < n; ++i) {
    nodes += ",";
    const size_t start = nodes.size();
    append_node(nodes, "relu", "relu" + std::to_string(i), "{}", "[" + ref(i - 1) + "]");
    if (i == n - 1) nodes.insert(start + 1, last_node);
  }
  return graph_json(nodes, "0", ref(n - 1));
}

/// A block with n parameters p0, p1, … of shape (1,).
class ManyParams : public nn::HybridBlock {
 public:
  explicit ManyParams(int n) {
    for (int i = 0; i < n; ++i) register_parameter("p" + std::to_string(i), Shape{1});
  }
  Tensor forward(const Tensor& x) override { return x; }
};

}  // namespace

TEST_CASE("load_parameters reads 100,000 tensors into a block with 100,000 parameters", "[io][scale]") {
  TempDir dir;
  const std::string path = dir.file("many.params");
  write_bytes(path, params_file(kCount, "p"));
  ManyParams block(kCount);
  block.load_parameters(path);
  // Parameter pi is registered i-th and its tensor holds i: the names matched.
  const auto& params = block.own_params();
  REQUIRE(params.size() == static_cast<size_t>(kCount));
  int wrong = 0;
  for (int i = 0; i < kCount; ++i)
    if (params[static_cast<size_t>(i)].second->data().item() != static_cast<float>(i)) ++wrong;
  CHECK(wrong == 0);
  CHECK(params.back().second->name() == "p99999");
}

TEST_CASE("a graph file of 100,000 nodes loads, and an invalid one is rejected", "[io][scale]") {
  TempDir dir;
  const std::string path = dir.file("chain-symbol.json");
  SECTION("valid") {
    write_bytes(path, relu_chain(kCount));
    const auto g = io::load_graph<float>(path);
    CHECK(g.nodes.size() == static_cast<size_t>(kCount));
    CHECK(g.outputs == std::vector<int>{kCount - 1});
    CHECK(g.nodes.back().op == hybrid::OpCode::relu);
    CHECK(g.nodes.back().shape == Shape{2, 3});
  }
  SECTION("a repeated key in the last node") {
    write_bytes(path, relu_chain(kCount, "\"op\":\"relu\","));
    try {
      io::load_graph<float>(path);
      FAIL("no error");
    } catch (const FormatError& e) {
      CHECK_THAT(e.what(), Contains(path) && Contains("repeats the key 'op'"));
    }
  }
  SECTION("a reference past the last node") {
    std::string text = relu_chain(kCount);
    const std::string heads = "\"heads\":[" + ref(kCount - 1) + "]";
    text.replace(text.find(heads), heads.size(), "\"heads\":[" + ref(kCount) + "]");
    write_bytes(path, text);
    try {
      io::load_graph<float>(path);
      FAIL("no error");
    } catch (const FormatError& e) {
      CHECK_THAT(e.what(), Contains(path) && Contains("heads[0]") && Contains("refers to node 100000"));
    }
  }
}

TEST_CASE("SymbolBlock imports a graph with 10,000 parameters", "[io][scale]") {
  TempDir dir;
  constexpr int kParams = 10'000;
  // data, then for each parameter w_i: the variable and an add of it to the running sum.
  std::string nodes, arg_nodes = "0";
  append_node(nodes, "null", "data", kInput, "[]");
  int sum = 0;
  for (int i = 0; i < kParams; ++i) {
    const int w = 1 + 2 * i;
    nodes += ",";
    append_node(nodes, "null", "w" + std::to_string(i), R"({"kind":"param","shape":[1],"dtype":"float32"})", "[]");
    nodes += ",";
    append_node(nodes, "add", "add" + std::to_string(w + 1), "{}", "[" + ref(sum) + "," + ref(w) + "]");
    arg_nodes.append(",").append(std::to_string(w));
    sum = w + 1;
  }
  write_bytes(dir.file("m-symbol.json"), graph_json(nodes, arg_nodes, ref(sum)));
  write_bytes(dir.file("m-0000.params"), params_file(kParams, "w"));
  const auto block = nn::SymbolBlock::imports(dir.file("m-symbol.json"), {"data"}, dir.file("m-0000.params"));
  const auto params = block->collect_params();
  REQUIRE(params.size() == static_cast<size_t>(kParams));
  CHECK(params["w0"]->data().item() == 0.0f);
  CHECK(params["w9999"]->data().item() == 9999.0f);
  CHECK(block->graph().nodes.size() == static_cast<size_t>(2 * kParams + 1));
}
