#pragma once
// The process-wide thread pool the kernels split their work over, and the
// thread-count setting: set_num_threads / get_num_threads, defaulting to
// HYBRID_NUM_THREADS or to the cores this process may use.
//
// Results never depend on the thread count: parallel_for cuts a range into a
// partition fixed by the range and the grain alone, each chunk does the same
// arithmetic whichever thread runs it, and kernels never split a sum across
// chunks (or add chunk partial sums in chunk order). The thread count only
// decides how many threads pick chunks.
//
// No oversubscription, no deadlock: one parallel region runs on the pool at a
// time; a caller that finds the pool busy, and any parallel_for issued from
// inside a chunk (nested), runs its chunks inline, in order, on its own thread.
#if defined(__linux__)
#include <sched.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "errors.hpp"

namespace hybrid {

namespace threads {

/// Upper bound on chunks per parallel region: enough to balance any sensible
/// thread count, few enough that the per-chunk overhead stays negligible.
inline constexpr int64_t kMaxChunks = 64;

/// The number of chunks parallel_for cuts [0, n) into: at least `grain` items
/// each, at most kMaxChunks. A function of n and grain only.
inline int64_t chunk_count(int64_t n, int64_t grain) {
  if (n <= 0) return 0;
  return std::clamp<int64_t>(n / std::max<int64_t>(grain, 1), 1, kMaxChunks);
}

/// Bounds [lo, hi) of chunk `c` of `chunks` over [begin, end): near-equal sizes.
inline void chunk_bounds(int64_t begin, int64_t end, int64_t chunks, int64_t c, int64_t& lo, int64_t& hi) {
  const int64_t n = end - begin;
  lo = begin + n * c / chunks;
  hi = begin + n * (c + 1) / chunks;
}

/// A value of HYBRID_NUM_THREADS: a whole number in [1, 4096], else 0 (ignored).
inline int parse_num_threads(const char* text) {
  if (!text || !*text) return 0;
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (*end != '\0' || v < 1 || v > 4096) return 0;
  return static_cast<int>(v);
}

/// CPUs allowed by a cgroup v2 cpu.max quota on this process's cgroup or its
/// ancestors (the tightest one), or 0 when there is none.
inline int cgroup_cpu_limit() {
  std::ifstream self("/proc/self/cgroup");
  std::string line, path;
  while (std::getline(self, line))
    if (line.rfind("0::", 0) == 0) path = line.substr(3);
  if (path.empty()) return 0;
  int limit = 0;
  for (;;) {
    std::ifstream max_file("/sys/fs/cgroup" + (path == "/" ? std::string() : path) + "/cpu.max");
    std::string quota;
    long long period = 0;
    if (max_file >> quota >> period && quota != "max" && period > 0) {
      const long long q = std::atoll(quota.c_str());
      const int cpus = static_cast<int>(std::max<long long>(1, (q + period - 1) / period));
      if (q > 0 && (limit == 0 || cpus < limit)) limit = cpus;
    }
    if (path == "/" || path.empty()) break;
    const size_t slash = path.rfind('/');
    path = slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
  }
  return limit;
}

/// The cores this process may use: its affinity mask, capped by a cgroup quota.
inline int available_cores() {
  int cores = 0;
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) cores = CPU_COUNT(&set);
#endif
  if (cores <= 0) cores = static_cast<int>(std::thread::hardware_concurrency());
  if (const int quota = cgroup_cpu_limit(); quota > 0) cores = std::min(cores, quota);
  return std::max(cores, 1);
}

/// HYBRID_NUM_THREADS when it is valid, else available_cores(). Read once.
inline int default_num_threads() {
  static const int n = [] {
    const int from_env = parse_num_threads(std::getenv("HYBRID_NUM_THREADS"));
    return from_env > 0 ? from_env : available_cores();
  }();
  return n;
}

inline std::atomic<int>& num_threads_setting() {
  static std::atomic<int> n{default_num_threads()};
  return n;
}

/// True on pool workers and on a caller while it runs chunks: a parallel_for
/// issued there runs inline.
inline thread_local bool t_in_parallel_region = false;
/// True on the pool's worker threads only.
inline thread_local bool t_is_worker = false;

/// True when the calling thread is one of the pool's workers. Kernels whose
/// chunks need working memory take it from worker_scratch there and from the
/// run's own scratch on every other thread.
inline bool on_worker() { return t_is_worker; }

/// Working memory of the calling worker thread, at least `n` elements, kept
/// for the thread's life (it grows, never shrinks), so steady-state runs
/// allocate nothing.
template <class T>
T* worker_scratch(int64_t n) {
  thread_local std::vector<T> buffer;
  if (static_cast<int64_t>(buffer.size()) < n) buffer.resize(static_cast<size_t>(n));
  return buffer.data();
}

/// How long a worker that ran out of work, and a caller waiting for its
/// workers, poll before they sleep. A forward pass opens one parallel region
/// per layer a few microseconds apart; waking a sleeping thread takes tens
/// of microseconds (more on a virtual machine, whose idle vCPU is halted),
/// which measured 30 % of a 2-thread MLP pass at batch 256. Polling between
/// yields leaves the core to any other runnable thread.
inline constexpr std::chrono::microseconds kSpinBeforeSleep{200};

/// Polls `ready` until it returns true or kSpinBeforeSleep has passed;
/// returns its last answer.
template <class Ready>
bool spin_until(Ready&& ready) {
  const auto deadline = std::chrono::steady_clock::now() + kSpinBeforeSleep;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (ready()) return true;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    if (std::chrono::steady_clock::now() >= deadline) return ready();
    std::this_thread::yield();
  }
}

