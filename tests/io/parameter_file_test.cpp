// Parameter files: the safetensors layout byte for byte, bit-exact round
// trips, every corrupt-file error, model mismatches, and that a failed load
// leaves every parameter exactly as it was.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "../support/files.hpp"

using Catch::Contains;
using hybrid::Error;
using hybrid::FormatError;
using hybrid::Shape;
using hybrid::TensorT;
using nlohmann::json;
namespace fs = std::filesystem;
namespace nn = hybrid::nn;
namespace st = hybrid::io::safetensors;

using testing::le64;
using testing::read_bytes;
using testing::TempDir;
using testing::write_bytes;

namespace {


/// A file in the safetensors layout from a header text and data bytes.
std::string file_bytes(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

/// The test model: 0.weight (3, 4), 0.bias (3,), 1.weight (2, 3), 1.bias (2,) — 92 bytes as F32.
template <class T = float>
nn::HybridSequentialT<T> make_model(uint64_t seed = 1) {
  nn::HybridSequentialT<T> net;
  net.add(nn::DenseT<T>(3, "relu", true, 4), nn::DenseT<T>(2, "", true, 3));
  hybrid::random::seed(seed);
  net.initialize(nn::init::Normal(1.0));
  // Non-zero biases, so a load that skipped them would show.
  for (const auto& p : net.collect_params())
    if (p->name().find("bias") != std::string::npos) p->set_data(hybrid::random::normal<T>(p->shape()));
  return net;
}

/// Every parameter's shape and raw bytes, to prove nothing changed.
template <class T>
std::vector<std::pair<Shape, std::string>> snapshot(const nn::BlockT<T>& net) {
  std::vector<std::pair<Shape, std::string>> s;
  for (const auto& p : net.collect_params()) {
    const auto& t = p->eager_data();
    s.emplace_back(t.shape(), std::string(reinterpret_cast<const char*>(t.data()), sizeof(T) * t.size()));
  }
  return s;
}

/// The header of the test model's file, as a JSON object to corrupt.
json valid_header() {
  return json{{"0.weight", {{"dtype", "F32"}, {"shape", {3, 4}}, {"data_offsets", {0, 48}}}},
              {"0.bias", {{"dtype", "F32"}, {"shape", {3}}, {"data_offsets", {48, 60}}}},
              {"1.weight", {{"dtype", "F32"}, {"shape", {2, 3}}, {"data_offsets", {60, 84}}}},
              {"1.bias", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {84, 92}}}}};
}

std::string data_bytes(size_t n) {
  std::string d(n, '\0');
  for (size_t i = 0; i < n; ++i) d[i] = static_cast<char>(i * 7 + 1);
  return d;
}

}  // namespace

TEMPLATE_TEST_CASE("parameter files: save then load is bit-exact", "[io]", float, double) {
  using T = TestType;
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  auto net = make_model<T>(1);
  // Values whose bits must survive: NaN, -0, infinities, a denormal.
  auto w = net.collect_params()["1.weight"];
  w->set_data(hybrid::from_vector<T>({std::numeric_limits<T>::quiet_NaN(), T(-0.0), std::numeric_limits<T>::infinity(),
                                      -std::numeric_limits<T>::infinity(), std::numeric_limits<T>::denorm_min(),
                                      T(1) / T(3)},
                                     {2, 3}));
  net.save_parameters(path);
  CHECK_FALSE(fs::exists(path + ".tmp"));

  auto other = make_model<T>(2);
  REQUIRE(snapshot(other) != snapshot(net));
  other.load_parameters(path);
  CHECK(snapshot(other) == snapshot(net));

  // Into a net whose shapes are still deferred: the file fixes them.
  nn::HybridSequentialT<T> fresh;
  fresh.add(nn::DenseT<T>(3, "relu"), nn::DenseT<T>(2));
  fresh.load_parameters(path);
  CHECK(snapshot(fresh) == snapshot(net));
  w->set_data(hybrid::random::normal<T>({2, 3}));
  const TensorT<T> x = hybrid::random::normal<T>({5, 4});
  net.save_parameters(path);  // replaces the file
  fresh.load_parameters(path);
  CHECK(hybrid::allclose(fresh(x), net(x), 0, 0));
}

