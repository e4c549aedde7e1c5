// The headline benchmark, hosted half: a request-serving workload on PlatypOS (hosted threads mode) and on Linux,
// same handler, same arrivals, same machine, same run.
//
// A request: the client writes a 16-byte message (its scheduled arrival time and its number); the server reads it,
// does `work` of CPU work (serve_work: a fixed number of iterations of a dependent integer loop, calibrated at start
// to PLATYPOS_SERVE_WORK_US microseconds; the same function for both servers) and writes the message back; the
// client takes the reply and records the latency from the request's scheduled arrival to the reply (open loop: a
// client or server that falls behind is charged for it, no coordinated omission). Arrivals are a seeded Poisson
// process at 30, 50, 70 and 90% of the handler's measured capacity (one server core: 1 / work), the same list of
// arrival times for both systems. With noisy:1 a CPU-hungry neighbour runs as many spinning threads as the host
// has CPUs.
//
//   BM_ServePlatypos  hosted threads mode: CPU 0 a kernel core serving the rings; the client ("serve-client") on two
//                     dedicated app cores (core 0 generates the arrivals and writes the requests without waiting for
//                     each write's completion, core 1 reads the replies), the server ("serve-server", spawned by the
//                     client with one end of a channel) on its own core; the neighbour ("serve-hog") a process with
//                     its own dedicated cores, spinning. Each PlatypOS CPU is a host thread.
//   BM_ServeLinux     a thread-per-connection server: the server thread blocks in read() on a Unix seqpacket
//                     socket, works, write()s the reply; the client is a sender thread and a receiver thread (blocking
//                     read()); the neighbour is ordinary spinning threads under the Linux scheduler.
// Both clients wait for an arrival the same way: they spin on the clock, giving the host CPU away on every turn
// (PlatypOS: the program's relax hook, which yields the host CPU when the machine has more CPUs than the host has
// cores; Linux: sched_yield). Neither sleeps: a sleep's wake-up lateness would be charged to the server. A client
// that falls more than a second behind its schedule stops sending (see kMaxLagNs).
//
// What the run means on a small host: every PlatypOS CPU is a host thread. With 2 host CPUs, the kernel core, the
// client's two cores, the server and the neighbour's two cores are 6 threads on 2 CPUs, so Linux time-shares them:
// PlatypOS's cores are not dedicated here, and its polling threads compete with the neighbour for time slices. The
// README's headline section reports what that does. The simulator (platypos_bench_simscale) runs the design at 16
// and 64 cores in virtual time.
//
// Environment (defaults in brackets): PLATYPOS_SERVE_WORK_US [50] of handler work per request;
// PLATYPOS_SERVE_SECONDS [1.5] of arrivals per run; PLATYPOS_SERVE_SEED [1]; PLATYPOS_SERVE_HOGS [host CPUs]
// neighbour threads; PLATYPOS_SERVE_IDLE_SPIN_US [100] how long PlatypOS's kernel core and programs poll before they
// block; PLATYPOS_SERVE_RELAX [automatic] = pause | yield: what a polling PlatypOS CPU does on each turn;
// PLATYPOS_SERVE_TRACE=FILE records each PlatypOS run into FILE (the last run's stays; `just trace FILE` decodes it).

#include <benchmark/benchmark.h>
#include <platypos/base/histogram.hpp>
#include <platypos/base/log.hpp>
#include <platypos/cap/process_object.hpp>
#include <platypos/cap/wait.hpp>
#include <platypos/hosted/kernel.hpp>
#include <platypos/hosted/machine.hpp>
#include <platypos/hosted/trace_session.hpp>
#include <platypos/ring/ring.hpp>
#include <platypos/runtime/runtime.hpp>
#include <platypos/user/context.hpp>

#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench_main.hpp"

