#pragma once
// Shared main() for PlatypOS benchmark programs: Google Benchmark plus side-by-side ratios.
//
//   PLATYPOS_BENCH_RATIO("buddy order-0 vs malloc 4 KiB", "BM_BuddyOrder0AllocFree", "BM_MallocFree/4096");
//
// After the run, every registered ratio whose two benchmarks ran is printed (numerator time / denominator time),
// and with --platypos_summary=FILE a Markdown table of all results and ratios is written there. The JSON output
// (--benchmark_out) records the run in its "context": platypos_command (the exact command line), platypos_cpu_model,
// platypos_memory_bytes, platypos_kernel, platypos_os, platypos_virtualized, platypos_compiler (version and flags);
// tools/bench_report prints them under the README's tables. On the console each benchmark's line starts with its
// place in the run, "(k/N)", and a benchmark that runs for long is announced on stderr every 20 s.

#include <platypos/base/histogram.hpp>

#include <string>
#include <vector>

namespace benchmark {
class State;
}

namespace platypos::bench {

// Latency results. report_latency() sets the standard counters on `state` (all in microseconds except the rate):
//   requests, req_per_s (completed requests per second of the measured interval, `seconds`), p50_us, p90_us, p99_us,
//   p999_us, max_us, p999_over_p50
// and, with --platypos_results=DIR, writes the latency CDF to DIR/latency/<name>.cdf, where <name> is the
// benchmark's full name with '/' and ':' replaced by '_' (see cdf_file_name): a comment line, then one line per
// non-empty histogram bucket, "<bucket upper bound in us> <fraction of requests at or below it>", ascending.
void report_latency(benchmark::State& state, const LatencyHistogram& h, double seconds);
std::string cdf_file_name(const std::string& benchmark_name);
// The --platypos_results directory (empty when not given).
const std::string& results_dir();

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