TEMPLATE_TEST_CASE("parameter files: the safetensors layout, byte for byte", "[io]", float, double) {
  using T = TestType;
  TempDir dir;
  const std::string path = dir.file("layout.safetensors");
  auto net = make_model<T>(3);
  net.save_parameters(path);
  const std::string bytes = read_bytes(path);
  REQUIRE(bytes.size() >= 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<size_t>(i)]);
  CHECK(n % 8 == 0);  // padded so the data is aligned
  REQUIRE(8 + n <= bytes.size());
  const json header = json::parse(bytes.substr(8, n));
  const std::string code = std::is_same_v<T, float> ? "F32" : "F64";
  CHECK(header.size() == 4);
  uint64_t total = 0;
  for (const auto& p : net.collect_params()) {
    INFO(p->name());
    REQUIRE(header.contains(p->name()));
    const auto& e = header[p->name()];
    CHECK(e["dtype"] == code);
    CHECK(e["shape"].template get<std::vector<int64_t>>() == p->shape().to_vector());
    const auto off = e["data_offsets"].template get<std::vector<uint64_t>>();
    REQUIRE(off.size() == 2);
    CHECK(off[1] - off[0] == sizeof(T) * static_cast<uint64_t>(p->size()));
    // Raw little-endian values (the test hosts are little-endian).
    CHECK(std::memcmp(bytes.data() + 8 + n + off[0], p->eager_data().data(), off[1] - off[0]) == 0);
    total += off[1] - off[0];
  }
  CHECK(bytes.size() == 8 + n + total);

  // The reader sees the same.
  const st::File file = st::read(path);
  CHECK(file.tensors().size() == 4);
  CHECK(file.find("0.weight")->shape == Shape{3, 4});
  CHECK(file.find("0.weight")->dtype == hybrid::dtype_of<T>());
  CHECK(file.tensor<T>(*file.find("1.bias")).to_vector() == net.collect_params()["1.bias"]->data().to_vector());
}

TEST_CASE("safetensors: metadata, zero-size tensors, empty files", "[io]") {
  TempDir dir;
  const std::string path = dir.file("misc.safetensors");
  const auto a = hybrid::from_vector<double>({1.5, -2.5});
  const auto empty = hybrid::zeros<float>({0, 3});
  st::write(path, {st::entry("a", a), st::entry("empty", empty)}, {{"format", "test"}});
  const st::File f = st::read(path);
  CHECK(f.metadata().at("format") == "test");
  CHECK(f.find("empty")->shape == Shape{0, 3});
  CHECK(f.tensor<float>(*f.find("empty")).size() == 0);
  CHECK(f.tensor<double>(*f.find("a")).to_vector() == std::vector<double>{1.5, -2.5});
  CHECK_THROWS_WITH(f.tensor<float>(*f.find("a")), Contains("'a' is float64, not float32"));

  write_bytes(path, file_bytes("{}", ""));
  CHECK(st::read(path).tensors().empty());
  CHECK_THROWS_WITH(st::write(path, {st::entry("x", a), st::entry("x", a)}), Contains("'x'"));
}

TEST_CASE("safetensors::read_metadata reads the header only; save_parameters writes metadata", "[io]") {
  TempDir dir;
  const std::string path = dir.file("meta.safetensors");
  nn::HybridSequential net;
  net.add(nn::Dense(2, "", true, 3));
  net.initialize();
  nn::save_parameters(net.collect_params(), path, {{"checkpoint.id", "42-abc"}, {"note", "x"}});
  CHECK(st::read_metadata(path) == std::map<std::string, std::string>{{"checkpoint.id", "42-abc"}, {"note", "x"}});
  CHECK(st::read(path).metadata() == st::read_metadata(path));
  nn::load_parameters(net.collect_params(), path);  // the metadata does not disturb a load

  nn::save_parameters(net.collect_params(), path);
  CHECK(st::read_metadata(path).empty());
  // The tensors are not read: a file whose data is cut short still shows its metadata.
  st::write(path, {st::entry("a", hybrid::zeros<float>({1000}))}, {{"k", "v"}});
  fs::resize_file(path, fs::file_size(path) - 400);
  CHECK(st::read_metadata(path).at("k") == "v");
  CHECK_THROWS_AS(st::read(path), FormatError);
  // A bad header is FormatError naming the file, a missing file Error.
  write_bytes(path, file_bytes("{\"__metadata__\": {\"k\": 1}}", ""));
  CHECK_THROWS_AS(st::read_metadata(path), FormatError);
  CHECK_THROWS_WITH(st::read_metadata(path), Contains("meta.safetensors") && Contains("value of 'k' is not a string"));
  CHECK_THROWS_WITH(st::read_metadata(dir.file("none.safetensors")), Contains("no such regular file"));
}

