#pragma once
// dist::Context: MPI for the lifetime of one object in main.
//
//   int main(int argc, char** argv) {
//     hybrid::dist::Context ctx(argc, argv);   // MPI_Init_thread ... MPI_Finalize
//     ...
//     hybrid::nn::Trainer trainer(net.collect_params(), "sgd", {{"learning_rate", 0.1}}, "dist_sync");
//   }
//
// The constructor initializes MPI (unless the program already did) asking
// for MPI_THREAD_SERIALIZED, since hybrid calls MPI from whichever thread
// runs Trainer::step (and, with overlap_backward, backward), one at a time;
// a library that provides less is an Error. It duplicates MPI_COMM_WORLD with MPI_ERRORS_RETURN, and registers
// the MpiReducer with the core so Trainers with kvstore "dist_sync" find it.
// One Context at a time.
//
// Faults: the Context installs a std::terminate handler, so an uncaught
// exception on any rank prints "hybrid::dist: rank R of N: uncaught
// exception: <what>" and MPI_Aborts the job: mpirun then ends every other
// process at once instead of leaving them waiting in a collective. A Context
// left by an exception (its destructor running during unwinding) aborts the
// job the same way, since the other ranks cannot finalize with it. A rank
// that dies (a signal, exit without finalize) is reported by mpirun, which
// ends the job; a rank that stops taking part is caught by the collectives'
// deadline (runtime.hpp).
#include <exception>
#include <memory>
#include <string>

#include "../nn/gradient_reducer.hpp"
#include "reducer.hpp"
#include "runtime.hpp"

namespace hybrid::dist {

class Context {
 public:
  Context() : Context(nullptr, nullptr, Settings::from_environment()) {}
  Context(int& argc, char**& argv, const Settings& settings = Settings::from_environment())
      : Context(&argc, &argv, settings) {}

  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  ~Context() {
    if (std::uncaught_exceptions() > exceptions_at_start_)
      detail::abort_job("left its dist::Context by an exception, so the other processes cannot finish with it");
    nn::register_gradient_reducer(nullptr);
    std::set_terminate(previous_terminate_);
    MPI_Comm_free(&runtime_.comm);
    MPI_Comm_free(&runtime_.side);
    detail::runtime_slot() = nullptr;
    if (owns_mpi_) {
      int finalized = 0;
      MPI_Finalized(&finalized);
      if (!finalized) MPI_Finalize();
    }
  }

  int rank() const { return runtime_.rank; }
  int size() const { return runtime_.size; }
  const Settings& settings() const { return runtime_.settings; }
  /// Turns the parameter check after every "dist_sync" step on or off (on
  /// every process alike: it is a collective).
  void set_check_parameters(bool on) { runtime_.settings.check_parameters = on; }
  /// Changes the bucket size of the next steps (every process alike).
  void set_bucket_bytes(int64_t bytes) {
    if (bytes < 0) throw Error("dist::Context: bucket_bytes must be >= 0, got " + std::to_string(bytes));
    runtime_.settings.bucket_bytes = bytes;
  }
  /// Starts the buckets during backward (true) or at Trainer::step (false),
  /// from the next step on (every process alike; Settings::overlap_backward).
  void set_overlap_backward(bool on) { runtime_.settings.overlap_backward = on; }
  /// Changes the collectives' deadline, in seconds.
  void set_timeout(double seconds) {
    if (!(seconds > 0)) throw Error("dist::Context: the timeout must be positive, got " + std::to_string(seconds));
    runtime_.settings.timeout = seconds;
  }
  /// What the gradient reducer did so far (time, messages, bytes).
  const ReduceStats& reduce_stats() const { return reducer_->stats(); }
  void reset_reduce_stats() { reducer_->reset_stats(); }

 private:
  Context(int* argc, char*** argv, const Settings& settings) {
    if (detail::runtime_slot()) throw Error("dist::Context: another dist::Context is alive; create one, in main");
    if (!(settings.timeout > 0))
      throw Error("dist::Context: the timeout must be positive, got " + std::to_string(settings.timeout));
    if (settings.bucket_bytes < 0)
      throw Error("dist::Context: bucket_bytes must be >= 0, got " + std::to_string(settings.bucket_bytes));
    int initialized = 0;
    MPI_Initialized(&initialized);
    int provided = MPI_THREAD_SINGLE;
    if (initialized) {
      MPI_Query_thread(&provided);
    } else {
      if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
        throw Error("dist::Context: MPI_Init_thread failed");
      owns_mpi_ = true;
    }
    if (provided < MPI_THREAD_SERIALIZED) {
      if (owns_mpi_) MPI_Finalize();
      throw Error("dist::Context: the MPI library provides thread level " + level_name(provided) +
                  ", but hybrid needs MPI_THREAD_SERIALIZED (calls from one thread at a time, any thread)");
    }
    if (MPI_Comm_dup(MPI_COMM_WORLD, &runtime_.comm) != MPI_SUCCESS ||
        MPI_Comm_dup(MPI_COMM_WORLD, &runtime_.side) != MPI_SUCCESS)
      throw Error("dist::Context: MPI_Comm_dup failed");
    MPI_Comm_set_errhandler(runtime_.comm, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(runtime_.side, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(runtime_.comm, &runtime_.rank);
    MPI_Comm_size(runtime_.comm, &runtime_.size);
    runtime_.settings = settings;
    detail::runtime_slot() = &runtime_;
    reducer_ = std::make_shared<MpiReducer>();
    nn::register_gradient_reducer(reducer_);
    previous_terminate_ = std::set_terminate(&Context::on_terminate);
    exceptions_at_start_ = std::uncaught_exceptions();
  }

  static std::string level_name(int level) {
    switch (level) {
      case MPI_THREAD_SINGLE: return "MPI_THREAD_SINGLE";
      case MPI_THREAD_FUNNELED: return "MPI_THREAD_FUNNELED";
      case MPI_THREAD_SERIALIZED: return "MPI_THREAD_SERIALIZED";
      case MPI_THREAD_MULTIPLE: return "MPI_THREAD_MULTIPLE";
    }
    return std::to_string(level);
  }

  [[noreturn]] static void on_terminate() {
    std::string what = "terminate called without an active exception";
    if (std::exception_ptr e = std::current_exception()) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        what = std::string("uncaught exception: ") + x.what();
      } catch (...) {
        what = "uncaught exception of a type not derived from std::exception";
      }
    }
    detail::abort_job(what);
  }

  detail::Runtime runtime_;
  std::shared_ptr<MpiReducer> reducer_;
  std::terminate_handler previous_terminate_ = nullptr;
  int exceptions_at_start_ = 0;
  bool owns_mpi_ = false;
};

}  // namespace hybrid::dist
