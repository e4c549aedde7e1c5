// Process teardown against a dedicated-core request loop: what killing processes costs the processes that keep
// running.
//
// A client program ("td-client", one dedicated core) makes round trips of 64 bytes over a channel to an echo
// program ("td-echo", its own core), back to back, recording each round trip's latency. With churn:1 a kernel task
// meanwhile launches "td-victim" programs in a loop, lets each build up state (kVictimChannels channel pairs, every
// pair's second end sent through the next pair, so that the ends refer to one another in a cycle only the cycle
// collector frees; a memory object; queued messages), kills it, and waits until it is gone: its handle table
// closed, its cycles collected, its rings retired, its memory returned. churn:0 is the same run without the
// victims: the baseline in the same run.
//
// Modes: sim (the deterministic simulator: latencies exact in virtual time, the same on every machine and run;
// each scheduling point costs virtual time, so work done under a lock costs whoever waits for it) and threads (each
// CPU a host thread: real time, but on a host with fewer cores than the machine's 6 CPUs the host's scheduler
// dominates the tail).
//
// Counters: bench::report_latency's (requests, req_per_s, p50/p90/p99/p999/max_us) of the client's round trips,
// plus kills (victims launched and killed during the run) and victim_handles (handles each victim held when it was
// killed).

#include <platypos/base/histogram.hpp>
#include <platypos/base/log.hpp>
#include <platypos/cap/channel.hpp>
#include <platypos/cap/process_object.hpp>
#include <platypos/cap/wait.hpp>
#include <platypos/hosted/kernel.hpp>
#include <platypos/hosted/machine.hpp>
#include <platypos/hosted/sim_machine.hpp>
#include <platypos/ring/ring.hpp>
#include <platypos/runtime/runtime.hpp>
#include <platypos/user/context.hpp>

#include <benchmark/benchmark.h>

#include <atomic>
#include <memory>
#include <optional>

#include "bench_main.hpp"

