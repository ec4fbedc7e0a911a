#pragma once
// Benchmark: the chapter's timer. Prints "<description>: 0.0123 sec" when the
// scope ends.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

namespace hybrid {

class Benchmark {
 public:
  explicit Benchmark(std::string description = "Done", std::ostream& os = std::cout)
      : description_(std::move(description)), os_(os), start_(std::chrono::steady_clock::now()) {}
  ~Benchmark() {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4f", elapsed());
    os_ << description_ << ": " << buf << " sec" << std::endl;
  }
  Benchmark(const Benchmark&) = delete;
  Benchmark& operator=(const Benchmark&) = delete;

  /// Seconds since construction.
  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::string description_;
  std::ostream& os_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace hybrid
