#pragma once
// save_parameters / load_parameters: a model's parameters as a safetensors
// file keyed by their structural names ("0.weight", "hidden.bias").
// A load is all-or-nothing: the file is read and checked against every
// parameter before the first one changes, and the new values are then
// published together, so a call running meanwhile sees all old values or all
// new ones. A save writes one consistent generation. Errors follow the
// readers' rule: bad content, and a file that does not fit the model (a
// missing, unexpected or mismatched parameter), is FormatError naming the
// file; a path that cannot be read is Error.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "parameter.hpp"
#include "../io/safetensors.hpp"

namespace hybrid::nn {

/// Writes every parameter to `path` (through a temporary file renamed into
/// place); `metadata` goes into the file's __metadata__ (strings only).
template <class T>
void save_parameters(const ParameterDictT<T>& params, const std::string& path,
                     const std::map<std::string, std::string>& metadata = {}) {
  // One generation, held alive while it is written.
  std::vector<TensorT<T>> values;
  detail::ParameterAccess::read_values<T>(params, values, /*skip_uninitialized=*/true);
  std::vector<io::safetensors::Entry> entries;
  size_t i = 0;
  for (const auto& p : params) {
    if (!values[i].defined())
      throw Error("save_parameters('" + path + "'): parameter '" + p->name() +
                  "' has not been initialized (run initialize() and, for deferred shapes, one forward pass)");
    entries.push_back(io::safetensors::entry(p->name(), values[i++]));
  }
  io::safetensors::write(path, entries, metadata);
}

/// Loads every parameter from `path`. Names, shapes and dtypes must match;
/// all mismatches are reported together, in one FormatError. `allow_missing`
/// keeps parameters absent from the file; `ignore_extra` skips tensors the
/// model lacks.
template <class T>
void load_parameters(const ParameterDictT<T>& params, const std::string& path, bool allow_missing = false,
                     bool ignore_extra = false) {
  const io::safetensors::File file = io::safetensors::read(path);

  std::vector<std::string> missing, unexpected, mismatched;
  std::vector<std::pair<ParameterT<T>*, const io::safetensors::TensorInfo*>> plan;
  for (const auto& p : params) {
    const io::safetensors::TensorInfo* info = file.find(p->name());
    if (!info) {
      if (!allow_missing) missing.push_back(p->name());
    } else if (info->dtype != p->dtype() || !shape_compatible(p->shape(), info->shape)) {
      mismatched.push_back(p->name() + " is " + to_string(info->dtype) + " " + to_string(info->shape) +
                           " in the file but " + to_string(p->dtype()) + " " + to_string(p->shape()) +
                           " in the model");
    } else {
      plan.emplace_back(p.get(), info);
    }
  }
  if (!ignore_extra)
    for (const auto& t : file.tensors())
      if (!params.contains(t.name)) unexpected.push_back(t.name);

  if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
    auto join = [](const std::vector<std::string>& names) {
      std::string s;
      for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
      return s;
    };
    std::string msg = "load_parameters('" + path + "'): the file does not match the model's parameters;";
    if (!missing.empty()) msg += " missing from the file: " + join(missing) + ";";
    if (!unexpected.empty()) msg += " unexpected in the file: " + join(unexpected) + ";";
    if (!mismatched.empty()) msg += " mismatched: " + join(mismatched) + ";";
    msg.pop_back();
    throw FormatError(msg + ". Nothing was loaded");
  }

  // Every value is materialized before the first parameter is touched.
  std::vector<std::pair<ParameterT<T>*, TensorT<T>>> updates;
  updates.reserve(plan.size());
  for (const auto& step : plan) updates.emplace_back(step.first, file.tensor<T>(*step.second));
  detail::ParameterAccess::publish(updates, "load_parameters('" + path + "')");
}

}  // namespace hybrid::nn