TEST_CASE("load_parameters: every corrupt file raises FormatError and changes nothing", "[io]") {
  TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  auto net = make_model(4);
  const auto before = snapshot(net);

  auto header_with = [](const std::function<void(json&)>& edit) {
    json h = valid_header();
    edit(h);
    return h.dump();
  };
  const std::string good = file_bytes(valid_header().dump(), data_bytes(92));
  struct Case {
    std::string what, bytes, message;
  };
  const std::vector<Case> cases{
      {"shorter than the length field", "abc", "too short"},
      {"empty file", "", "too short"},
      {"header length past the end", le64(1000) + "{}", "runs past the end of the file"},
      {"header length near 2^64", le64(std::numeric_limits<uint64_t>::max()) + "{}", "runs past the end"},
      {"truncated inside the header", good.substr(0, 40), "runs past the end"},
      {"truncated inside the data", good.substr(0, good.size() - 10), "out of range"},
      {"trailing bytes", good + "xxxx", "cover"},
      {"malformed JSON", file_bytes("{\"0.weight\": {", ""), "malformed JSON"},
      {"JSON with a NUL byte", file_bytes(std::string("{\"a\0\": 1}", 9), ""), "malformed JSON"},
      {"header not an object", file_bytes("[1, 2]", ""), "must be a JSON object"},
      {"entry not an object", file_bytes(R"({"0.weight": 3})", ""), "must be an object"},
      {"offsets out of range",
       file_bytes(header_with([](json& h) { h["1.bias"]["data_offsets"] = {84, 100}; }), data_bytes(92)),
       "out of range"},
      {"offsets reversed",
       file_bytes(header_with([](json& h) { h["1.bias"]["data_offsets"] = {92, 84}; }), data_bytes(92)),
       "out of range"},
      {"overlapping offsets",
       file_bytes(header_with([](json& h) { h["0.bias"]["data_offsets"] = {40, 52}; }), data_bytes(92)), "overlaps"},
      {"a gap between tensors",
       file_bytes(header_with([](json& h) {
                    h["1.weight"]["data_offsets"] = {64, 88};
                    h["1.bias"]["data_offsets"] = {88, 96};
                  }),
                  data_bytes(96)),
       "belong to no tensor"},
      {"byte size does not match the shape",
       file_bytes(header_with([](json& h) { h["0.bias"]["shape"] = {4}; }), data_bytes(92)),
       "needs 16 bytes but its data_offsets span 12"},
      {"shape overflows",
       file_bytes(header_with([](json& h) { h["0.bias"]["shape"] = {1ull << 40, 1ull << 40, 1ull << 40}; }),
                  data_bytes(92)),
       "overflows"},
      {"negative dimension", file_bytes(header_with([](json& h) { h["0.bias"]["shape"] = {-3}; }), data_bytes(92)),
       "non-negative integer"},
      {"fractional dimension", file_bytes(header_with([](json& h) { h["0.bias"]["shape"] = {3.0}; }), data_bytes(92)),
       "non-negative integer"},
      {"an offset written as 48.0",
       file_bytes(header_with([](json& h) { h["0.bias"]["data_offsets"] = {48.0, 60}; }), data_bytes(92)),
       "data_offsets begin must be a non-negative integer, got 48.0"},
      {"an empty tensor whose byte size overflows",
       file_bytes(header_with([](json& h) {
                    h["empty"] = {{"dtype", "F32"}, {"shape", {0, 1ull << 60, 4}}, {"data_offsets", {92, 92}}};
                  }),
                  data_bytes(92)),
       "byte size of shape [0,1152921504606846976,4] overflows"},
      {"a byte-order mark", file_bytes("\xEF\xBB\xBF" + valid_header().dump(), data_bytes(92)), "byte-order mark"},
      {"too many dimensions",
       file_bytes(header_with([](json& h) { h["0.bias"]["shape"] = {1, 1, 1, 1, 1, 1, 1, 1, 3}; }), data_bytes(92)),
       "at most 8"},
      {"unsupported dtype", file_bytes(header_with([](json& h) { h["0.bias"]["dtype"] = "F16"; }), data_bytes(92)),
       "supported dtypes are F32 and F64"},
      {"missing field", file_bytes(header_with([](json& h) { h["0.bias"].erase("shape"); }), data_bytes(92)),
       "needs the fields"},
      {"unknown field", file_bytes(header_with([](json& h) { h["0.bias"]["stride"] = 1; }), data_bytes(92)),
       "unknown field 'stride'"},
      {"bad data_offsets", file_bytes(header_with([](json& h) { h["0.bias"]["data_offsets"] = {48}; }), data_bytes(92)),
       "data_offsets must be [begin, end]"},
      {"metadata not strings",
       file_bytes(header_with([](json& h) { h["__metadata__"] = {{"epoch", 3}}; }), data_bytes(92)), "not a string"},
      {"duplicate tensor name",
       file_bytes(R"({"0.bias": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]},)"
                  R"( "0.bias": {"dtype": "F32", "shape": [3], "data_offsets": [12, 24]}})",
                  data_bytes(24)),
       "repeats the key '0.bias'"},
  };
  for (const auto& c : cases) {
    INFO("case: " << c.what);
    write_bytes(path, c.bytes);
    try {
      net.load_parameters(path);
      FAIL("no error");
    } catch (const FormatError& e) {
      CHECK_THAT(e.what(), Contains(path) && Contains(c.message));
    }
    CHECK(snapshot(net) == before);
  }
}