namespace platypos {
namespace {

using user::Context;
using user::Handle;
using user::Status;
using user::Task;

// --- The handler's work, shared by both servers. ---

// `iters` rounds of a dependent multiply-xorshift chain: the compiler cannot shorten it, the CPU cannot overlap it.
[[gnu::noinline]] u64 serve_work(u64 iters, u64 seed) {
  u64 x = seed | 1;
  for (u64 i = 0; i < iters; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x *= 0x9e3779b97f4a7c15ull;
  }
  return x;
}

double env_or(const char* name, double fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const double d = std::strtod(v, &end);
  return (end != v && d > 0) ? d : fallback;
}

u64 host_now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<u64>(ts.tv_sec) * 1'000'000'000 + static_cast<u64>(ts.tv_nsec);
}

struct Workload {
  u64 work_iters = 0;
  u64 work_ns = 0;            // calibrated time of one handler run
  std::vector<u64> arrivals;  // offsets from the start, ns, ascending
  u64 warmup = 0;             // the first requests are not recorded
  double offered_per_s = 0;
};

// Calibrates the handler once per process: the fastest of a few runs (the others were interrupted).
u64 iterations_per_us() {
  static const u64 per_us = [] {
    constexpr u64 kProbe = 2'000'000;
    u64 best = ~u64{0};
    for (int i = 0; i < 7; ++i) {
      const u64 t0 = host_now_ns();
      benchmark::DoNotOptimize(serve_work(kProbe, t0));
      const u64 dt = host_now_ns() - t0;
      if (dt < best) best = dt;
    }
    return kProbe * 1000 / best;
  }();
  return per_us;
}

Workload make_workload(u32 load_percent) {
  Workload w;
  const double work_us = env_or("PLATYPOS_SERVE_WORK_US", 50);
  const double seconds = env_or("PLATYPOS_SERVE_SECONDS", 1.5);
  const auto seed = static_cast<u64>(env_or("PLATYPOS_SERVE_SEED", 1));
  w.work_iters = static_cast<u64>(work_us * static_cast<double>(iterations_per_us()));
  w.work_ns = static_cast<u64>(work_us * 1000);
  const double capacity = 1e9 / static_cast<double>(w.work_ns);  // requests per second, one server core
  w.offered_per_s = capacity * load_percent / 100.0;
  std::mt19937_64 rng(seed * 1000 + load_percent);
  std::exponential_distribution<double> gap(w.offered_per_s / 1e9);
  double t = 0;
  const double end = seconds * 1e9;
  while (t < end) {
    t += gap(rng);
    w.arrivals.push_back(static_cast<u64>(t));
  }
  w.warmup = w.arrivals.size() / 20;  // the first 5%
  return w;
}

struct Request {
  u64 due_ns;
  u64 id;
};
constexpr u64 kEndId = ~u64{0};  // PlatypOS: the last message; the server echoes it and exits

// A client that falls this far behind its schedule stops: the requests it did not send are recorded with the
// latency they had reached by then (a lower bound) and counted as `unsent`. It bounds the run when a system cannot
// keep up, so that the suite's time stays bounded.
constexpr u64 kMaxLagNs = 1'000'000'000;

struct ServeResult {
  LatencyHistogram latency;  // replies
  LatencyHistogram unsent_latency;
  u64 first_due = 0;
  u64 last_done = 0;
  u64 replies = 0;
  u64 sent = 0;
  int status = 0;  // PlatypOS: the client's first failing operation (abi::Status)
  bool ok = false;
};

// Records the requests from `from` on that were due by `now` as not sent, with the latency they had reached (the
// client fell kMaxLagNs behind); the later ones were never offered.
void cut(ServeResult& r, const Workload& w, u64 start, u64 from, u64 now) {
  for (u64 j = from; j < w.arrivals.size() && start + w.arrivals[j] <= now; ++j) {
    if (j >= w.warmup) r.unsent_latency.record(now - (start + w.arrivals[j]));
  }
}

// --- PlatypOS ---

// The client has two cores, like the Linux client's two threads: core 0 generates the arrivals, core 1 takes the
// replies. They share the channel handle (one handle table per process) and a few counters.
struct ClientShared {
  std::atomic<u32> channel{0};  // the handle value, once core 0 made it (0: not yet)
  std::atomic<u64> in_flight{0};
  std::atomic<u64> replies{0};
  std::atomic<bool> failed{false};
  std::atomic<int> status{0};  // the first failing operation's status