/// A fixed set of worker threads, created on demand, that run the chunks of
/// one parallel region at a time alongside the caller. Workers poll for the
/// next region briefly before they sleep (spin_until).
class ThreadPool {
 public:
  static ThreadPool& instance() {
    static ThreadPool pool;
    return pool;
  }

  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
  }

  /// Runs fn(c) for every chunk c in [0, chunks) and returns when all are
  /// done; the first exception a chunk throws is rethrown here.
  template <class Fn>
  void run(int64_t chunks, Fn& fn) {
    const int threads = std::min<int64_t>(num_threads_setting().load(std::memory_order_relaxed), chunks);
    std::unique_lock<std::mutex> region(region_mutex_, std::defer_lock);
    if (threads <= 1 || t_in_parallel_region || !region.try_lock()) {
      run_inline(chunks, fn);
      return;
    }
    Job job;
    job.context = const_cast<void*>(static_cast<const void*>(&fn));
    job.call = [](void* f, int64_t c) { (*static_cast<Fn*>(f))(c); };
    job.chunks = chunks;
    job.helpers = threads - 1;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      while (static_cast<int>(workers_.size()) < job.helpers) {
        const int index = static_cast<int>(workers_.size());
        workers_.emplace_back([this, index] { worker_loop(index); });
      }
      job_ = &job;
      ++generation_;
      posted_.store(generation_, std::memory_order_release);
    }
    wake_.notify_all();
    {
      RegionFlag flag;
      work_on(job);
    }
    {
      // Close the job to late workers, then wait for those still inside it:
      // it lives on this stack frame. A worker touches the job no more once
      // its decrement of `active` is seen.
      std::unique_lock<std::mutex> lock(mutex_);
      job_ = nullptr;
      if (job.active.load(std::memory_order_acquire) != 0) {
        lock.unlock();
        spin_until([&] { return job.active.load(std::memory_order_acquire) == 0; });
        lock.lock();
        done_.wait(lock, [&] { return job.active.load(std::memory_order_acquire) == 0; });
      }
    }
    if (job.error) std::rethrow_exception(job.error);
  }

 private:
  struct Job {
    void* context = nullptr;
    void (*call)(void*, int64_t) = nullptr;
    int64_t chunks = 0;
    int helpers = 0;                   // workers allowed to join
    std::atomic<int64_t> next{0};      // the next chunk to claim
    std::atomic<bool> failed{false};
    std::atomic<int> active{0};        // workers inside the job (changed under mutex_)
    std::mutex error_mutex;
    std::exception_ptr error;
  };

  struct RegionFlag {
    bool saved = t_in_parallel_region;
    RegionFlag() { t_in_parallel_region = true; }
    ~RegionFlag() { t_in_parallel_region = saved; }
  };

  template <class Fn>
  static void run_inline(int64_t chunks, Fn& fn) {
    RegionFlag flag;
    for (int64_t c = 0; c < chunks; ++c) fn(c);
  }

  static void work_on(Job& job) {
    for (;;) {
      if (job.failed.load(std::memory_order_relaxed)) return;
      const int64_t c = job.next.fetch_add(1, std::memory_order_relaxed);
      if (c >= job.chunks) return;
      try {
        job.call(job.context, c);
      } catch (...) {
        std::lock_guard<std::mutex> lock(job.error_mutex);
        if (!job.error) job.error = std::current_exception();
        job.failed = true;
      }
    }
  }

  void worker_loop(int index) {
    t_is_worker = true;
    t_in_parallel_region = true;
    uint64_t seen = 0;
    for (;;) {
      // The next region usually comes within microseconds: poll, then sleep.
      spin_until([&] { return posted_.load(std::memory_order_acquire) != seen || stopping_.load(); });
      std::unique_lock<std::mutex> lock(mutex_);
      if (!stop_ && generation_ != seen && !job_) {
        seen = generation_;  // a region that ended before this worker came: poll for the next
        continue;
      }
      wake_.wait(lock, [&] { return stop_ || (generation_ != seen && job_); });
      if (stop_) return;
      seen = generation_;
      Job* job = job_;
      if (index >= job->helpers) continue;
      job->active.fetch_add(1, std::memory_order_relaxed);
      lock.unlock();
      work_on(*job);
      lock.lock();
      if (job->active.fetch_sub(1, std::memory_order_acq_rel) == 1) done_.notify_all();
    }
  }

  ThreadPool() = default;

  std::mutex region_mutex_;  // held by the one caller whose region the pool runs
  std::mutex mutex_;         // guards job_, generation_, stop_, workers_, Job::active
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  Job* job_ = nullptr;
  uint64_t generation_ = 0;
  bool stop_ = false;
  // Lock-free copies of generation_ and stop_ for the workers' polling.
  std::atomic<uint64_t> posted_{0};
  std::atomic<bool> stopping_{false};
};

}  // namespace threads

