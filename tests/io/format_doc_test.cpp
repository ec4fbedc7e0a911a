// docs/FORMAT.md specifies every op and attribute a graph file can hold. The
// lists here come from the op table and the attribute descriptors, so an op
// or attribute added without its FORMAT.md entry fails this test.
#include <catch2/catch.hpp>
#include <hybrid/hybrid.hpp>

#include <fstream>
#include <sstream>
#include <string>

namespace {
std::string format_doc() {
  std::ifstream in(std::string(HYBRID_SOURCE_DIR) + "/docs/FORMAT.md");
  REQUIRE(in);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

TEST_CASE("FORMAT.md has a section for every portable op", "[io][docs]") {
  const std::string doc = format_doc();
  for (int i = 0; i < hybrid::kOpCount; ++i) {
    const auto op = static_cast<hybrid::OpCode>(i);
    const std::string name = hybrid::op_def(op).name;
    INFO(name);
    if (hybrid::has_trait(op, hybrid::kInternal)) continue;
    // A heading or summary row names it in backticks.
    CHECK(doc.find("`" + name + "`") != std::string::npos);
  }
}

TEST_CASE("FORMAT.md's attribute table has a row for every attribute key", "[io][docs]") {
  const std::string doc = format_doc();
  for (const hybrid::AttrDesc& d : hybrid::kAttrDescs) {
    INFO(d.key);
    CHECK(doc.find("| `" + std::string(d.key) + "`") != std::string::npos);
  }
}
