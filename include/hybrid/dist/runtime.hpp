#pragma once
// The MPI runtime under hybrid::dist: the communicator, the settings, MPI
// error codes turned into hybrid errors, and the wait with a deadline that
// every collective goes through.
//
// Faults (docs/distributed.md, "Faults"): MPI calls return their errors
// (MPI_ERRORS_RETURN on the communicator) and each becomes an Error naming
// the call, this rank and MPI's message. Every collective is non-blocking
// and waited for by polling MPI_Test against a deadline (Settings::timeout,
// HYBRID_DIST_TIMEOUT seconds, 120 by default): a process that stops taking
// part (stuck, or on another code path) makes the others print which
// collective of which rank waited and which ranks did not arrive, and
// MPI_Abort the job, instead of hanging. MPI cannot say who is missing from
// a collective, so the waiting rank asks: a side communicator carries its
// question to every rank, and ranks inside a hybrid::dist wait answer with
// the collective they wait in (no message is sent unless a wait times out).
// A rank that throws an uncaught exception or dies is handled by dist::Context
// and by mpirun (context.hpp).
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "../core/errors.hpp"

namespace hybrid::dist {

/// What a dist::Context sets up; defaults come from the environment.
struct Settings {
  /// Seconds a collective may wait for the other processes before the job
  /// is aborted (HYBRID_DIST_TIMEOUT).
  double timeout = 120;
  /// Gradients are packed into buckets of at most this many bytes, one
  /// allreduce each (HYBRID_DIST_BUCKET_BYTES, 4 MiB by default; 0: one
  /// allreduce per gradient).
  int64_t bucket_bytes = int64_t{4} << 20;
  /// After every "dist_sync" step, compare a hash of the parameters of all
  /// processes and throw naming those that differ (HYBRID_DIST_CHECK=1).
  bool check_parameters = false;
  /// Start each bucket's allreduce during backward, as soon as backward has
  /// computed its gradients, instead of at Trainer::step
  /// (HYBRID_DIST_OVERLAP=1). Gradients are then summed as backward leaves
  /// them: changes made between backward and step are not seen.
  bool overlap_backward = false;

