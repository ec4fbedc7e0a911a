// Prints what an exported model holds: its inputs, its ops, its parameters
// and, with --dot, its graph in Graphviz DOT. The model is loaded the way a
// user would load it (SymbolBlock::imports), so both files are validated.
//
//   inspect_model <prefix-symbol.json> <prefix-NNNN.params> [--dot]
//   inspect_model my_mlp-symbol.json my_mlp-0000.params --dot | dot -Tsvg > mlp.svg
#include <hybrid/hybrid.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iomanip>
#include <iostream>
#include <map>
#include <string>
#include <vector>

using namespace hybrid;

namespace {

int usage() {
  std::cerr << "usage: inspect_model <prefix-symbol.json> <prefix-NNNN.params> [--dot]\n"
               "  prints the model's inputs, ops and parameters; --dot prints its graph as Graphviz DOT\n";
  return 2;
}

/// The element type the graph file declares ("float32" or "float64").
std::string declared_dtype(const std::string& symbol_file) {
  const std::string text = io::read_text_file(symbol_file);
  const nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_object() && doc.contains("dtype") && doc["dtype"].is_string()) return doc["dtype"].get<std::string>();
  return to_string(DType::float32);  // the loader reports what is wrong
}

template <class T>
void inspect(const std::string& symbol_file, const std::string& params_file, bool dot) {
  // The input names come from the graph itself, in the order it lists them.
  const graph::Graph<T> g = io::load_graph<T>(symbol_file);
  std::vector<std::string> input_names;
  for (int v : g.variables(graph::VarKind::input)) input_names.push_back(g.nodes[v].name);
  const auto block = nn::SymbolBlockT<T>::imports(symbol_file, input_names, params_file);

  if (dot) {
    std::cout << block->loaded_graph_dot();
    return;
  }

  const std::string dtype = to_string(dtype_of<T>());
  std::cout << "model: " << symbol_file << " + " << params_file << " (" << dtype << ", "
            << block->graph().nodes.size() << " nodes)\n";

  std::cout << "\ninputs (" << input_names.size() << "):\n";
  const std::vector<Shape> shapes = block->input_shapes();
  for (size_t k = 0; k < input_names.size(); ++k)
    std::cout << "  " << std::left << std::setw(20) << input_names[k] << std::setw(20) << to_string(shapes[k])
              << dtype << "\n";

  std::map<std::string, int> counts;
  std::vector<std::string> order;
  int64_t constants = 0, constant_values = 0;
  for (const auto& n : block->graph().nodes) {
    if (n.op == OpCode::variable) continue;
    if (n.op == OpCode::constant) {
      ++constants;
      constant_values += n.value.size();
      continue;
    }
    std::string label = op_def(n.op).name;
    if (n.op == OpCode::fully_connected && n.attrs.activation >= 0)
      label += std::string("+") + op_def(static_cast<OpCode>(n.attrs.activation)).name;
    if (counts[label]++ == 0) order.push_back(label);
  }
  int64_t op_total = 0;
  for (const auto& c : counts) op_total += c.second;
  std::cout << "\nops (" << op_total << "):\n";
  for (const auto& name : order) std::cout << "  " << std::left << std::setw(20) << name << counts[name] << "\n";
  std::cout << "  in order:";
  for (const auto& n : block->graph().nodes)
    if (!has_trait(n.op, kSource)) std::cout << " " << graph::op_label(n);
  std::cout << "\n";
  if (constants) std::cout << "constants: " << constants << " (" << constant_values << " values)\n";

  const auto params = block->collect_params();
  std::cout << "\nparameters (" << params.size() << "):\n";
  int64_t total = 0;
  for (const auto& p : params) {
    std::cout << "  " << std::left << std::setw(20) << p->name() << std::setw(20) << to_string(p->shape())
              << p->size() << "\n";
    total += p->size();
  }
  std::cout << "  total: " << total << " values (" << total * static_cast<int64_t>(sizeof(T)) << " bytes)\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  bool dot = false;
  std::vector<std::string> files;
  for (const auto& a : args) {
    if (a == "--dot") dot = true;
    else if (a == "-h" || a == "--help") return usage();
    else files.push_back(a);
  }
  if (files.size() != 2) return usage();
  try {
    if (declared_dtype(files[0]) == to_string(DType::float64)) inspect<double>(files[0], files[1], dot);
    else inspect<float>(files[0], files[1], dot);
  } catch (const Error& e) {
    std::cerr << "inspect_model: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
