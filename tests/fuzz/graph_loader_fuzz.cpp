// libFuzzer target for the graph-file reader (io::graph_from_json).
//
// Any input may be rejected with hybrid::Error (FormatError); anything else —
// another exception, a crash, a sanitizer report, a timeout, or memory beyond
// the limit — is a finding. An accepted graph must also pass the verifier and
// survive a write → read → write round trip byte for byte.
#include <cstddef>
#include <cstdint>
#include <string>

#include <hybrid/graph/verify.hpp>
#include <hybrid/io/graph_json.hpp>

namespace {

template <class T>
void check(const std::string& text) {
  hybrid::graph::Graph<T> g;
  try {
    g = hybrid::io::graph_from_json<T>(text, "fuzz");
  } catch (const hybrid::Error&) {
    return;  // rejected cleanly
  }
  // Accepted: the invariants hold and the writer reproduces the graph.
  hybrid::graph::verify(g, "fuzz load");
  const std::string written = hybrid::io::graph_to_json(g);
  const hybrid::graph::Graph<T> again = hybrid::io::graph_from_json<T>(written, "fuzz rewrite");
  if (hybrid::io::graph_to_json(again) != written) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  check<float>(text);
  check<double>(text);
  return 0;
}
