#pragma once
// Shared main() for PlatypOS benchmark programs: Google Benchmark plus side-by-side ratios.
//
//   PLATYPOS_BENCH_RATIO("buddy order-0 vs malloc 4 KiB", "BM_BuddyOrder0AllocFree", "BM_MallocFree/4096");
//
// After the run, every registered ratio whose two benchmarks ran is printed (numerator time / denominator time),
// and with --platypos_summary=FILE a Markdown table of all results and ratios is written there.

#include <string>
#include <vector>

namespace platypos::bench {

struct Ratio {
  std::string label;
  std::string numerator;
  std::string denominator;
  std::string counter;  // empty: time per iteration; else this counter of both benchmarks
};

std::vector<Ratio>& ratios();

struct RatioRegistrar {
  RatioRegistrar(const char* label, const char* num, const char* den, const char* counter = "") {
    ratios().push_back({label, num, den, counter});
  }
};

}  // namespace platypos::bench

#define PLATYPOS_BENCH_CONCAT2(a, b) a##b
#define PLATYPOS_BENCH_CONCAT(a, b) PLATYPOS_BENCH_CONCAT2(a, b)
#define PLATYPOS_BENCH_RATIO(label, num, den) \
  static ::platypos::bench::RatioRegistrar PLATYPOS_BENCH_CONCAT(platypos_ratio_, __LINE__)(label, num, den)
// The same, comparing a counter (e.g. time_per_switch) of the two benchmarks.
#define PLATYPOS_BENCH_COUNTER_RATIO(label, num, den, counter) \
  static ::platypos::bench::RatioRegistrar PLATYPOS_BENCH_CONCAT(platypos_ratio_, __LINE__)(label, num, den, counter)
