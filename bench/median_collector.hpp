#pragma once
// MedianCollector: a console reporter that also keeps each benchmark's
// median (or its only run), for the closing table of ratios.
#include <benchmark/benchmark.h>

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