  void fail(Status st) {
    int expected = 0;
    status.compare_exchange_strong(expected, static_cast<int>(st));
    failed.store(true);
  }
};

struct PlatypShared {
  const Workload* work = nullptr;
  u32 hog_cores = 0;
  u64 idle_spin_ns = 0;  // how long the kernel core and the programs poll before they block
  std::atomic<bool> stop_hog{false};
  ServeResult result;
  ClientShared client;
};
constinit std::atomic<PlatypShared*> g_serve{nullptr};

constexpr u32 kWindow = 200;  // most requests in flight (the channel queues at most 256 messages)

Task<int> serve_server_main(Context& cx) {
  const auto handles = cx.initial_handles();
  if (handles.empty()) co_return 2;
  const Handle ch = handles[0];
  const PlatypShared* sh = g_serve.load(std::memory_order_acquire);
  const u64 iters = sh->work->work_iters;
  cx.set_idle_spin_ns(sh->idle_spin_ns);
  Request req{};
  for (;;) {
    const auto r = co_await cx.read(ch, {reinterpret_cast<char*>(&req), sizeof req});
    if (!r) co_return r.status() == Status::peer_closed ? 0 : 1;
    if (req.id != kEndId) benchmark::DoNotOptimize(serve_work(iters, req.id));
    const auto w = co_await cx.write(ch, {reinterpret_cast<const char*>(&req), sizeof req});
    if (!w) co_return w.status() == Status::peer_closed ? 0 : 1;
    if (req.id == kEndId) co_return 0;
  }
}
PLATYPOS_USER_PROGRAM("serve-server", serve_server_main);

Task<int> serve_receive(Context& cx, PlatypShared* sh, ClientShared* cs) {
  u32 h = 0;
  while ((h = cs->channel.load(std::memory_order_acquire)) == 0 && !cs->failed.load()) cx.env().relax();
  const Handle ch{h};
  const Workload& w = *sh->work;
  Request rep{};
  for (;;) {
    const auto r = co_await cx.read(ch, {reinterpret_cast<char*>(&rep), sizeof rep});
    if (!r || r->bytes != sizeof rep) {
      cs->fail(r ? Status::invalid_argument : r.status());
      co_return 1;
    }
    if (rep.id == kEndId) co_return 0;  // the server's last reply: every other one came before it
    const u64 now = cx.now_ns();
    if (rep.id >= w.warmup) sh->result.latency.record(now - rep.due_ns);
    sh->result.last_done = now;
    cs->in_flight.fetch_sub(1, std::memory_order_relaxed);
    cs->replies.fetch_add(1, std::memory_order_release);
  }
  co_return 0;
}

// One request on its way: the generator does not wait for a write's completion before the next arrival (as a
// program using the rings should not); the message is copied when the kernel core takes the entry, so each send
// keeps its own buffer (in its frame, in program memory) until then.
Task<void> serve_send(Context& cx, Handle ch, Request req, ClientShared* cs) {
  const auto wr = co_await cx.write(ch, {reinterpret_cast<const char*>(&req), sizeof req});
  if (!wr) cs->fail(wr.status());
}

Task<int> serve_generate(Context& cx, PlatypShared* sh, ClientShared* cs) {
  const Workload& w = *sh->work;
  auto pair = co_await cx.channel_create();
  if (!pair) {
    cs->fail(pair.status());
    co_return 2;
  }
  const Handle give[1] = {pair->b};
  auto server = co_await cx.spawn_process("serve-server", 1, 8 * MiB, give);
  if (!server) {
    cs->fail(server.status());
    co_return 3;
  }
  cs->channel.store(pair->a.value, std::memory_order_release);
  // Let the server and the receiver reach their first reads before the clock starts.
  (void)co_await cx.sleep(2'000'000);
  const u64 start = cx.now_ns();
  sh->result.first_due = start + w.arrivals[w.warmup];
  u64 sent = 0;
  for (u64 i = 0; i < w.arrivals.size() && !cs->failed.load(std::memory_order_relaxed); ++i) {
    const u64 due = start + w.arrivals[i];
    if (const u64 now = cx.now_ns(); now > due + kMaxLagNs) {
      cut(sh->result, w, start, i, now);
      break;
    }
    // Spin through the executor (earlier sends complete meanwhile), giving the host CPU away on every turn.
    while (cx.now_ns() < due) {
      co_await cx.yield();
      cx.env().relax();
    }
    while (cs->in_flight.load(std::memory_order_relaxed) >= kWindow && !cs->failed.load()) {
      co_await cx.yield();
      cx.env().relax();
    }
    cs->in_flight.fetch_add(1, std::memory_order_relaxed);
    cx.spawn(serve_send(cx, pair->a, Request{due, i}, cs));
    co_await cx.yield();  // submits it
    ++sent;
  }
  sh->result.sent = sent;
  if (!cs->failed.load()) {
    const Request end{0, kEndId};
    const auto wr = co_await cx.write(pair->a, {reinterpret_cast<const char*>(&end), sizeof end});
    if (!wr) cs->fail(wr.status());
  }
  // The receiver ends with the end marker's reply; the server exits after sending it.
  (void)co_await cx.wait(*server, abi::signals::exited);
  while (cs->replies.load(std::memory_order_acquire) < sent && !cs->failed.load()) {
    (void)co_await cx.sleep(1'000'000);
  }
  (void)co_await cx.close(pair->a);
  sh->result.replies = cs->replies.load();
  sh->result.status = cs->status.load();
  sh->result.ok = !cs->failed.load() && sh->result.replies == sent;
  co_return sh->result.ok ? 0 : 1;
}

Task<int> serve_client_main(Context& cx) {
  PlatypShared* sh = g_serve.load(std::memory_order_acquire);
  cx.set_idle_spin_ns(sh->idle_spin_ns);
  if (cx.env().core_index == 0) co_return co_await serve_generate(cx, sh, &sh->client);
  co_return co_await serve_receive(cx, sh, &sh->client);
}
PLATYPOS_USER_PROGRAM("serve-client", serve_client_main);

// The neighbour: spins on every core it has until told to stop.
Task<int> serve_hog_main(Context& cx) {
  PlatypShared* sh = g_serve.load(std::memory_order_acquire);
  u64 x = cx.env().core_index;
  // No relax(): a CPU-hungry program on its dedicated cores never gives them away (nor does the Linux neighbour).
  while (!sh->stop_hog.load(std::memory_order_relaxed)) x = serve_work(10'000, x);
  benchmark::DoNotOptimize(x);
  co_return 0;
}
PLATYPOS_USER_PROGRAM("serve-hog", serve_hog_main);

struct Supervisor {
  ring::Runtime* rt;
  PlatypShared* sh;
  hosted::TraceSession* trace = nullptr;
  bool launched = false;
};

void supervise(void* arg) {
  auto* s = static_cast<Supervisor*>(arg);
  ring::Runtime& rt = *s->rt;
  rt.start(1, s->sh->idle_spin_ns).expect("ring server");
  cap::Ref<cap::ProcessObject> hog;
  if (s->sh->hog_cores != 0) {
    auto h = rt.launch({.program = "serve-hog", .cores = s->sh->hog_cores, .memory_bytes = 4 * MiB}, {});
    if (h) hog = std::move(*h);
  }
  auto client = rt.launch({.program = "serve-client", .cores = 2, .memory_bytes = 8 * MiB}, {});
  if (client && (s->sh->hog_cores == 0 || hog)) {
    s->launched = true;
    (void)cap::wait_signals(**client, cap::kSignalExited, 0);
  }
  s->sh->stop_hog.store(true, std::memory_order_relaxed);
  if (hog) (void)cap::wait_signals(*hog, cap::kSignalExited, 0);
  hog.reset();
  if (client) client->reset();
  (void)rt.shutdown();
  if (s->trace != nullptr) s->trace->request_stop();
  // The ring server and the trace drain worker are kernel tasks too: they finish their last pass and exit.
  while (sched::scheduler().live_tasks() > 1) sched::scheduler().sleep_for(100'000);
  sched::scheduler().stop();
}

ServeResult run_platypos(const Workload& w, u32 hog_cores, bool* launched) {
  PlatypShared sh;
  sh.work = &w;
  sh.hog_cores = hog_cores;
  g_serve.store(&sh, std::memory_order_release);
  const u32 cpus = 4 + hog_cores;  // kernel core, client (2), server, the neighbour's cores
  sh.idle_spin_ns = static_cast<u64>(env_or("PLATYPOS_SERVE_IDLE_SPIN_US", 100) * 1000);
  {
    const char* relax = std::getenv("PLATYPOS_SERVE_RELAX");
    const auto spin = relax == nullptr                   ? hosted::MachineConfig::Spin::automatic
                      : std::strcmp(relax, "pause") == 0 ? hosted::MachineConfig::Spin::pause
                                                         : hosted::MachineConfig::Spin::yield;
    hosted::Machine machine({.cpus = cpus, .memory_bytes = 256 * MiB, .spin = spin});
    hosted::Kernel kernel({.cpus = cpus, .kernel_cores = 1});
    ring::Runtime rt(kernel.processes(), ring::linked_programs());
    // PLATYPOS_SERVE_TRACE=FILE records the run (just trace FILE decodes it).
    std::unique_ptr<hosted::TraceSession> trace;
    if (const char* path = std::getenv("PLATYPOS_SERVE_TRACE"); path != nullptr && *path != '\0') {
      trace = std::make_unique<hosted::TraceSession>(kernel, hosted::TraceSessionConfig{.path = path});
    }
    Supervisor sup{&rt, &sh, trace.get()};
    kernel.scheduler().create_task(sched::kNoProcess, "serve-supervisor", &supervise, &sup).expect("supervisor");
    machine.run([&](CpuId) { kernel.scheduler().run_cpu(); });
    if (trace) trace->finish();
    *launched = sup.launched;
  }
  g_serve.store(nullptr, std::memory_order_release);
  return sh.result;
}

// --- Linux ---

ServeResult run_linux(const Workload& w, u32 hog_threads) {
  ServeResult res;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0) return res;
  std::atomic<bool> stop{false};
  std::vector<std::thread> hogs;
  for (u32 i = 0; i < hog_threads; ++i) {
    hogs.emplace_back([&stop, i] {
      u64 x = i;
      while (!stop.load(std::memory_order_relaxed)) x = serve_work(10'000, x);
      benchmark::DoNotOptimize(x);
    });
  }
  std::thread server([&w, fd = sv[1]] {
    Request req{};
    for (;;) {
      if (read(fd, &req, sizeof req) != static_cast<ssize_t>(sizeof req)) return;  // the client closed
      benchmark::DoNotOptimize(serve_work(w.work_iters, req.id));
      if (write(fd, &req, sizeof req) != static_cast<ssize_t>(sizeof req)) return;
    }
  });
  std::atomic<u64> in_flight{0};
  std::atomic<u64> expected{~u64{0}};
  std::atomic<u64> replies{0};
  std::atomic<bool> failed{false};
  std::thread receiver([&] {
    Request rep{};
    while (replies.load(std::memory_order_relaxed) < expected.load(std::memory_order_acquire)) {
      const ssize_t n = read(sv[0], &rep, sizeof rep);
      if (n == 0 && replies.load() == expected.load()) return;  // every reply is in; the sender hung up
      if (n != static_cast<ssize_t>(sizeof rep)) {
        failed = true;
        return;
      }
      const u64 now = host_now_ns();
      if (rep.id >= w.warmup) res.latency.record(now - rep.due_ns);
      res.last_done = now;
      in_flight.fetch_sub(1, std::memory_order_relaxed);
      replies.fetch_add(1, std::memory_order_release);
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const u64 start = host_now_ns();
  res.first_due = start + w.arrivals[w.warmup];
  u64 sent = 0;
  for (u64 i = 0; i < w.arrivals.size() && !failed.load(); ++i) {
    const u64 due = start + w.arrivals[i];
    if (const u64 now = host_now_ns(); now > due + kMaxLagNs) {
      cut(res, w, start, i, now);
      break;
    }
    while (host_now_ns() < due) sched_yield();
    while (in_flight.load(std::memory_order_relaxed) >= kWindow && !failed.load()) sched_yield();
    const Request req{due, i};
    in_flight.fetch_add(1, std::memory_order_relaxed);
    if (write(sv[0], &req, sizeof req) != static_cast<ssize_t>(sizeof req)) {
      failed = true;
      break;
    }
    ++sent;
  }
  res.sent = sent;
  expected.store(sent, std::memory_order_release);
  // Every reply in (or a failure): hang up, which also ends a receiver blocked in read() and the server.
  while (replies.load(std::memory_order_acquire) < sent && !failed.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  shutdown(sv[0], SHUT_RDWR);
  receiver.join();
  server.join();
  stop.store(true, std::memory_order_relaxed);
  for (auto& t : hogs) t.join();
  close(sv[0]);
  close(sv[1]);
  res.replies = replies.load();
  res.ok = !failed.load() && res.replies == sent;
  return res;
}

// --- The benchmarks ---

u32 neighbour_threads() {
  if (const char* h = std::getenv("PLATYPOS_SERVE_HOGS")) return static_cast<u32>(std::atoi(h));
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 2 : n;
}

void report(benchmark::State& state, const Workload& w, const ServeResult& r, u64 elapsed_ns) {
  state.SetIterationTime(static_cast<double>(elapsed_ns) / 1e9);
  const double seconds = r.last_done > r.first_due ? static_cast<double>(r.last_done - r.first_due) / 1e9 : 0;
  LatencyHistogram all = r.latency;
  all.merge(r.unsent_latency);
  bench::report_latency(state, all, seconds);
  state.counters["unsent"] = static_cast<double>(r.unsent_latency.count());
  // Throughput: replies (after the warm-up) per second from the first recorded arrival to the last reply.
  state.counters["req_per_s"] = seconds > 0 ? static_cast<double>(r.latency.count()) / seconds : 0;
  state.counters["offered_per_s"] = w.offered_per_s;
  state.counters["work_us"] = static_cast<double>(w.work_ns) / 1e3;
}

void BM_ServePlatypos(benchmark::State& state) {
  const auto noisy = static_cast<u32>(state.range(0));
  const Workload w = make_workload(static_cast<u32>(state.range(1)));
  set_log_level(LogLevel::warn);
  for (auto _ : state) {
    const u64 t0 = host_now_ns();
    bool launched = false;
    const ServeResult r = run_platypos(w, noisy != 0 ? neighbour_threads() : 0, &launched);
    const u64 t1 = host_now_ns();
    if (!launched) {
      state.SkipWithError("could not launch the programs (admission)");
      return;
    }
    if (!r.ok) {
      const std::string why = std::string("the client failed: an operation returned ") +
                              abi::status_name(static_cast<abi::Status>(r.status));
      state.SkipWithError(why.c_str());
      return;
    }
    report(state, w, r, t1 - t0);
  }
  state.SetLabel(noisy != 0 ? "PlatypOS, noisy neighbour" : "PlatypOS");
}

void BM_ServeLinux(benchmark::State& state) {
  const auto noisy = static_cast<u32>(state.range(0));
  const Workload w = make_workload(static_cast<u32>(state.range(1)));
  for (auto _ : state) {
    const u64 t0 = host_now_ns();
    const ServeResult r = run_linux(w, noisy != 0 ? neighbour_threads() : 0);
    const u64 t1 = host_now_ns();
    if (!r.ok) {
      state.SkipWithError("the Linux client failed (a socket call failed)");
      return;
    }
    report(state, w, r, t1 - t0);
  }
  state.SetLabel(noisy != 0 ? "Linux, noisy neighbour" : "Linux");
}

void serve_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"noisy", "load"});
  for (int noisy : {0, 1}) {
    for (int load : {30, 50, 70, 90}) b->Args({noisy, load});
  }
  b->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
}
BENCHMARK(BM_ServePlatypos)->Apply(serve_args);
BENCHMARK(BM_ServeLinux)->Apply(serve_args);

}  // namespace
}  // namespace platypos
