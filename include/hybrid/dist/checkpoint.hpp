#pragma once
// Checkpoints of data-parallel training: rank 0 writes, every rank reads.
//
//   dist::save_checkpoint(net.collect_params(), trainer, "run/ckpt");  // run/ckpt.params, run/ckpt.states
//   dist::load_checkpoint(net.collect_params(), trainer, "run/ckpt");  // on every rank, to resume
//
// The parameters (running statistics included) and the trainer states are
// identical on every process after each "dist_sync" step, so rank 0's copy
// is the checkpoint. The random generators may differ (a program may seed
// each rank differently): every process's generator state goes into the
// .states file (one copy when all are equal), and a load restores each
// process's own, so a resumed run draws the same dropout masks and shuffles
// as the uninterrupted one and continues bit for bit.
//
// Both files carry the same checkpoint id. A save writes both under
// temporary names (.params.new, .states.new, each itself written through a
// temporary file) and only then renames them into place, so a crash leaves
// the previous checkpoint, the new one, or — between the two renames — one
// file of each; a load compares the ids first and refuses such a pair with
// an Error naming both files. Both calls are collective and fail on every
// process when one fails (the message names the ranks), so no rank goes on
// alone.
#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "../core/random.hpp"
#include "../io/safetensors.hpp"
#include "../nn/parameter_file.hpp"
#include "../nn/trainer.hpp"
#include "collectives.hpp"

namespace hybrid::dist {

namespace detail {
/// Throws on every process when `local_error` is non-empty on any, naming the ranks.
inline void agree_on_success(const std::string& local_error, const std::string& who) {
  const std::vector<uint64_t> ok = allgather(local_error.empty() ? 1 : 0, who.c_str());
  std::string failed;
  for (size_t r = 0; r < ok.size(); ++r)
    if (!ok[r]) failed += (failed.empty() ? "" : ", ") + std::to_string(r);
  if (failed.empty()) return;
  throw Error("hybrid::dist::" + who + " failed on rank(s) " + failed +
              (local_error.empty() ? std::string() : " (here: " + local_error + ")"));
}

/// A new checkpoint id: the time and a nondeterministic number (never the
/// library generator, whose draws the checkpoint must not move).
inline std::string new_checkpoint_id() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count();
  std::random_device device;
  char text[64];
  std::snprintf(text, sizeof text, "%lld-%08x", static_cast<long long>(ns), static_cast<unsigned>(device()));
  return text;
}

inline void rename_into_place(const std::string& from, const std::string& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0) throw Error("cannot rename '" + from + "' to '" + to + "'");
}

/// This process's generator state out of a checkpoint's .states metadata;
/// Error naming `path` when it is missing or belongs to another number of processes.
inline std::string generator_state(const std::map<std::string, std::string>& meta, const std::string& path,
                                   int rank, int size) {
  const auto shared = meta.find("random.state");
  if (shared != meta.end()) return shared->second;
  const auto processes = meta.find("checkpoint.processes");
  if (processes == meta.end())
    throw FormatError("'" + path + "' holds no random generator state (no 'random.state' metadata)");
  if (processes->second != std::to_string(size))
    throw Error("'" + path + "' holds the random generator states of " + processes->second +
                " processes, which differ, but " + std::to_string(size) +
                " processes load it: resume with as many processes as saved it");
  const auto mine = meta.find("random.state." + std::to_string(rank));
  if (mine == meta.end())
    throw FormatError("'" + path + "' holds no random generator state for rank " + std::to_string(rank));
  return mine->second;
}
}  // namespace detail

/// Rank 0 writes `prefix`.params (the parameters) and `prefix`.states (the
/// trainer's optimizer states and every process's random generator state),
/// both with one new checkpoint id; the others wait for it. Collective.
template <class T>
void save_checkpoint(const nn::ParameterDictT<T>& params, const nn::TrainerT<T>& trainer, const std::string& prefix) {
  const std::string who = "save_checkpoint('" + prefix + "')";
  const std::vector<std::string> generators = detail::gather_strings(random::state(), 0, who.c_str());
  std::string error;
  if (dist::rank() == 0) {
    try {
      std::map<std::string, std::string> id{{"checkpoint.id", detail::new_checkpoint_id()},
                                            {"checkpoint.processes", std::to_string(generators.size())}};
      std::map<std::string, std::string> states_meta = id;
      bool all_equal = true;
      for (const std::string& g : generators) all_equal = all_equal && g == generators.front();
      if (all_equal) {
        states_meta["random.state"] = generators.front();
      } else {
        for (size_t r = 0; r < generators.size(); ++r) states_meta["random.state." + std::to_string(r)] = generators[r];
      }
      trainer.save_states(prefix + ".states.new", states_meta);
      nn::save_parameters(params, prefix + ".params.new", id);
      detail::rename_into_place(prefix + ".states.new", prefix + ".states");
      detail::rename_into_place(prefix + ".params.new", prefix + ".params");
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  detail::agree_on_success(error, who);
}

/// Every rank reads `prefix`.params and `prefix`.states, after checking that
/// both come from the same save, and restores its random generator state.
/// Collective; the generators change only when every process succeeded.
template <class T>
void load_checkpoint(const nn::ParameterDictT<T>& params, nn::TrainerT<T>& trainer, const std::string& prefix) {
  const std::string params_path = prefix + ".params", states_path = prefix + ".states";
  std::string error, generator;
  try {
    const auto params_meta = io::safetensors::read_metadata(params_path);
    const auto states_meta = io::safetensors::read_metadata(states_path);
    const auto params_id = params_meta.find("checkpoint.id"), states_id = states_meta.find("checkpoint.id");
    if (params_id == params_meta.end() || states_id == states_meta.end())
      throw FormatError("'" + (params_id == params_meta.end() ? params_path : states_path) +
                        "' has no checkpoint id: it was not written by dist::save_checkpoint");
    if (params_id->second != states_id->second)
      throw FormatError("'" + params_path + "' (checkpoint " + params_id->second + ") and '" + states_path +
                        "' (checkpoint " + states_id->second +
                        ") are not from the same save (one was interrupted between its two renames); nothing was "
                        "loaded");
    generator = detail::generator_state(states_meta, states_path, dist::rank(), dist::size());
    random::detail::parse_state(generator, "'" + states_path + "'");  // checked before anything changes
    nn::load_parameters(params, params_path);
    trainer.load_states(states_path);
  } catch (const std::exception& e) {
    error = e.what();
  }
  detail::agree_on_success(error, "load_checkpoint('" + prefix + "')");
  random::set_state(generator);
}

}  // namespace hybrid::dist
