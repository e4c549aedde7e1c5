#include "bench_main.hpp"

#include <benchmark/benchmark.h>

#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

namespace platypos::bench {

std::vector<Ratio>& ratios() {
  static std::vector<Ratio> r;
  return r;
}

namespace {
std::string& results_dir_storage() {
  static std::string d;
  return d;
}
}  // namespace

const std::string& results_dir() { return results_dir_storage(); }

std::string cdf_file_name(const std::string& benchmark_name) {
  std::string s = benchmark_name;
  for (char& c : s) {
    if (c == '/' || c == ':') c = '_';
  }
  return s + ".cdf";
}

namespace {
// The histogram of the benchmark that ran last; the reporter writes it out under that benchmark's name.
LatencyHistogram& pending_latency() {
  static LatencyHistogram h;
  return h;
}
bool& latency_pending() {
  static bool p = false;
  return p;
}

void write_cdf(const std::string& name, const LatencyHistogram& h) {
  const std::string dir = results_dir() + "/latency";
  std::filesystem::create_directories(dir);
  std::ofstream out(dir + "/" + cdf_file_name(name));
  out << "# " << name << ": latency_us fraction_at_or_below (" << h.count() << " requests)\n";
  u64 seen = 0;
  for (u32 i = 0; i < LatencyHistogram::kBuckets; ++i) {
    const u64 c = h.bucket_count(i);
    if (c == 0) continue;
    seen += c;
    const u64 hi = LatencyHistogram::upper_bound_of(i);
    char line[64];
    std::snprintf(line, sizeof line, "%.3f %.9f\n", static_cast<double>(hi < h.max() ? hi : h.max()) / 1e3,
                  static_cast<double>(seen) / static_cast<double>(h.count()));
    out << line;
  }
}
}  // namespace

void report_latency(benchmark::State& state, const LatencyHistogram& h, double seconds) {
  const auto us = [&](u32 ppm) { return static_cast<double>(h.value_at_ppm(ppm)) / 1e3; };
  state.counters["requests"] = static_cast<double>(h.count());
  state.counters["req_per_s"] = seconds > 0 ? static_cast<double>(h.count()) / seconds : 0;
  state.counters["p50_us"] = us(500'000);
  state.counters["p90_us"] = us(900'000);
  state.counters["p99_us"] = us(990'000);
  state.counters["p999_us"] = us(999'000);
  state.counters["max_us"] = static_cast<double>(h.max()) / 1e3;
  state.counters["p999_over_p50"] = us(500'000) > 0 ? us(999'000) / us(500'000) : 0;
  pending_latency() = h;
  latency_pending() = h.count() != 0;
}

namespace {

// Progress of a long run: every console line carries "(k/N)" (the benchmark's place in the run), and when no result
// has come for a while (a long benchmark, or repetitions interleaved at random, which report only at the end) a line
// on stderr says what is running and for how long. It sleeps in between: it costs the benchmarks nothing.
class Progress {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr auto kQuiet = std::chrono::seconds(20);

  Progress(std::vector<std::string> names, int repetitions, bool interleaved)
      : names_(std::move(names)), repetitions_(repetitions), interleaved_(interleaved) {
    if (names_.empty()) return;
    ticker_ = std::thread([this] { run(); });
  }
  ~Progress() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_one();
    if (ticker_.joinable()) ticker_.join();
  }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Runs of benchmark `name` reported (its repetitions and its aggregates come in separate reports): returns its
  // "(k/N) " prefix, k counting benchmarks in the order they report ("" when the plan is unknown).
  std::string reported(const std::string& name) {
    std::lock_guard lock(mutex_);
    last_ = Clock::now();
    auto [it, added] = place_.emplace(name, place_.size() + 1);
    if (added) done_ = place_.size();
    if (names_.empty()) return {};
    return label(it->second);
  }
  // Blank space as wide as a prefix, for the header lines.
  std::string blank() const { return names_.empty() ? std::string() : std::string(label(1).size(), ' '); }

 private:
  std::string label(usize k) const {
    const int width = static_cast<int>(std::to_string(names_.size()).size());
    char buf[48];
    std::snprintf(buf, sizeof buf, "(%*zu/%zu) ", width, k, names_.size());
    return buf;
  }
  void run() {
    std::unique_lock lock(mutex_);
    while (!stop_) {
      cv_.wait_until(lock, last_ + kQuiet);
      if (stop_) break;
      const auto now = Clock::now();
      if (now - last_ < kQuiet) continue;
      const auto quiet = std::chrono::duration_cast<std::chrono::seconds>(now - last_).count();
      const auto total = std::chrono::duration_cast<std::chrono::seconds>(now - start_).count();
      if (interleaved_) {
        std::fprintf(stderr,
                     "  ... running %zu benchmarks x %d repetitions, interleaved at random (each reports when its "
                     "last repetition is done): %zu of %zu reported, %lld s so far\n",
                     names_.size(), repetitions_, done_, names_.size(), static_cast<long long>(total));
      } else if (done_ < names_.size()) {
        std::fprintf(stderr, "  ... %s%s: running for %lld s (%lld s since the run started)\n",
                     label(done_ + 1).c_str(), names_[done_].c_str(), static_cast<long long>(quiet),
                     static_cast<long long>(total));
      }
      std::fflush(stderr);
      last_ = now;
    }
  }

  std::vector<std::string> names_;
  int repetitions_;
  bool interleaved_;
  usize done_ = 0;
  std::map<std::string, usize> place_;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_ = start_;
  bool stop_ = false;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::thread ticker_;
};

// A console line at a time: what the base class prints for one row (or header) is captured, then written with a
// prefix on each line.
class PrefixedStream {
 public:
  explicit PrefixedStream(benchmark::BenchmarkReporter& r) : reporter_(r), saved_(&r.GetOutputStream()) {
    reporter_.SetOutputStream(&buffer_);
  }
  ~PrefixedStream() { reporter_.SetOutputStream(saved_); }
  PrefixedStream(const PrefixedStream&) = delete;
  PrefixedStream& operator=(const PrefixedStream&) = delete;
  void flush(const std::string& prefix) {
    std::string line;
    std::istringstream in(buffer_.str());
    while (std::getline(in, line)) *saved_ << prefix << line << '\n';
    buffer_.str({});
  }

 private:
  benchmark::BenchmarkReporter& reporter_;
  std::ostream* saved_;
  std::ostringstream buffer_;
};

// Prints to the console as usual (with the progress prefix) and remembers each benchmark's time per iteration (ns)
// and counters.
class CollectingReporter : public benchmark::ConsoleReporter {
 public:
  explicit CollectingReporter(Progress* progress)
      : ConsoleReporter(isatty(STDOUT_FILENO) ? OO_Defaults : OO_Tabular), progress_(progress) {}
  struct Row {
    double ns;
    std::map<std::string, double> counters;
  };
  void ReportRuns(const std::vector<Run>& runs) override {
    if (progress_ != nullptr && !runs.empty()) prefix_ = progress_->reported(runs.front().run_name.str());
    ConsoleReporter::ReportRuns(runs);
    if (latency_pending()) {
      latency_pending() = false;
      for (const Run& r : runs) {
        if (r.run_type != Run::RT_Aggregate && !results_dir().empty()) {
          write_cdf(r.benchmark_name(), pending_latency());
          break;
        }
      }
    }
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

 protected:
  void PrintHeader(const Run& run) override {
    PrefixedStream out(*this);
    ConsoleReporter::PrintHeader(run);
    out.flush(progress_ != nullptr ? progress_->blank() : std::string());
  }
  void PrintRunData(const Run& run) override {
    PrefixedStream out(*this);
    ConsoleReporter::PrintRunData(run);
    out.flush(prefix_);
  }

 private:
  Progress* progress_;
  std::string prefix_;
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

// The value of "key<sep>value" on the first line of `path` that starts with `key` (e.g. /proc/cpuinfo's "model name"),
// trimmed and unquoted; empty when there is none.
std::string read_field(const char* path, const std::string& key, char sep) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) != 0) continue;
    const auto at = line.find(sep, key.size());
    if (at == std::string::npos) continue;
    std::string v = line.substr(at + 1);
    const auto first = v.find_first_not_of(" \t\"");
    const auto last = v.find_last_not_of(" \t\"");
    return first == std::string::npos ? std::string() : v.substr(first, last - first + 1);
  }
  return {};
}

// One argument as a shell would need it.
std::string shell_quote(const std::string& a) {
  if (!a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:=,+-@%") ==
                        std::string::npos) {
    return a;
  }
  std::string q = "'";
  for (char c : a) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

#ifndef PLATYPOS_BENCH_CXX_FLAGS
#define PLATYPOS_BENCH_CXX_FLAGS ""
#endif

// The machine and the build, in the JSON output's "context" (tools/bench_report puts them under the README's
// tables): the exact command, CPU model, memory, kernel, OS, compiler and flags.
void add_run_context(int argc, char** argv) {
  std::string command;
  for (int i = 0; i < argc; ++i) command += (i != 0 ? " " : "") + shell_quote(argv[i]);
  benchmark::AddCustomContext("platypos_command", command);
  benchmark::AddCustomContext("platypos_cpu_model", read_field("/proc/cpuinfo", "model name", ':'));
  const std::string flags = read_field("/proc/cpuinfo", "flags", ':');
  benchmark::AddCustomContext("platypos_virtualized",
                              (" " + flags + " ").find(" hypervisor ") != std::string::npos ? "yes" : "no");
  const std::string mem_kib = read_field("/proc/meminfo", "MemTotal", ':');
  benchmark::AddCustomContext("platypos_memory_bytes",
                              std::to_string(std::strtoull(mem_kib.c_str(), nullptr, 10) * 1024));
  utsname u{};
  if (uname(&u) == 0) benchmark::AddCustomContext("platypos_kernel", std::string(u.sysname) + " " + u.release);
  benchmark::AddCustomContext("platypos_os", read_field("/etc/os-release", "PRETTY_NAME", '='));
#if defined(__clang__)
  const std::string compiler = "clang " __clang_version__;
#elif defined(__GNUC__)
  const std::string compiler = "g++ " __VERSION__;
#else
  const std::string compiler = "unknown compiler";
#endif
  std::string cxx_flags = PLATYPOS_BENCH_CXX_FLAGS;
  while (!cxx_flags.empty() && cxx_flags.front() == ' ') cxx_flags.erase(0, 1);
  benchmark::AddCustomContext("platypos_compiler", cxx_flags.empty() ? compiler : compiler + " " + cxx_flags);
}

bool has_flag(const std::vector<char*>& args, const char* prefix) {
  for (char* a : args) {
    if (std::strncmp(a, prefix, std::strlen(prefix)) == 0) return true;
  }
  return false;
}

// The benchmarks the run will execute, in order: a dry pass with --benchmark_list_tests (nothing runs).
std::vector<std::string> planned_benchmarks(std::vector<char*> args) {
  static char list[] = "--benchmark_list_tests=true";
  args.push_back(list);
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  std::ostringstream out, err;
  benchmark::ConsoleReporter quiet;
  quiet.SetOutputStream(&out);
  quiet.SetErrorStream(&err);
  benchmark::RunSpecifiedBenchmarks(&quiet);
  std::vector<std::string> names;
  std::istringstream in(out.str());
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) names.push_back(line);
  }
  return names;
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
    } else if (std::strncmp(argv[i], "--platypos_results=", 19) == 0) {
      results_dir_storage() = argv[i] + 19;
    } else {
      args.push_back(argv[i]);
    }
  }
  // Unless only listing: learn the plan first (for the progress display), then run it.
  std::unique_ptr<Progress> progress;
  if (!has_flag(args, "--benchmark_list_tests") && !has_flag(args, "--help")) {
    int repetitions = 1;
    for (char* a : args) {
      if (std::strncmp(a, "--benchmark_repetitions=", 24) == 0) repetitions = std::atoi(a + 24);
    }
    const bool interleaved = repetitions > 1 && has_flag(args, "--benchmark_enable_random_interleaving=true");
    progress = std::make_unique<Progress>(planned_benchmarks(args), repetitions, interleaved);
    static char run[] = "--benchmark_list_tests=false";
    args.push_back(run);
  }
  add_run_context(argc, argv);
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 2;
  CollectingReporter reporter(progress.get());
  benchmark::RunSpecifiedBenchmarks(&reporter);
  progress.reset();
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