TEST_CASE("load_parameters: a header above the size limit is refused before it is read", "[io]") {
  TempDir dir;
  const std::string path = dir.file("huge.safetensors");
  const uint64_t n = st::kMaxHeaderBytes + 1;
  write_bytes(path, le64(n));
  fs::resize_file(path, 8 + n);  // sparse: nothing is written
  auto net = make_model(5);
  const auto before = snapshot(net);
  CHECK_THROWS_AS(net.load_parameters(path), FormatError);
  CHECK_THROWS_WITH(net.load_parameters(path), Contains(path) && Contains("exceeds the limit"));
  CHECK(snapshot(net) == before);
}

TEST_CASE("load_parameters: every missing, unexpected and mismatched parameter in one message", "[io]") {
  TempDir dir;
  const std::string path = dir.file("other.safetensors");
  const auto w_bad_shape = hybrid::zeros<float>({3, 5});
  const auto b_double = hybrid::zeros<double>({3});
  const auto w1 = hybrid::ones<float>({2, 3});
  const auto extra = hybrid::ones<float>({7});
  st::write(path, {st::entry("0.weight", w_bad_shape), st::entry("0.bias", b_double), st::entry("1.weight", w1),
                   st::entry("extra", extra)});
  auto net = make_model(6);
  const auto before = snapshot(net);
  try {
    net.load_parameters(path);
    FAIL("no error");
  } catch (const FormatError& e) {  // a file that does not fit the model is bad content too
    const std::string m = e.what();
    INFO(m);
    CHECK_THAT(m, Contains(path));
    CHECK_THAT(m, Contains("missing from the file: 1.bias"));
    CHECK_THAT(m, Contains("unexpected in the file: extra"));
    CHECK_THAT(m, Contains("0.weight is float32 (3, 5) in the file but float32 (3, 4) in the model"));
    CHECK_THAT(m, Contains("0.bias is float64 (3,) in the file but float32 (3,) in the model"));
    CHECK_THAT(m, Contains("Nothing was loaded"));
  }
  // 1.weight matched, but the load is all-or-nothing.
  CHECK(snapshot(net) == before);

  // allow_missing / ignore_extra, as in Gluon.
  const auto b0 = hybrid::full<float>({3}, 0.5f);
  st::write(path, {st::entry("0.bias", b0), st::entry("extra", extra)});
  CHECK_THROWS_AS(net.load_parameters(path, true, false), FormatError);
  CHECK_THROWS_WITH(net.load_parameters(path, true, false), Contains("unexpected in the file: extra"));
  CHECK_THROWS_WITH(net.load_parameters(path, false, true), Contains("missing from the file: 0.weight, 1.weight, 1.bias"));
  CHECK(snapshot(net) == before);
  net.load_parameters(path, true, true);
  CHECK(net.collect_params()["0.bias"]->data().to_vector() == std::vector<float>(3, 0.5f));
  CHECK(net.collect_params()["0.weight"]->data().to_vector() ==
        std::vector<float>(reinterpret_cast<const float*>(before[0].second.data()),
                           reinterpret_cast<const float*>(before[0].second.data()) + 12));
}

TEST_CASE("save/load_parameters: missing files and uninitialized parameters", "[io]") {
  TempDir dir;
  auto net = make_model(7);
  const auto before = snapshot(net);
  const std::string missing = dir.file("nope.safetensors");
  CHECK_THROWS_AS(net.load_parameters(missing), Error);
  CHECK_THROWS_WITH(net.load_parameters(missing), Contains(missing));
  CHECK_THROWS_WITH(net.load_parameters(dir.file("")), Contains("no such regular file"));
  CHECK(snapshot(net) == before);

  nn::HybridSequential deferred;
  deferred.add(nn::Dense(2));
  deferred.initialize();
  const std::string out = dir.file("deferred.safetensors");
  CHECK_THROWS_WITH(deferred.save_parameters(out), Contains("'0.weight' has not been initialized"));
  CHECK_FALSE(fs::exists(out));
  CHECK_FALSE(fs::exists(out + ".tmp"));
}