  /// The defaults, overridden by HYBRID_DIST_TIMEOUT, HYBRID_DIST_BUCKET_BYTES,
  /// HYBRID_DIST_CHECK and HYBRID_DIST_OVERLAP. Error names a variable whose value is not a number.
  static Settings from_environment() {
    Settings s;
    auto number = [](const char* name, double fallback) {
      const char* text = std::getenv(name);
      if (!text || !*text) return fallback;
      char* end = nullptr;
      const double v = std::strtod(text, &end);
      if (*end != '\0' || !(v >= 0))
        throw Error(std::string("hybrid::dist: ") + name + "='" + text + "' is not a non-negative number");
      return v;
    };
    s.timeout = number("HYBRID_DIST_TIMEOUT", s.timeout);
    s.bucket_bytes = static_cast<int64_t>(number("HYBRID_DIST_BUCKET_BYTES", static_cast<double>(s.bucket_bytes)));
    s.check_parameters = number("HYBRID_DIST_CHECK", 0) != 0;
    s.overlap_backward = number("HYBRID_DIST_OVERLAP", 0) != 0;
    return s;
  }
};

namespace detail {

struct Runtime {
  MPI_Comm comm = MPI_COMM_NULL;  // a duplicate of MPI_COMM_WORLD, so user messages never match ours
  // Another duplicate for the questions of a rank whose wait timed out
  // ("which collective are you waiting in?"), apart from the collectives.
  MPI_Comm side = MPI_COMM_NULL;
  int rank = 0, size = 1;
  Settings settings;
  uint64_t sequence = 0;       // collectives waited for so far; the same count on every rank in step
  const char* waiting_in = "";  // the collective being waited for
};

inline Runtime*& runtime_slot() {
  static Runtime* runtime = nullptr;
  return runtime;
}

/// The live runtime; Error when no dist::Context lives.
inline Runtime& runtime(const char* who) {
  Runtime* r = runtime_slot();
  if (!r) throw Error(std::string("hybrid::dist::") + who + ": no live dist::Context (construct one in main first)");
  return *r;
}

inline std::string rank_prefix() {
  const Runtime* r = runtime_slot();
  return r ? "rank " + std::to_string(r->rank) + " of " + std::to_string(r->size) + ": " : std::string();
}

/// An MPI return code other than MPI_SUCCESS becomes an Error naming the call.
inline void check(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw Error("hybrid::dist: " + rank_prefix() + call + " failed: " + std::string(text, static_cast<size_t>(length)));
}

/// Prints `message` prefixed with this rank and ends every process of the job.
[[noreturn]] inline void abort_job(const std::string& message) {
  std::fprintf(stderr, "hybrid::dist: %s%s; aborting all processes\n", rank_prefix().c_str(), message.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::abort();  // MPI_Abort does not return; this keeps [[noreturn]] honest
}

// The side channel's messages: a question (this rank's sequence number) and
// its answer ("<sequence> <collective>").
constexpr int kQuestionTag = 1, kAnswerTag = 2;
constexpr int kAnswerBytes = 128;

/// Answers the questions of ranks whose wait timed out: this rank's
/// collective count and the collective it waits in. Called while waiting.
inline void answer_questions(Runtime& r) {
  for (;;) {
    int pending = 0;
    MPI_Status status;
    if (MPI_Iprobe(MPI_ANY_SOURCE, kQuestionTag, r.side, &pending, &status) != MPI_SUCCESS || !pending) return;
    uint64_t their_sequence = 0;
    MPI_Recv(&their_sequence, 1, MPI_UINT64_T, status.MPI_SOURCE, kQuestionTag, r.side, MPI_STATUS_IGNORE);
    char answer[kAnswerBytes] = {};
    std::snprintf(answer, sizeof answer, "%llu %s", static_cast<unsigned long long>(r.sequence), r.waiting_in);
    // Small enough to go out eagerly; the asking rank posts its receive right away.
    MPI_Send(answer, kAnswerBytes, MPI_CHAR, status.MPI_SOURCE, kAnswerTag, r.side);
  }
}

/// After a timeout: asks every other rank which collective it waits in and
/// says which did not arrive. Ranks inside a hybrid::dist wait answer
/// within the grace period; one that is stuck, dead or busy outside
/// hybrid::dist does not, and is named as missing.
inline std::string who_is_missing(Runtime& r) {
  using clock = std::chrono::steady_clock;
  std::vector<MPI_Request> questions;
  for (int other = 0; other < r.size; ++other) {
    if (other == r.rank) continue;
    questions.emplace_back();
    if (MPI_Isend(&r.sequence, 1, MPI_UINT64_T, other, kQuestionTag, r.side, &questions.back()) != MPI_SUCCESS)
      return "";
  }
  std::vector<std::string> answers(static_cast<size_t>(r.size));
  int answered = 0;
  const double grace = std::min(2.0, std::max(0.2, r.settings.timeout / 4));
  const auto until = clock::now() + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(grace));
  while (answered < r.size - 1 && clock::now() < until) {
    answer_questions(r);  // the others may be asking at the same time
    int pending = 0;
    MPI_Status status;
    if (MPI_Iprobe(MPI_ANY_SOURCE, kAnswerTag, r.side, &pending, &status) != MPI_SUCCESS) break;
    if (!pending) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      continue;
    }
    char answer[kAnswerBytes + 1] = {};
    MPI_Recv(answer, kAnswerBytes, MPI_CHAR, status.MPI_SOURCE, kAnswerTag, r.side, MPI_STATUS_IGNORE);
    std::string& slot = answers[static_cast<size_t>(status.MPI_SOURCE)];
    if (slot.empty()) ++answered;
    slot = answer;
  }
  const std::string here = std::to_string(r.sequence) + " " + r.waiting_in;
  std::string missing, elsewhere;
  for (int other = 0; other < r.size; ++other) {
    if (other == r.rank) continue;
    const std::string& a = answers[static_cast<size_t>(other)];
    if (a.empty()) {
      missing += (missing.empty() ? "" : ", ") + std::to_string(other);
    } else if (a != here) {
      const size_t space = a.find(' ');
      elsewhere += "; rank " + std::to_string(other) + " waits in " + a.substr(space + 1) + " (its collective #" +
                   a.substr(0, space) + ", this is #" + std::to_string(r.sequence) + ")";
    }
  }
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%g", grace);
  std::string report;
  if (!missing.empty())
    report = "; rank(s) " + missing + " did not arrive (no answer within " + seconds +
             " s: stopped, or busy outside hybrid::dist)";
  if (!elsewhere.empty()) report += elsewhere + " (the processes took different paths)";
  if (report.empty()) report = "; every rank answered from this collective";
  return report;
}

/// Waits for `request`, polling so that a deadline can end the wait: first
/// spinning (the common, quick case; MPI progresses only inside its calls),
/// yielding every 256 polls, then after 20 ms sleeping 100 µs between polls
/// so a long wait leaves the core to others. Every 256 polls it also answers
/// the side channel's questions. On timeout it asks the others which
/// collective they wait in, prints the ranks that did not arrive and aborts
/// the job.
inline void wait(MPI_Request& request, const char* what) {
  Runtime& r = runtime(what);
  ++r.sequence;
  r.waiting_in = what;
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  const auto deadline = start + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(r.settings.timeout));
  for (int polls = 0;; ++polls) {
    int done = 0;
    check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
    if (done) return;
    if ((polls & 255) != 255) continue;
    answer_questions(r);
    const auto now = clock::now();
    if (now > deadline)
      abort_job(std::string(what) + " waited " + std::to_string(static_cast<long long>(r.settings.timeout)) +
                " s for the other processes (HYBRID_DIST_TIMEOUT)" + who_is_missing(r));
    if (now - start > std::chrono::milliseconds(20))
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    else
      std::this_thread::yield();  // a process sharing this core (oversubscribed) gets to run
  }
}

template <class T>
MPI_Datatype mpi_type();
template <>
inline MPI_Datatype mpi_type<float>() { return MPI_FLOAT; }
template <>
inline MPI_Datatype mpi_type<double>() { return MPI_DOUBLE; }

/// The most elements one MPI call takes (its counts are int).
constexpr int64_t kMaxCount = int64_t{1} << 30;

}  // namespace detail

/// This process's rank in [0, size()); Error without a live dist::Context.
inline int rank() { return detail::runtime("rank").rank; }
/// The number of processes; Error without a live dist::Context.
inline int size() { return detail::runtime("size").size; }

}  // namespace hybrid::dist
