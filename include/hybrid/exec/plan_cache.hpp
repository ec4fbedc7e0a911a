#pragma once
// PlanCache: compiled plans keyed by input signature (the input shapes; the
// dtype is the block's element type). Bounded: past kMaxPlans signatures the
// oldest plan is dropped (a model fed ever-new shapes does not grow without
// limit). Lookups are cheap and thread-safe; compiling is serialised so a
// signature is traced once even when many threads call at once.
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "executable.hpp"

namespace hybrid::exec {

template <class T, class Compiled>
class PlanCache {
 public:
  static constexpr size_t kMaxPlans = 16;

  /// The plan for `signature`, compiling it with `compile()` on a miss.
  template <class Compile>
  std::shared_ptr<const Compiled> get(const std::vector<Shape>& signature, Compile&& compile) {
    if (auto hit = find(signature)) return hit;
    std::lock_guard<std::mutex> compiling(compile_mutex_);
    if (auto hit = find(signature)) return hit;  // another thread compiled it meanwhile
    std::shared_ptr<const Compiled> plan = compile();
    std::lock_guard<std::mutex> lock(mutex_);
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

  void clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    plans_.clear();
    last_.reset();
  }

 private:
  std::shared_ptr<const Compiled> find(const std::vector<Shape>& signature) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& entry : plans_)
      if (entry.first == signature) {
        last_ = entry.second;
        return entry.second;
      }
    return nullptr;
  }

  mutable std::mutex mutex_;
  std::mutex compile_mutex_;
  std::deque<std::pair<std::vector<Shape>, std::shared_ptr<const Compiled>>> plans_;
  std::shared_ptr<const Compiled> last_;
};

}  // namespace hybrid::exec
