#pragma once
// Checkpoints of data-parallel training: rank 0 writes, every rank reads.
//
//   dist::save_checkpoint(net.collect_params(), trainer, "run/ckpt");  // run/ckpt.params, run/ckpt.states
//   dist::load_checkpoint(net.collect_params(), trainer, "run/ckpt");  // on every rank, to resume
//
// The parameters and the trainer states are identical on every process
// after each "dist_sync" step, so rank 0's copy is the checkpoint. Each file
// is written through a temporary file renamed into place
// (nn::save_parameters, Trainer::save_states), so a crash leaves the
// previous file or the new one, never half of one; the .params file is
// renamed last, so a crash between the two renames leaves new states with
// old parameters, which the step counts in the .states file reveal. Both
// calls are collective and fail on every process when one fails (the
// message names the ranks), so no rank goes on alone. A resumed run
// continues exactly as an uninterrupted one when it sees the same batches:
// seed the data order from the epoch (random::seed) rather than carrying the
// generator over.
#include <string>

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
}  // namespace detail

/// Rank 0 writes `prefix`.params (the parameters) and `prefix`.states (the
/// trainer's optimizer states); the others wait for it. Collective.
template <class T>
void save_checkpoint(const nn::ParameterDictT<T>& params, const nn::TrainerT<T>& trainer, const std::string& prefix) {
  std::string error;
  if (dist::rank() == 0) {
    try {
      trainer.save_states(prefix + ".states");
      nn::save_parameters(params, prefix + ".params");
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  detail::agree_on_success(error, "save_checkpoint('" + prefix + "')");
}

/// Every rank reads `prefix`.params and `prefix`.states. Collective.
template <class T>
void load_checkpoint(const nn::ParameterDictT<T>& params, nn::TrainerT<T>& trainer, const std::string& prefix) {
  std::string error;
  try {
    nn::load_parameters(params, prefix + ".params");
    trainer.load_states(prefix + ".states");
  } catch (const std::exception& e) {
    error = e.what();
  }
  detail::agree_on_success(error, "load_checkpoint('" + prefix + "')");
}

}  // namespace hybrid::dist
