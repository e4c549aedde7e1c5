#include "bench_main.hpp"

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

namespace platypos::bench {

std::vector<Ratio>& ratios() {
  static std::vector<Ratio> r;
  return r;
}

namespace {

// Prints to the console as usual and remembers each benchmark's time per iteration (ns) and counters.
class CollectingReporter : public benchmark::ConsoleReporter {
 public:
  struct Row {
    double ns;
    std::map<std::string, double> counters;
  };
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    // One row per benchmark: its only run, or with --benchmark_repetitions the median (which comes after the
    // repetitions and replaces them).
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      const bool median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
      if (r.run_type == Run::RT_Aggregate && !median) continue;
      const std::string name = median ? r.run_name.str() : r.benchmark_name();
      if (!median && medians_.count(name) != 0) continue;
      Row row;
      row.ns = r.GetAdjustedRealTime() * multiplier(r.time_unit);
      for (const auto& [k, c] : r.counters) row.counters[k] = c.value;
      if (rows_.count(name) == 0) order_.push_back(name);
      rows_[name] = row;
      if (median) medians_.insert(name);
    }
  }
  const std::map<std::string, Row>& rows() const { return rows_; }
  const std::vector<std::string>& order() const { return order_; }

 private:
  static double multiplier(benchmark::TimeUnit u) {
    switch (u) {
      case benchmark::kNanosecond: return 1;
      case benchmark::kMicrosecond: return 1e3;
      case benchmark::kMillisecond: return 1e6;
      case benchmark::kSecond: return 1e9;
    }
    return 1;
  }
  std::map<std::string, Row> rows_;
  std::vector<std::string> order_;
  std::set<std::string> medians_;
};

std::string human(double ns) {
  char buf[32];
  if (ns < 1e3) {
    std::snprintf(buf, sizeof buf, "%.1f ns", ns);
  } else if (ns < 1e6) {
    std::snprintf(buf, sizeof buf, "%.2f us", ns / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f ms", ns / 1e6);
  }
  return buf;
}

}  // namespace
}  // namespace platypos::bench

int main(int argc, char** argv) {
  using namespace platypos::bench;
  std::string summary;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--platypos_summary=", 19) == 0) {
      summary = argv[i] + 19;
    } else {
      args.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 2;
  CollectingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  const auto& rows = reporter.rows();
  std::string table = "| ratio | value |\n|---|---|\n";
  bool any = false;
  for (const Ratio& r : ratios()) {
    auto a = rows.find(r.numerator), b = rows.find(r.denominator);
    if (a == rows.end() || b == rows.end()) continue;
    double x = a->second.ns, y = b->second.ns;
    if (!r.counter.empty()) {
      auto ca = a->second.counters.find(r.counter), cb = b->second.counters.find(r.counter);
      if (ca == a->second.counters.end() || cb == b->second.counters.end()) continue;
      // Counters like time_per_switch are in seconds: show them in ns.
      x = ca->second * 1e9;
      y = cb->second * 1e9;
    }
    if (y <= 0) continue;
    if (!any) std::printf("\nSide by side (same run):\n");
    any = true;
    const double v = x / y;
    std::printf("  %-60s %8.3fx  (%s / %s)\n", r.label.c_str(), v, human(x).c_str(), human(y).c_str());
    char line[256];
    std::snprintf(line, sizeof line, "| %s | %.3fx (%s / %s) |\n", r.label.c_str(), v, human(x).c_str(),
                  human(y).c_str());
    table += line;
  }
  if (!summary.empty()) {
    std::ofstream out(summary);
    out << "| benchmark | time per iteration | counters |\n|---|---|---|\n";
    for (const std::string& name : reporter.order()) {
      const auto& row = rows.at(name);
      out << "| `" << name << "` | " << human(row.ns) << " | ";
      bool first = true;
      for (const auto& [k, v] : row.counters) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%s%s=%.4g", first ? "" : ", ", k.c_str(), v);
        out << buf;
        first = false;
      }
      out << " |\n";
    }
    if (any) out << "\n" << table;
  }
  return 0;
}