namespace platypos {
namespace {

using user::Context;
using user::Handle;
using user::Status;
using user::Task;

constexpr u32 kVictimChannels = 48;     // channel pairs per victim: 96 handles, 48 queued messages with a handle each
constexpr u64 kVictimLifeNs = 500'000;  // how long a victim lives before it is killed
constexpr u32 kCpus = 6;                // kernel cores 0-1; client, echo, victim on 2, 3, 4 (5 spare)

struct Shared {
  u64 requests = 0;
  LatencyHistogram latency;
  u64 first_ns = 0;
  u64 last_ns = 0;
  std::atomic<bool> client_done{false};
  std::atomic<u64> victim_ready{0};  // victims that built their state
  int status = 0;
};
constinit std::atomic<Shared*> g_td{nullptr};

Task<int> echo_main(Context& cx) {
  const auto hs = cx.initial_handles();
  if (hs.empty()) co_return 2;
  char buf[64];
  for (;;) {
    const auto r = co_await cx.read(hs[0], buf);
    if (!r) co_return r.status() == Status::peer_closed ? 0 : 1;
    const auto w = co_await cx.write(hs[0], {buf, r->bytes});
    if (!w) co_return 1;
  }
}
PLATYPOS_USER_PROGRAM("td-echo", echo_main);

Task<int> client_main(Context& cx) {
  Shared* sh = g_td.load(std::memory_order_acquire);
  const auto hs = cx.initial_handles();
  if (hs.empty()) co_return 2;
  char buf[64] = {};
  const u64 warmup = sh->requests / 20;
  for (u64 i = 0; i < sh->requests; ++i) {
    const u64 t0 = cx.now_ns();
    buf[0] = static_cast<char>(i);
    const auto w = co_await cx.write(hs[0], {buf, sizeof buf});
    if (!w) {
      sh->status = static_cast<int>(w.status());
      co_return 1;
    }
    const auto r = co_await cx.read(hs[0], buf);
    if (!r || r->bytes != sizeof buf) {
      sh->status = r ? -1 : static_cast<int>(r.status());
      co_return 1;
    }
    const u64 t1 = cx.now_ns();
    if (i == warmup) sh->first_ns = t0;
    if (i >= warmup) sh->latency.record(t1 - t0);
    sh->last_ns = t1;
  }
  sh->client_done.store(true, std::memory_order_release);
  co_return 0;
}
PLATYPOS_USER_PROGRAM("td-client", client_main);

// Builds up what a teardown must undo, then waits to be killed.
Task<int> victim_main(Context& cx) {
  Shared* sh = g_td.load(std::memory_order_acquire);
  Handle a[kVictimChannels], b[kVictimChannels];
  for (u32 i = 0; i < kVictimChannels; ++i) {
    const auto p = co_await cx.channel_create();
    if (!p) co_return 1;
    a[i] = p->a;
    b[i] = p->b;
  }
  // b[i] travels through pair i+1 (queued at b[i+1]): the ends refer to one another in a ring.
  for (u32 i = 0; i < kVictimChannels; ++i) {
    const Handle give[1] = {b[i]};
    const char byte = 'v';
    const auto w = co_await cx.write(a[(i + 1) % kVictimChannels], {&byte, 1}, give);
    if (!w) co_return 1;
  }
  const auto mem = co_await cx.memory_create(256 * 1024);
  if (!mem) co_return 1;
  sh->victim_ready.fetch_add(1, std::memory_order_release);
  for (;;) {
    const auto s = co_await cx.sleep(10'000'000);
    if (!s) co_return 1;
  }
}
PLATYPOS_USER_PROGRAM("td-victim", victim_main);

struct Run {
  ring::Runtime* rt = nullptr;
  Shared* sh = nullptr;
  bool churn = false;
  u64 kills = 0;
  bool ok = false;
  std::atomic<bool> churning{false};
};

void churner(void* arg) {
  auto* run = static_cast<Run*>(arg);
  sched::Scheduler& s = sched::scheduler();
  while (!run->sh->client_done.load(std::memory_order_acquire)) {
    auto v = run->rt->launch({.program = "td-victim", .cores = 1, .memory_bytes = 2 * MiB}, {});
    if (v.is_error()) {
      s.sleep_for(100'000);
      continue;
    }
    s.sleep_for(kVictimLifeNs);
    (void)s.exit_process((*v)->pid(), -9);
    (void)cap::wait_signals(**v, cap::kSignalExited, 0);
    ++run->kills;
  }
  run->churning.store(false, std::memory_order_release);
}

void supervise(void* arg) {
  auto* run = static_cast<Run*>(arg);
  sched::Scheduler& s = sched::scheduler();
  ring::Runtime& rt = *run->rt;
  rt.start(2).expect("ring servers");
  auto pair = cap::ChannelEndpoint::create().expect("channel");
  cap::Capability ce[1] = {{pair.a.leak(), cap::Rights::read | cap::Rights::write | cap::Rights::wait, 0}};
  cap::Capability cc[1] = {{pair.b.leak(), cap::Rights::read | cap::Rights::write | cap::Rights::wait, 0}};
  auto echo = rt.launch({.program = "td-echo", .cores = 1, .memory_bytes = 2 * MiB}, ce);
  auto client = rt.launch({.program = "td-client", .cores = 1, .memory_bytes = 2 * MiB}, cc);
  if (echo.is_error() || client.is_error()) {
    for (auto& c : ce)
      if (c.object != nullptr) c.object->release();
    for (auto& c : cc)
      if (c.object != nullptr) c.object->release();
  } else {
    if (run->churn) {
      run->churning.store(true, std::memory_order_release);
      if (s.create_task(sched::kNoProcess, "churner", &churner, run).is_error()) run->churning.store(false);
    }
    (void)cap::wait_signals(**client, cap::kSignalExited, 0);
    run->ok = (*client)->exit_code() == 0;
    while (run->churning.load(std::memory_order_acquire)) s.sleep_for(100'000);
    (void)cap::wait_signals(**echo, cap::kSignalExited, 0);  // the client's exit closed its end
  }
  if (echo) echo->reset();
  if (client) client->reset();
  (void)rt.shutdown();
  while (s.live_tasks() > 1) s.sleep_for(10'000);
  s.stop();
}

void BM_Teardown(benchmark::State& state) {
  const bool sim = state.range(0) == 0;
  const bool churn = state.range(1) != 0;
  set_log_level(LogLevel::warn);
  std::unique_ptr<Shared> shp;
  std::unique_ptr<Run> runp;
  for (auto _ : state) {
    shp = std::make_unique<Shared>();
    runp = std::make_unique<Run>();
    Shared& sh = *shp;
    Run& run = *runp;
    sh.requests = 200'000;
    g_td.store(&sh, std::memory_order_release);
    run.sh = &sh;
    run.churn = churn;
    std::optional<hosted::SimMachine> simm;
    std::unique_ptr<hosted::Machine> machine;
    if (sim) {
      simm.emplace(hosted::SimConfig{.cpus = kCpus, .seed = 1, .memory_bytes = 256 * MiB});
    } else {
      machine = std::make_unique<hosted::Machine>(hosted::MachineConfig{.cpus = kCpus, .memory_bytes = 256 * MiB});
    }
    {
      hosted::Kernel kernel({.cpus = kCpus, .kernel_cores = 2});
      ring::Runtime rt(kernel.processes(), ring::linked_programs());
      run.rt = &rt;
      kernel.scheduler().create_task(sched::kNoProcess, "td-supervisor", &supervise, &run).expect("supervisor");
      if (simm) {
        simm->run([&](CpuId) { kernel.scheduler().run_cpu(); });
      } else {
        machine->run([&](CpuId) { kernel.scheduler().run_cpu(); });
      }
    }
    g_td.store(nullptr, std::memory_order_release);
  }
  Shared& sh = *shp;
  Run& run = *runp;
  if (!run.ok) {
    state.SkipWithError(("the client failed (status " + std::to_string(sh.status) + ")").c_str());
    return;
  }
  const double seconds = static_cast<double>(sh.last_ns - sh.first_ns) / 1e9;
  bench::report_latency(state, sh.latency, seconds);
  state.counters["kills"] = static_cast<double>(run.kills);
  state.counters["victim_handles"] = 2.0 * kVictimChannels + 2;  // the pairs, the memory object, self
}

BENCHMARK(BM_Teardown)
    ->ArgNames({"threads", "churn"})
    ->Args({0, 0})
    ->Args({0, 1})
    ->Args({1, 0})
    ->Args({1, 1})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

PLATYPOS_BENCH_COUNTER_RATIO("teardown churn: p99.9 with churn / without (sim)", "BM_Teardown/threads:0/churn:1",
                             "BM_Teardown/threads:0/churn:0", "p999_us");
PLATYPOS_BENCH_COUNTER_RATIO("teardown churn: p99.9 with churn / without (threads)", "BM_Teardown/threads:1/churn:1",
                             "BM_Teardown/threads:1/churn:0", "p999_us");

}  // namespace
}  // namespace platypos
