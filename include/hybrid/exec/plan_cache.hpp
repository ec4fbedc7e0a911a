#pragma once
// PlanCache: compiled plans keyed by input signature (the input shapes; the
// dtype is the block's element type) and mode (training or prediction, and
// for a recorded call which inputs need gradients: a block whose forward
// branches on the mode gets one plan per branch). Bounded: past kMaxPlans signatures the
// oldest plan is dropped (a model fed ever-new shapes does not grow without
// limit). Lookups are cheap and thread-safe; compiling is serialised so a
// signature is traced once even when many threads call at once. clear()
// starts a new generation: a plan whose compile began before it (perhaps
// with settings that have changed since) serves its own call but is not kept.
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "executable.hpp"

namespace hybrid::exec {

struct PlanKey {
  std::vector<Shape> shapes;
  uint64_t mode = 0;
  bool operator==(const PlanKey& o) const { return mode == o.mode && shapes == o.shapes; }
};

template <class T, class Compiled>
class PlanCache {
 public:
  static constexpr size_t kMaxPlans = 16;

  /// The plan for `signature`, compiling it with `compile()` on a miss.
  template <class Compile>
  std::shared_ptr<const Compiled> get(const PlanKey& signature, Compile&& compile) {
    if (auto hit = find(signature)) return hit;
    std::lock_guard<std::mutex> compiling(compile_mutex_);
    uint64_t generation = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (auto hit = find_locked(signature)) return hit;  // another thread compiled it meanwhile
      generation = generation_;
    }
    std::shared_ptr<const Compiled> plan = compile();
    std::lock_guard<std::mutex> lock(mutex_);
    if (generation != generation_) return plan;  // cleared while compiling
    if (plans_.size() == kMaxPlans) plans_.pop_front();
    plans_.emplace_back(signature, plan);
    last_ = plan;
    return plan;
  }

  /// The plan that ran last, or null.
  std::shared_ptr<const Compiled> last() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return last_;
  }

  size_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return plans_.size();
  }

  /// Drops every plan and starts a new generation.
  void clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    plans_.clear();
    last_.reset();
    ++generation_;
  }

 private:
  std::shared_ptr<const Compiled> find(const PlanKey& signature) {
    std::lock_guard<std::mutex> lock(mutex_);
    return find_locked(signature);
  }

  std::shared_ptr<const Compiled> find_locked(const PlanKey& signature) {
    for (const auto& entry : plans_)
      if (entry.first == signature) {
        last_ = entry.second;
        return entry.second;
      }
    return nullptr;
  }

  mutable std::mutex mutex_;
  std::mutex compile_mutex_;
  std::deque<std::pair<PlanKey, std::shared_ptr<const Compiled>>> plans_;
  std::shared_ptr<const Compiled> last_;
  uint64_t generation_ = 0;  // advanced by clear()
};

}  // namespace hybrid::exec