/// Sets how many threads (the caller included) kernels use; n >= 1. Results
/// do not depend on it.
inline void set_num_threads(int n) {
  if (n < 1) throw Error("set_num_threads: the thread count must be at least 1, got " + std::to_string(n));
  threads::num_threads_setting().store(n);
}

/// The thread count kernels use: set_num_threads's value, else
/// HYBRID_NUM_THREADS, else the cores this process may use.
inline int get_num_threads() { return threads::num_threads_setting().load(); }

/// Calls fn(lo, hi) over a partition of [begin, end) into chunks of at least
/// `grain` items (threads::chunk_count), fixed by the range and the grain
/// alone; chunks run on the pool's workers and the calling thread, and this
/// returns when all are done. A range that makes one chunk, a nested call,
/// and a call while the pool serves another thread run inline. Exceptions
/// thrown by fn reach the caller.
template <class Fn>
void parallel_for(int64_t begin, int64_t end, int64_t grain, Fn&& fn) {
  const int64_t chunks = threads::chunk_count(end - begin, grain);
  if (chunks == 0) return;
  if (chunks == 1) {
    fn(begin, end);
    return;
  }
  auto run_chunk = [&](int64_t c) {
    int64_t lo, hi;
    threads::chunk_bounds(begin, end, chunks, c, lo, hi);
    fn(lo, hi);
  };
  threads::ThreadPool::instance().run(chunks, run_chunk);
}

/// Calls fn(c) for each chunk c in [0, chunks), in parallel as parallel_for
/// does: for kernels that fix their own partition (and index per-chunk
/// buffers by it).
template <class Fn>
void parallel_chunks(int64_t chunks, Fn&& fn) {
  if (chunks <= 0) return;
  if (chunks == 1) {
    fn(int64_t{0});
    return;
  }
  threads::ThreadPool::instance().run(chunks, fn);
}

}  // namespace hybrid
