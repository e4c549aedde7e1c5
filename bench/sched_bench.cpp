// Scheduler and simulator benchmarks, with Linux baselines in the same run.
//
//   task switch:  two PlatypOS tasks on one core handing the CPU back and forth with yield() (threads-mode Machine,
//                 one CPU), and the raw Platform context switch underneath; next to two Linux threads handing a
//                 token back and forth through a futex and through a mutex + condition variable.
//   sim speed:    scheduling events per second of the simulator running the default server scenario.
//   server:       the server scenario in sim mode at 70% load with the noisy neighbour, dedicated against timeshare:
//                 p50/p99/p999 latency of the "web" server as counters (virtual time: exact and repeatable).

#include <platypos/hosted/kernel.hpp>
#include <platypos/hosted/machine.hpp>
#include <platypos/sched/scheduler.hpp>

#include <benchmark/benchmark.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "bench_main.hpp"
#include "server_scenario.hpp"

namespace platypos {
namespace {

// --- Raw context switch: one round trip is two switches. ---
struct RawPair {
  Platform::Context main, fiber;
  u64 n = 0;
};

void raw_body(void* arg) {
  auto* p = static_cast<RawPair*>(arg);
  for (;;) {
    ++p->n;
    Platform::context_switch(p->fiber, p->main);
  }
}

void BM_ContextSwitchRaw(benchmark::State& state) {
  alignas(16) static std::byte stack[64 * 1024];
  RawPair p;
  Platform::context_init(p.fiber, stack, sizeof stack, &raw_body, &p);
  for (auto _ : state) Platform::context_switch(p.main, p.fiber);
  state.SetItemsProcessed(static_cast<i64>(state.iterations()) * 2);
  state.counters["time_per_switch"] = benchmark::Counter(static_cast<double>(state.iterations()) * 2,
                                                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetLabel("Boost.Context fcontext, per round trip (2 switches)");
}
BENCHMARK(BM_ContextSwitchRaw);

// --- Scheduler yield between two tasks on one core (threads mode, 1 CPU). ---
struct YieldRun {
  u64 rounds;
  u64 start_ns = 0, end_ns = 0;
  std::atomic<int> done{0};
};

void yielder(void* arg) {
  auto* r = static_cast<YieldRun*>(arg);
  sched::Scheduler& s = sched::scheduler();
  if (r->start_ns == 0) r->start_ns = Platform::now_ns();
  for (u64 i = 0; i < r->rounds; ++i) s.yield();
  if (r->done.fetch_add(1) == 1) {
    r->end_ns = Platform::now_ns();
    s.stop();
  }
}

void BM_TaskSwitchYield(benchmark::State& state) {
  constexpr u64 kRounds = 200'000;
  u64 switches = 0;
  for (auto _ : state) {
    hosted::Machine machine({.cpus = 1, .memory_bytes = 64 * MiB});
    hosted::Kernel kernel({.cpus = 1, .kernel_cores = 1});
    YieldRun run{kRounds};
    kernel.scheduler().create_task(sched::kNoProcess, "a", &yielder, &run).expect("a");
    kernel.scheduler().create_task(sched::kNoProcess, "b", &yielder, &run).expect("b");
    machine.run([&](CpuId) { kernel.scheduler().run_cpu(); });
    state.SetIterationTime(static_cast<double>(run.end_ns - run.start_ns) / 1e9);
    switches += kernel.scheduler().cpu_stats(0).switches;
  }
  state.counters["time_per_switch"] =
      benchmark::Counter(static_cast<double>(switches), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetLabel("PlatypOS tasks, yield() on one core");
}
BENCHMARK(BM_TaskSwitchYield)->UseManualTime()->Iterations(5)->Unit(benchmark::kMillisecond);

// --- Linux baselines: a token handed between two threads. ---
long futex(std::atomic<u32>* addr, int op, u32 val) {
  return syscall(SYS_futex, reinterpret_cast<u32*>(addr), op, val, nullptr, nullptr, 0);
}

void BM_ThreadHandoffFutex(benchmark::State& state) {
  std::atomic<u32> turn{0};
  std::atomic<bool> stop{false};
  std::thread other([&] {
    for (;;) {
      while (turn.load(std::memory_order_acquire) != 1) {
        if (stop.load()) return;
        futex(&turn, FUTEX_WAIT_PRIVATE, 0);
      }
      turn.store(0, std::memory_order_release);
      futex(&turn, FUTEX_WAKE_PRIVATE, 1);
    }
  });
  for (auto _ : state) {
    turn.store(1, std::memory_order_release);
    futex(&turn, FUTEX_WAKE_PRIVATE, 1);
    while (turn.load(std::memory_order_acquire) != 0) futex(&turn, FUTEX_WAIT_PRIVATE, 1);
  }
  stop.store(true);
  turn.store(1);
  futex(&turn, FUTEX_WAKE_PRIVATE, 1);
  other.join();
  state.counters["time_per_switch"] = benchmark::Counter(static_cast<double>(state.iterations()) * 2,
                                                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetLabel("two Linux threads, futex, per round trip");
}
BENCHMARK(BM_ThreadHandoffFutex)->UseRealTime();

void BM_ThreadHandoffCondvar(benchmark::State& state) {
  std::mutex mu;
  std::condition_variable cv;
  int turn = 0;
  bool stop = false;
  std::thread other([&] {
    std::unique_lock lk(mu);
    for (;;) {
      cv.wait(lk, [&] { return turn == 1 || stop; });
      if (stop) return;
      turn = 0;
      cv.notify_all();
    }
  });
  for (auto _ : state) {
    std::unique_lock lk(mu);
    turn = 1;
    cv.notify_all();
    cv.wait(lk, [&] { return turn == 0; });
  }
  {
    std::lock_guard g(mu);
    stop = true;
  }
  cv.notify_all();
  other.join();
  state.counters["time_per_switch"] = benchmark::Counter(static_cast<double>(state.iterations()) * 2,
                                                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetLabel("two Linux threads, mutex + condvar, per round trip");
}
BENCHMARK(BM_ThreadHandoffCondvar)->UseRealTime();

// --- The simulator running the default scenario. ---
simtool::Options server_options(sched::Policy policy, u32 cpus, u32 kernel_cores) {
  simtool::Options o;
  o.cpus = cpus;
  o.kernel_cores = kernel_cores;
  o.policy = policy;
  o.load = 0.7;
  o.duration_ns = 200'000'000;
  o.duration_text = "200ms";
  return o;
}

void BM_SimServerScenario(benchmark::State& state) {
  const auto policy = state.range(0) == 0 ? sched::Policy::dedicated : sched::Policy::timeshare;
  const auto cpus = static_cast<u32>(state.range(1));
  u64 events = 0;
  simtool::ServerResult last;
  for (auto _ : state) {
    last = simtool::run_server_scenario(server_options(policy, cpus, cpus / 4), false);
    events += last.run.events;
    if (!last.ok) state.SkipWithError("scenario failed (leak, stuck or requests lost)");
  }
  state.counters["events_per_s"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
  const LatencyHistogram& web = last.servers.at(0).latency;
  state.counters["web_p50_us"] = static_cast<double>(web.value_at_ppm(500'000)) / 1e3;
  state.counters["web_p99_us"] = static_cast<double>(web.value_at_ppm(990'000)) / 1e3;
  state.counters["web_p999_us"] = static_cast<double>(web.value_at_ppm(999'000)) / 1e3;
  state.counters["p999_over_p50"] =
      static_cast<double>(web.value_at_ppm(999'000)) / static_cast<double>(web.value_at_ppm(500'000));
  const LatencyHistogram& ideal = last.servers.at(0).ideal;
  state.counters["ideal_p999_over_p50"] =
      static_cast<double>(ideal.value_at_ppm(999'000)) / static_cast<double>(ideal.value_at_ppm(500'000));
  state.SetLabel(policy == sched::Policy::dedicated ? "dedicated" : "timeshare");
}
BENCHMARK(BM_SimServerScenario)
    ->ArgNames({"timeshare", "cpus"})
    ->Args({0, 8})
    ->Args({1, 8})
    ->Args({0, 64})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

PLATYPOS_BENCH_COUNTER_RATIO("task switch (yield) / Linux futex handoff, per switch",
                             "BM_TaskSwitchYield/iterations:5/manual_time", "BM_ThreadHandoffFutex/real_time",
                             "time_per_switch");
PLATYPOS_BENCH_COUNTER_RATIO("task switch (yield) / Linux condvar handoff, per switch",
                             "BM_TaskSwitchYield/iterations:5/manual_time", "BM_ThreadHandoffCondvar/real_time",
                             "time_per_switch");
PLATYPOS_BENCH_COUNTER_RATIO("raw context switch / Linux futex handoff, per switch", "BM_ContextSwitchRaw",
                             "BM_ThreadHandoffFutex/real_time", "time_per_switch");

}  // namespace
}  // namespace platypos