TEST_CASE("safetensors: zero-size tensors may share offsets, whatever the header's order", "[io]") {
  TempDir dir;
  const std::string path = dir.file("empties.safetensors");
  // Empty tensors at the start, between a and b (sharing b's start), and at
  // the end; their names sort against their offsets.
  const std::vector<std::pair<std::string, json>> entries{
      {"z_first", {{"dtype", "F32"}, {"shape", {0}}, {"data_offsets", {0, 0}}}},
      {"a", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {0, 8}}}},
      {"y_middle", {{"dtype", "F64"}, {"shape", {3, 0}}, {"data_offsets", {8, 8}}}},
      {"x_middle", {{"dtype", "F32"}, {"shape", {0}}, {"data_offsets", {8, 8}}}},
      {"b", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {8, 12}}}},
      {"c_last", {{"dtype", "F32"}, {"shape", {0, 5}}, {"data_offsets", {12, 12}}}},
  };
  // The header text in a given entry order (a JSON object's order is the text's).
  auto header_in = [&](const std::vector<size_t>& order) {
    std::string h = "{";
    for (size_t i : order)
      h += (h.size() > 1 ? "," : "") + json(entries[i].first).dump() + ":" + entries[i].second.dump();
    return h + "}";
  };
  const std::vector<std::string> data_order{"z_first", "a", "x_middle", "y_middle", "b", "c_last"};
  const std::vector<std::vector<size_t>> orders{{0, 1, 2, 3, 4, 5}, {5, 4, 3, 2, 1, 0}, {3, 0, 5, 1, 2, 4}};
  for (const auto& order : orders) {
    write_bytes(path, file_bytes(header_in(order), data_bytes(12)));
    const st::File f = st::read(path);
    std::vector<std::string> names;
    for (const auto& t : f.tensors()) names.push_back(t.name);
    CHECK(names == data_order);
    CHECK(f.find("y_middle")->shape == Shape{3, 0});
    CHECK(f.tensor<float>(*f.find("b")).size() == 1);
  }
  // An empty tensor inside another one's bytes overlaps it.
  write_bytes(path, file_bytes(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                               R"( "e": {"dtype": "F32", "shape": [0], "data_offsets": [4, 4]}})",
                               data_bytes(8)));
  CHECK_THROWS_AS(st::read(path), FormatError);
  CHECK_THROWS_WITH(st::read(path), Contains(path) && Contains("tensor 'e' (bytes 4..4) overlaps tensor 'a'"));
}

TEST_CASE("safetensors: the header limits FORMAT.md states hold exactly", "[io]") {
  TempDir dir;
  const std::string path = dir.file("limits.safetensors");
  auto read_error = [&](const std::string& header) {
    write_bytes(path, file_bytes(header, ""));
    try {
      st::read(path);
    } catch (const FormatError& e) {
      return std::string(e.what());
    }
    FAIL("no FormatError");
    return std::string();
  };
  SECTION("the header nests at most 16 levels, the header object being level 1") {
    // Under the header (1) and __metadata__ (2): the JSON reader accepts 16
    // levels, which then fail as content; 17 fail in the reader.
    auto nested = [](int levels) {
      const size_t arrays = static_cast<size_t>(levels - 2);
      return "{\"__metadata__\": {\"k\": " + std::string(arrays, '[') + std::string(arrays, ']') + "}}";
    };
    CHECK_THAT(read_error(nested(16)), Contains("__metadata__ value of 'k' is not a string"));
    CHECK_THAT(read_error(nested(17)), Contains(path) && Contains("nest deeper than 16 levels"));
    // A valid header nests 3 levels.
    write_bytes(path, file_bytes(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", data_bytes(4)));
    CHECK(st::read(path).tensors().size() == 1);
  }
  SECTION("integers have no fraction or exponent; -0 is 0") {
    CHECK_THAT(read_error(R"({"a": {"dtype": "F32", "shape": [0e0], "data_offsets": [0, 0]}})"),
               Contains("non-negative integer, got 0.0"));
    CHECK_THAT(read_error(R"({"a": {"dtype": "F32", "shape": [0], "data_offsets": [0.0, 0]}})"),
               Contains("non-negative integer, got 0.0"));
    write_bytes(path, file_bytes(R"({"a": {"dtype": "F32", "shape": [-0], "data_offsets": [-0, 0]}})", ""));
    CHECK(st::read(path).find("a")->shape == Shape{0});
  }
  SECTION("a byte-order mark is not allowed") {
    CHECK_THAT(read_error("\xEF\xBB\xBF{}"), Contains(path) && Contains("byte-order mark"));
  }
}
