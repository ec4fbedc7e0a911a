#pragma once
// MedianCollector: a console reporter that also keeps each benchmark's
// median (or its only run), for the closing table of ratios; and the main
// of every benchmark binary (run_benchmarks).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <hybrid/core/thread_pool.hpp>
#include <map>
#include <string>
#include <vector>

class MedianCollector : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
      if (r.run_type == Run::RT_Iteration && r.repetitions > 1) continue;
      medians[r.run_name.str()] = r.GetAdjustedRealTime();
    }
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, double> medians;  // in each benchmark's unit
};

/// Runs the benchmarks the command line selects, then `report` over their
/// medians. Every baseline runs on one core, so hybrid does too unless
/// HYBRID_NUM_THREADS asks otherwise (a benchmark may set its own count).
inline int run_benchmarks(int argc, char** argv, void (*report)(const std::map<std::string, double>&)) {
  if (!std::getenv("HYBRID_NUM_THREADS")) hybrid::set_num_threads(1);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  MedianCollector reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  report(reporter.medians);
  benchmark::Shutdown();
  return 0;
}
