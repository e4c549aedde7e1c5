// The simulator at scale: the server scenario (sim/server_scenario.cpp) in sim mode with 16 and 64 virtual CPUs,
// dedicated against timeshare, at 30/50/70/90% of each server's capacity, always beside the CPU-hungry noisy
// neighbour. Latencies are in virtual time: exact and the same on every machine and every run (seed 1).
//
// Workload (the scenario's own, not tuned here): kernel cores = cpus / 4, so 16 CPUs give web 4, api 4 and the
// neighbour 4 app cores, 64 CPUs give 16 each. "web" serves Poisson arrivals with service times uniform in
// 18..22 us (mean 20 us), one worker per core, FIFO; "load" is arrival rate / (cores / mean service time).
//
// Counters (of the "web" server): bench::report_latency's requests, req_per_s, p50/p90/p99/p999/max_us and
// p999_over_p50, where req_per_s divides by the virtual time from the first arrival to the last completion (under
// an overloaded timeshare run the queue drains after the arrivals stop). Then:
//   ideal_p999_us           p99.9 of the same requests on an ideal FIFO queue with as many cores and zero
//                           scheduling cost: the queueing inherent in the workload
//   p999_over_ideal         p999_us / ideal_p999_us: what the scheduler adds at p99.9
//   p999_vs_load30          p999_us / p999_us of the load:30 run of the same policy and CPU count (when that ran
//                           earlier in this process), and ideal_p999_vs_load30 the same for the ideal queue: the
//                           flatness figures
//   events_per_s            simulator speed: scheduling events per second of host CPU time (Google Benchmark's rate;
//                           the simulator is one thread, so on an idle host that is wall-clock time)

#include <platypos/base/log.hpp>

#include <benchmark/benchmark.h>

#include <map>
#include <utility>

#include "bench_main.hpp"
#include "server_scenario.hpp"

namespace platypos {
namespace {

constexpr u64 kVirtualNs = 500'000'000;  // 30,000 web requests at 16 CPUs and 30% load; ~25 s for all 16 runs

double us(u64 ns) { return static_cast<double>(ns) / 1e3; }

// p99.9 of the load:30 run of each (policy, cpus), web and ideal, for the flatness counters.
std::map<std::pair<i64, i64>, std::pair<u64, u64>>& load30_p999() {
  static std::map<std::pair<i64, i64>, std::pair<u64, u64>> m;
  return m;
}

void BM_SimScale(benchmark::State& state) {
  const i64 timeshare = state.range(0);
  const i64 cpus = state.range(1);
  const i64 load = state.range(2);
  simtool::Options opt;
  opt.scenario = "server";
  opt.cpus = static_cast<u32>(cpus);
  opt.kernel_cores = static_cast<u32>(cpus / 4);
  opt.policy = timeshare != 0 ? sched::Policy::timeshare : sched::Policy::dedicated;
  opt.seed = 1;
  opt.load = static_cast<double>(load) / 100.0;
  opt.duration_ns = kVirtualNs;
  opt.duration_text = "500ms";
  set_log_level(LogLevel::warn);  // not the kernel's spawn/exit lines between the results
  simtool::ServerResult result;
  for (auto _ : state) result = simtool::run_server_scenario(opt, false);
  if (!result.ok) {
    state.SkipWithError("scenario failed (leak, stuck or requests lost)");
    return;
  }
  const simtool::ServerProcessResult& web = result.servers.at(0);
  bench::report_latency(state, web.latency, static_cast<double>(result.elapsed_ns) / 1e9);
  const u64 p999 = web.latency.value_at_ppm(999'000);
  const u64 ideal_p999 = web.ideal.value_at_ppm(999'000);
  state.counters["ideal_p999_us"] = us(ideal_p999);
  state.counters["p999_over_ideal"] = static_cast<double>(p999) / static_cast<double>(ideal_p999);
  const auto key = std::make_pair(timeshare, cpus);
  if (load == 30) {
    load30_p999()[key] = {p999, ideal_p999};
  } else if (auto it = load30_p999().find(key); it != load30_p999().end()) {
    state.counters["p999_vs_load30"] = static_cast<double>(p999) / static_cast<double>(it->second.first);
    state.counters["ideal_p999_vs_load30"] = static_cast<double>(ideal_p999) / static_cast<double>(it->second.second);
  }
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(result.run.events), benchmark::Counter::kIsRate);
  state.SetLabel(timeshare != 0 ? "timeshare" : "dedicated");
}
// Load varies fastest, so each policy and CPU count reads as one block and its load:30 run comes first.
void sim_scale_args(benchmark::internal::Benchmark* b) {
  for (i64 timeshare : {0, 1}) {
    for (i64 cpus : {16, 64}) {
      for (i64 load : {30, 50, 70, 90}) b->Args({timeshare, cpus, load});
    }
  }
}
BENCHMARK(BM_SimScale)
    ->ArgNames({"timeshare", "cpus", "load"})
    ->Apply(sim_scale_args)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

}  // namespace
}  // namespace platypos
