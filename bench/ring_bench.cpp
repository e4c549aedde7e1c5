// System-call ring benchmarks, with Linux baselines in the same run.
//
// The PlatypOS side runs in hosted threads mode on a Machine with 2 CPUs: CPU 0 is the one kernel core (one ring
// server task, plus the harness's supervisor task, blocked), CPU 1 is the app core of the benchmark program
// "ring-bench" (Runtime::launch, 1 core). The CPU threads are pinned to host cores 0 and 1. Code on the app core cannot
// be timed from the benchmark thread, so the program times itself: it spins (ProgramEnv::relax) on a command word in
// host memory, runs a warm-up of one tenth of the operations (which also wakes the ring server: it went idle while the
// program waited for the command), takes cx.now_ns() (CLOCK_MONOTONIC), runs the operations, takes the clock again and
// reports the elapsed time with the ring statistics' deltas; the benchmark thread sleeps in a futex meanwhile and
// hands the time to UseManualTime(). Each benchmark boots its own Machine, so nothing spins during the Linux baselines.
// Every time is per operation (KeepRunningBatch: one iteration is one NOP or one round trip).
//
//   BM_RingNop            one `co_await cx.nop()` after another: submit, the executor polls the CQ, resume. The round
//                         trip of one system call through the rings, Context executor included.
//   BM_RingNopBatch/32    32 coroutines each `co_await cx.nop()`, released together and joined: 32 entries published by
//                         one flush, reaped as they come; cost per NOP.
//   BM_RingRawNop         the same round trip on the RingClient alone (next_sqe/commit/flush, spin on reap): the floor
//                         the protocol allows, without coroutines.
//   BM_RingRawNopBatch/32 32 entries, one flush, spin until 32 completions are reaped; per NOP.
//   BM_RingEcho           one program, two coroutines, a channel: A writes 64 B on one end and reads the reply; B
//                         (a read always parked in the kernel) reads it and writes it back. Per round trip (4 entries:
//                         A write, A read, B write, B's next read).
//   BM_RingKernelSameCore/32  the kernel's part alone, on one thread: 32 entries written, Ring::consume() validates,
//                         runs and completes them, 32 completions read; per NOP. No cross-core traffic.
//   BM_LinuxGetppid       syscall(SYS_getppid): the cheapest Linux system call round trip.
//   BM_IoUringNop         liburing NOP alone: get_sqe + prep_nop + io_uring_submit_and_wait(1) + reap.
//   BM_IoUringNopBatch/32 32 NOPs, one io_uring_submit_and_wait(32), reap 32; per NOP.
//   BM_IoUringSqpollNop/1, /32  the same with IORING_SETUP_SQPOLL (a kernel thread polls the SQ: the rings' design),
//                         the CQ polled in user space: no system call while the poller is awake.
//   BM_HostCacheLinePingPong  two host threads on cores 0 and 1 bounce one cache line: the floor of any cross-core
//                         round trip here (a ring round trip needs at least one).
//   BM_LinuxEcho          the echo on Linux, one thread, both ends: write, read, write back, read the reply (4 system
//                         calls). pipes:1 two pipes; pipes:0 an AF_UNIX SOCK_SEQPACKET socketpair (message boundaries
//                         and both directions on one object, like a channel).
//
// Counters of the ring benchmarks (deltas over the timed part only, divided by its operations):
//   doorbells_per_op     doorbell system calls (Ring::stats().doorbells: from flush() when NEED_WAKEUP was set, and
//                        the one wait_completions rings). Steady state target: 0.
//   waits_per_op         wait_completions system calls (RingClient::stats().waits).
//   blocked_per_op       of those, the ones that blocked the app core's task (Ring::stats().waits).
//   server_sleeps_per_op times the ring server went idle (set NEED_WAKEUP and blocked: RingServer::idle_blocks()).
//   doorbell_ns_per_op, wait_ns_per_op: time spent inside the doorbell (from flush) and wait_completions system calls
//                        (the program interposes on its ProgramEnv entries to time them; the fast path never calls
//                        them).
//   sqes_per_op, flushes_per_op (1 / entries per published batch), empty_polls_per_op (CQ polls that found nothing,
//   each followed by a pause: Context::stats().idle_spins, or the raw loops' own count).
// Nonzero doorbells and waits in the steady state mean one side went to sleep: the ring server after
// RingServer::kDefaultIdleNs (200 us) without work, the executor after Context::kDefaultIdleSpinNs (100 us) of empty
// polls. Both budgets are longer than a futex wake-up, so a host that deschedules one CPU thread for a moment does not
// start a sleep/wake convoy (each side finding the other asleep, for many operations); wait_ns_per_op shows what
// blocking costs when it happens.
//
// Targets (reported in the side-by-side table, never asserted): batched NOP <= 1/4 of io_uring's batched cost per op;
// one NOP round trip <= 1/3 of getppid; zero doorbells per op in the steady state.
//
// The host is noisy (2 virtual cores whose placement on the physical machine changes: the cache-line ping-pong floor
// has been seen anywhere from 60 ns to 1 us): repeat, interleave, read medians, and compare with the ping-pong of the
// same run. With --benchmark_repetitions the side-by-side ratios and --platypos_summary use the medians.
//
//   build/hosted-release/bench/platypos_bench_ring --benchmark_repetitions=10 --benchmark_enable_random_interleaving

#include <platypos/base/log.hpp>
#include <platypos/cap/process_object.hpp>
#include <platypos/cap/wait.hpp>
#include <platypos/hosted/kernel.hpp>
#include <platypos/hosted/machine.hpp>
#include <platypos/ring/ring.hpp>
#include <platypos/runtime/runtime.hpp>
#include <platypos/user/context.hpp>

#include <benchmark/benchmark.h>
#include <immintrin.h>
#include <liburing.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <coroutine>
#include <string>
#include <thread>

#include "bench_main.hpp"

namespace platypos {
namespace {

using user::Context;
using user::Handle;
using user::Task;

constexpr u32 kBatch = 32;

// --- The harness: what the benchmark thread and the program share (plain host memory: this is scaffolding). ---

enum class Workload : u32 { quit, nop, nop_batch, raw_nop, raw_nop_batch, echo };

struct Command {
  Workload workload = Workload::quit;
  u64 ops = 0;     // timed operations (NOPs or round trips); a multiple of kBatch for the batched workloads
  u64 warmup = 0;  // untimed operations first
};

struct Counts {
  u64 sqes = 0;
  u64 flushes = 0;
  u64 doorbells = 0;
  u64 waits = 0;
  u64 blocked = 0;
  u64 server_sleeps = 0;
  u64 empty_polls = 0;
  u64 doorbell_ns = 0;
  u64 wait_ns = 0;

  Counts operator-(const Counts& o) const {
    return {sqes - o.sqes,
            flushes - o.flushes,
            doorbells - o.doorbells,
            waits - o.waits,
            blocked - o.blocked,
            server_sleeps - o.server_sleeps,
            empty_polls - o.empty_polls,
            doorbell_ns - o.doorbell_ns,
            wait_ns - o.wait_ns};
  }
  Counts& operator+=(const Counts& o) {
    sqes += o.sqes;
    flushes += o.flushes;
    doorbells += o.doorbells;
    waits += o.waits;
    blocked += o.blocked;
    server_sleeps += o.server_sleeps;
    empty_polls += o.empty_polls;
    doorbell_ns += o.doorbell_ns;
    wait_ns += o.wait_ns;
    return *this;
  }
};

struct Report {
  u64 elapsed_ns = 0;
  Counts counts;
  bool ok = false;
};

struct Shared {
  // The benchmark thread writes `command`, then bumps command_seq (release); the program polls it (acquire).
  std::atomic<u32> command_seq{0};
  Command command;
  // The program writes `report`, then stores command_seq's value here (release) and notifies; kExited: the program
  // is gone (it failed), nothing more will be reported.
  static constexpr u32 kExited = ~0u;
  std::atomic<u32> done_seq{0};
  Report report;
  ring::Runtime* runtime = nullptr;  // the ring server's statistics
};

constinit std::atomic<Shared*> g_shared{nullptr};

// --- The program, on the app core. ---

// A coroutine parked in the program's own executor until someone schedules `node` (no kernel involved).
struct Gate {
  user::detail::Resumable node;
};
struct GateAwaiter {
  Gate* gate;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) noexcept { gate->node.handle = h; }
  void await_resume() const noexcept {}
};
GateAwaiter wait_at(Gate& g) { return GateAwaiter{&g}; }

// Time spent in the two system calls, measured around the kernel's entry points: the program's ProgramEnv is in its
// own memory, and the program interposes on them once at start (they are its slow path; the fast path never calls
// them, so the two clock reads cost nothing there). Only the app core's task calls them.
struct SyscallClock {
  void (*doorbell)(void* ctx) = nullptr;
  void (*wait_completions)(void* ctx, u32 min) = nullptr;
  u64 (*now_ns)() = nullptr;
  u64 doorbell_ns = 0;  // flush() doorbells (wait_completions rings its own inside the kernel: counted in wait_ns)
  u64 wait_ns = 0;
};
constinit SyscallClock g_syscalls;

void timed_doorbell(void* ctx) {
  const u64 t0 = g_syscalls.now_ns();
  g_syscalls.doorbell(ctx);
  g_syscalls.doorbell_ns += g_syscalls.now_ns() - t0;
}
void timed_wait_completions(void* ctx, u32 min) {
  const u64 t0 = g_syscalls.now_ns();
  g_syscalls.wait_completions(ctx, min);
  g_syscalls.wait_ns += g_syscalls.now_ns() - t0;
}
void interpose_syscalls(const abi::ProgramEnv& env) {
  auto& e = const_cast<abi::ProgramEnv&>(env);
  g_syscalls = {e.doorbell, e.wait_completions, e.now_ns, 0, 0};
  e.doorbell = &timed_doorbell;
  e.wait_completions = &timed_wait_completions;
}

struct ProgramState {
  Gate workers[kBatch];  // each batch worker waits at its gate between rounds
  Gate join;             // the driver waits here until the round's last NOP completed
  u32 pending = 0;
  u64 failures = 0;
  u64 raw_empty_polls = 0;
  Handle echo_end;
};

Counts snapshot(Context& cx, const ProgramState& st, Shared& sh) {
  const user::RingClient::Stats& rc = cx.ring().stats();
  // The kernel's side of this ring (hosted: the system-call context is the Ring). Its doorbell and wait counters are
  // written by the system calls, i.e. on this very thread.
  const auto* ring = static_cast<const ring::Ring*>(cx.env().syscall_ctx);
  // Written by the server's thread: an approximate read, enough for a counter.
  const u64 sleeps = sh.runtime->server(0).idle_blocks();
  return {rc.submitted,
          rc.flushes,
          ring->stats().doorbells,
          rc.waits,
          ring->stats().waits,
          sleeps,
          cx.stats().idle_spins + st.raw_empty_polls,
          g_syscalls.doorbell_ns,
          g_syscalls.wait_ns};
}

// Results are bound to a local before they are tested, never `if (!co_await ...)`: g++ 12.2 miscompiles a co_await in
// an if condition inside `for (;;)` (the coroutine's first resume returns without running its body).
Task<void> batch_worker(Context& cx, ProgramState* st, u32 i) {
  for (;;) {
    co_await wait_at(st->workers[i]);
    const auto r = co_await cx.nop();
    if (!r) ++st->failures;
    if (--st->pending == 0) cx.schedule(&st->join.node);
  }
}

Task<void> echo_server(Context& cx, Handle ch, ProgramState* st) {
  char buf[64];
  for (;;) {
    const auto r = co_await cx.read(ch, buf);
    if (!r) co_return;  // peer closed
    const auto w = co_await cx.write(ch, {buf, r->bytes});
    if (!w) {
      ++st->failures;
      co_return;
    }
  }
}

Task<void> nops(Context& cx, ProgramState* st, u64 n) {
  for (u64 i = 0; i < n; ++i) {
    const auto r = co_await cx.nop();
    if (!r) ++st->failures;
  }
}

Task<void> nop_batches(Context& cx, ProgramState* st, u64 n) {
  for (u64 done = 0; done < n; done += kBatch) {
    st->pending = kBatch;
    for (Gate& g : st->workers) cx.schedule(&g.node);
    co_await wait_at(st->join);
  }
}

// The RingClient alone: entries straight into the SQ, completions polled. Nothing else is in flight meanwhile.
void raw_nops(Context& cx, ProgramState* st, u64 n, u32 width) {
  user::RingClient& rc = cx.ring();
  for (u64 done = 0; done < n; done += width) {
    for (u32 k = 0; k < width; ++k) {
      abi::Sqe* s = rc.next_sqe();
      if (s == nullptr) {
        ++st->failures;  // cannot happen: the SQ holds 256 and nothing else is outstanding
        return;
      }
      s->opcode = static_cast<u8>(abi::Op::nop);
      s->user_data = 1;
      rc.commit();
    }
    rc.flush();
    u32 reaped = 0;
    while (reaped < width) {
      const u32 got = rc.reap([&](const abi::Cqe& c) {
        if (c.result != 0 || c.user_data != 1) ++st->failures;
      });
      if (got == 0) {
        ++st->raw_empty_polls;
        cx.env().relax();
      }
      reaped += got;
    }
  }
}

Task<void> echoes(Context& cx, ProgramState* st, u64 n) {
  char msg[64], reply[64];
  for (u32 i = 0; i < sizeof msg; ++i) msg[i] = static_cast<char>('a' + i % 26);
  for (u64 i = 0; i < n; ++i) {
    const auto w = co_await cx.write(st->echo_end, msg);
    const auto r = co_await cx.read(st->echo_end, reply);
    if (!w || !r || r->bytes != sizeof msg) ++st->failures;
  }
}

Task<void> run_workload(Context& cx, ProgramState* st, Workload w, u64 n) {
  switch (w) {
    case Workload::nop: co_await nops(cx, st, n); break;
    case Workload::nop_batch: co_await nop_batches(cx, st, n); break;
    case Workload::raw_nop: raw_nops(cx, st, n, 1); break;
    case Workload::raw_nop_batch: raw_nops(cx, st, n, kBatch); break;
    case Workload::echo: co_await echoes(cx, st, n); break;
    case Workload::quit: break;
  }
}

Task<int> ring_bench_main(Context& cx) {
  Shared& sh = *g_shared.load(std::memory_order_acquire);
  interpose_syscalls(cx.env());
  ProgramState st;  // in this coroutine's frame: program memory
  auto pair = co_await cx.channel_create();
  if (!pair) co_return 2;
  st.echo_end = pair->a;
  cx.spawn(echo_server(cx, pair->b, &st));
  for (u32 i = 0; i < kBatch; ++i) cx.spawn(batch_worker(cx, &st, i));
  co_await cx.yield();  // the workers reach their gates, the echo server parks its first read
  u32 seen = 0;
  for (;;) {
    u32 seq = 0;
    while ((seq = sh.command_seq.load(std::memory_order_acquire)) == seen) cx.env().relax();
    seen = seq;
    const Command cmd = sh.command;
    if (cmd.workload == Workload::quit) break;
    st.failures = 0;
    co_await run_workload(cx, &st, cmd.workload, cmd.warmup);
    const Counts before = snapshot(cx, st, sh);
    const u64 t0 = cx.now_ns();
    co_await run_workload(cx, &st, cmd.workload, cmd.ops);
    const u64 t1 = cx.now_ns();
    sh.report = {t1 - t0, snapshot(cx, st, sh) - before, st.failures == 0};
    sh.done_seq.store(seq, std::memory_order_release);
    sh.done_seq.notify_all();
  }
  co_return 0;
}
PLATYPOS_USER_PROGRAM("ring-bench", ring_bench_main);

// --- The host side: a machine running the program, commanded from the benchmark thread. ---

class RingMachine {
 public:
  RingMachine()
      : machine_({.cpus = 2, .memory_bytes = 256 * MiB, .pin_threads = true}),
        kernel_({.cpus = 2, .kernel_cores = 1}),
        runtime_(kernel_.processes(), ring::linked_programs()) {
    set_log_level(LogLevel::warn);  // no "launch ..." line per benchmark
    shared_.runtime = &runtime_;
    g_shared.store(&shared_, std::memory_order_release);
    kernel_.scheduler().create_task(sched::kNoProcess, "bench-supervisor", &supervisor, this).expect("supervisor");
    runner_ = std::thread([this] { machine_.run([this](CpuId) { kernel_.scheduler().run_cpu(); }); });
  }
  ~RingMachine() {
    if (shared_.done_seq.load(std::memory_order_acquire) != Shared::kExited) {
      shared_.command = {};
      shared_.command_seq.fetch_add(1, std::memory_order_release);
    }
    runner_.join();
    g_shared.store(nullptr, std::memory_order_release);
  }
  RingMachine(const RingMachine&) = delete;
  RingMachine& operator=(const RingMachine&) = delete;

  // Runs one command in the program and waits (futex) for its report. ok == false: it failed or the program is gone.
  Report run(Workload w, u64 ops, u64 warmup) {
    shared_.command = {w, ops, warmup};
    const u32 seq = shared_.command_seq.fetch_add(1, std::memory_order_release) + 1;
    for (;;) {
      const u32 d = shared_.done_seq.load(std::memory_order_acquire);
      if (d == seq) return shared_.report;
      if (d == Shared::kExited) return {};
      shared_.done_seq.wait(d, std::memory_order_acquire);
    }
  }

 private:
  // Kernel task: starts the ring server, launches the program, waits for it to exit, then stops the machine.
  static void supervisor(void* arg) {
    auto* self = static_cast<RingMachine*>(arg);
    ring::Runtime& rt = self->runtime_;
    rt.start(1).expect("ring server");
    auto proc = rt.launch({.program = "ring-bench", .cores = 1}, {}).expect("launch ring-bench");
    (void)cap::wait_signals(*proc, cap::kSignalExited, 0);
    proc.reset();
    self->shared_.done_seq.store(Shared::kExited, std::memory_order_release);
    self->shared_.done_seq.notify_all();
    (void)rt.shutdown();
    sched::scheduler().stop();
  }

  hosted::Machine machine_;
  hosted::Kernel kernel_;
  ring::Runtime runtime_;
  Shared shared_;
  std::thread runner_;
};

void run_ring(benchmark::State& state, Workload w, u64 ops_per_command, const char* label) {
  RingMachine m;
  Counts total;
  u64 ops = 0;
  while (state.KeepRunningBatch(static_cast<benchmark::IterationCount>(ops_per_command))) {
    const Report r = m.run(w, ops_per_command, ops_per_command / 10);
    if (!r.ok) {
      state.SkipWithError("the ring-bench program failed (an operation returned an error, or it exited)");
      break;
    }
    state.SetIterationTime(static_cast<double>(r.elapsed_ns) / 1e9);
    total += r.counts;
    ops += ops_per_command;
  }
  if (ops == 0) return;
  const auto per_op = [&](u64 v) { return static_cast<double>(v) / static_cast<double>(ops); };
  state.counters["doorbells_per_op"] = per_op(total.doorbells);
  state.counters["waits_per_op"] = per_op(total.waits);
  state.counters["blocked_per_op"] = per_op(total.blocked);
  state.counters["server_sleeps_per_op"] = per_op(total.server_sleeps);
  state.counters["sqes_per_op"] = per_op(total.sqes);
  state.counters["flushes_per_op"] = per_op(total.flushes);
  state.counters["empty_polls_per_op"] = per_op(total.empty_polls);
  state.counters["doorbell_ns_per_op"] = per_op(total.doorbell_ns);
  state.counters["wait_ns_per_op"] = per_op(total.wait_ns);
  state.SetLabel(label);
}

// Operations per command: each command is one timed run of a few milliseconds; 20 of them per benchmark run.
constexpr u64 kNopOps = 20'000;
constexpr u64 kBatchOps = 1'000 * kBatch;
constexpr u64 kEchoOps = 10'000;
constexpr u64 kCommands = 20;

void BM_RingNop(benchmark::State& state) {
  run_ring(state, Workload::nop, kNopOps, "co_await cx.nop(), one at a time");
}
void BM_RingNopBatch(benchmark::State& state) {
  run_ring(state, Workload::nop_batch, kBatchOps, "32 coroutines x co_await cx.nop(), joined; per NOP");
}
void BM_RingRawNop(benchmark::State& state) {
  run_ring(state, Workload::raw_nop, kNopOps, "RingClient alone: 1 SQE, flush, spin on the CQ");
}
void BM_RingRawNopBatch(benchmark::State& state) {
  run_ring(state, Workload::raw_nop_batch, kBatchOps, "RingClient alone: 32 SQEs, 1 flush, reap 32; per NOP");
}
void BM_RingEcho(benchmark::State& state) {
  run_ring(state, Workload::echo, kEchoOps, "channel, 2 coroutines, 64 B there and back; per round trip");
}

constexpr u64 kNopIterations = kNopOps * kCommands;
constexpr u64 kBatchIterations = kBatchOps * kCommands;
constexpr u64 kEchoIterations = kEchoOps * kCommands;
BENCHMARK(BM_RingNop)->UseManualTime()->Iterations(kNopIterations);
BENCHMARK(BM_RingNopBatch)->UseManualTime()->Iterations(kBatchIterations);
BENCHMARK(BM_RingRawNop)->UseManualTime()->Iterations(kNopIterations);
BENCHMARK(BM_RingRawNopBatch)->UseManualTime()->Iterations(kBatchIterations);
BENCHMARK(BM_RingEcho)->UseManualTime()->Iterations(kEchoIterations);

// --- Linux baselines. ---

void BM_LinuxGetppid(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(syscall(SYS_getppid));
  state.SetLabel("syscall(SYS_getppid)");
}
BENCHMARK(BM_LinuxGetppid)->UseRealTime();

void BM_IoUringNop(benchmark::State& state) {
  const auto width = static_cast<u32>(state.range(0));
  io_uring ring;
  if (io_uring_queue_init(64, &ring, 0) != 0) {
    state.SkipWithError("io_uring_queue_init failed (io_uring disabled?)");
    return;
  }
  while (state.KeepRunningBatch(width)) {
    for (u32 k = 0; k < width; ++k) io_uring_prep_nop(io_uring_get_sqe(&ring));
    if (io_uring_submit_and_wait(&ring, width) != static_cast<int>(width)) {
      state.SkipWithError("io_uring_submit_and_wait");
      break;
    }
    u32 reaped = 0;
    while (reaped < width) {  // NOPs complete inline: all are there after the submit
      io_uring_cqe* cqe = nullptr;
      unsigned head = 0, seen = 0;
      io_uring_for_each_cqe(&ring, head, cqe) {
        if (cqe->res != 0) state.SkipWithError("io_uring NOP failed");
        ++seen;
      }
      io_uring_cq_advance(&ring, seen);
      reaped += seen;
      if (seen == 0 && io_uring_wait_cqe(&ring, &cqe) != 0) break;
    }
  }
  io_uring_queue_exit(&ring);
  state.SetLabel(width == 1 ? "liburing NOP, submit_and_wait(1)" : "liburing, 32 NOPs, submit_and_wait(32); per NOP");
}
BENCHMARK(BM_IoUringNop)->Arg(1)->UseRealTime()->Name("BM_IoUringNop");
BENCHMARK(BM_IoUringNop)->Arg(kBatch)->UseRealTime()->Name("BM_IoUringNopBatch");

void BM_IoUringSqpollNop(benchmark::State& state) {
  const auto width = static_cast<u32>(state.range(0));
  // Placed like the PlatypOS machine: the poller on host core 0 (the kernel core), this thread on core 1 (the app
  // core); the thread's affinity is restored at the end.
  cpu_set_t saved, app;
  sched_getaffinity(0, sizeof saved, &saved);
  CPU_ZERO(&app);
  CPU_SET(1, &app);
  const bool pinned = std::thread::hardware_concurrency() >= 2 && sched_setaffinity(0, sizeof app, &app) == 0;
  io_uring ring;
  io_uring_params params{};
  params.flags = IORING_SETUP_SQPOLL | (pinned ? IORING_SETUP_SQ_AFF : 0u);
  params.sq_thread_cpu = 0;
  params.sq_thread_idle = 100;  // ms the poller spins before it sleeps
  if (io_uring_queue_init_params(64, &ring, &params) != 0) {
    if (pinned) sched_setaffinity(0, sizeof saved, &saved);
    state.SkipWithError("io_uring_queue_init_params(SQPOLL) failed");
    return;
  }
  while (state.KeepRunningBatch(width)) {
    for (u32 k = 0; k < width; ++k) io_uring_prep_nop(io_uring_get_sqe(&ring));
    io_uring_submit(&ring);  // a system call only if the poller sleeps (IORING_SQ_NEED_WAKEUP)
    u32 reaped = 0;
    while (reaped < width) {
      io_uring_cqe* cqe = nullptr;
      unsigned head = 0, seen = 0;
      io_uring_for_each_cqe(&ring, head, cqe) {
        if (cqe->res != 0) state.SkipWithError("io_uring NOP failed");
        ++seen;
      }
      io_uring_cq_advance(&ring, seen);
      reaped += seen;
      if (seen == 0) _mm_pause();
    }
  }
  io_uring_queue_exit(&ring);
  if (pinned) sched_setaffinity(0, sizeof saved, &saved);
  state.SetLabel(width == 1 ? "liburing SQPOLL NOP, CQ polled" : "liburing SQPOLL, 32 NOPs, CQ polled; per NOP");
}
BENCHMARK(BM_IoUringSqpollNop)->Arg(1)->Arg(kBatch)->UseRealTime();

// The floor of any cross-core round trip on this host: two threads pinned to host cores 0 and 1 (where the machine's
// kernel and app cores run) bounce one cache line. A ring round trip needs at least one of these.
void BM_HostCacheLinePingPong(benchmark::State& state) {
  cpu_set_t saved, core0, core1;
  sched_getaffinity(0, sizeof saved, &saved);
  CPU_ZERO(&core0);
  CPU_SET(0, &core0);
  CPU_ZERO(&core1);
  CPU_SET(1, &core1);
  const bool pinned = std::thread::hardware_concurrency() >= 2 && sched_setaffinity(0, sizeof core1, &core1) == 0;
  alignas(64) std::atomic<u64> line{0};
  std::thread echo([&] {
    if (pinned) sched_setaffinity(0, sizeof core0, &core0);
    for (u64 expect = 1;; expect += 2) {
      u64 v = 0;
      while ((v = line.load(std::memory_order_acquire)) < expect) _mm_pause();
      if (v == ~u64{0}) return;
      line.store(expect + 1, std::memory_order_release);
    }
  });
  u64 next = 1;
  for (auto _ : state) {
    line.store(next, std::memory_order_release);
    while (line.load(std::memory_order_acquire) != next + 1) _mm_pause();
    next += 2;
  }
  line.store(~u64{0}, std::memory_order_release);
  echo.join();
  if (pinned) sched_setaffinity(0, sizeof saved, &saved);
  state.SetLabel("two host threads, cores 0 and 1, one cache line there and back");
}
BENCHMARK(BM_HostCacheLinePingPong)->UseRealTime();

void BM_LinuxEcho(benchmark::State& state) {
  const bool pipes = state.range(0) != 0;
  int a_w = -1, a_r = -1, b_w = -1, b_r = -1;  // A writes a_w, B reads a_r; B writes b_w, A reads b_r
  int fds[4];
  if (pipes) {
    if (pipe(fds) != 0 || pipe(fds + 2) != 0) std::abort();
    a_r = fds[0], a_w = fds[1], b_r = fds[2], b_w = fds[3];
  } else {
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds) != 0) std::abort();
    a_w = b_r = fds[0];
    a_r = b_w = fds[1];
  }
  char msg[64] = {}, buf[64], reply[64];
  for (auto _ : state) {
    if (write(a_w, msg, sizeof msg) != sizeof msg) std::abort();
    const ssize_t n = read(a_r, buf, sizeof buf);
    if (n != sizeof buf || write(b_w, buf, static_cast<size_t>(n)) != n) std::abort();
    if (read(b_r, reply, sizeof reply) != sizeof reply) std::abort();
  }
  for (int i = 0; i < (pipes ? 4 : 2); ++i) close(fds[i]);
  state.SetLabel(pipes ? "one thread, two pipes: write, read, write, read (64 B)"
                       : "one thread, SOCK_SEQPACKET socketpair: write, read, write, read (64 B)");
}
BENCHMARK(BM_LinuxEcho)->ArgName("pipes")->Arg(1)->Arg(0)->UseRealTime();

// The kernel's own cost per entry, without any cross-core traffic: on the benchmark thread, 32 NOP entries are written
// into a ring, Ring::consume() runs them (validation, execution, completion), and the 32 completions are read back.
// What is left of BM_RingRawNopBatch above this is the cost of moving entries and completions between two cores.
void BM_RingKernelSameCore(benchmark::State& state) {
  hosted::Machine machine({.cpus = 2, .memory_bytes = 64 * MiB});
  hosted::Kernel kernel({.cpus = 2, .kernel_cores = 1});
  proc::Process* p = kernel.processes().spawn({.name = "bench", .cores = 1, .memory_bytes = 4 * MiB}).value();
  const sched::ProcessId pid = p->id();
  const PhysAddr mem_phys = p->account().alloc_pages(2).value();
  void* mem = p->account().direct_map().to_virt(mem_phys);
  ring::Ring* r = ring::Ring::create(*p, mem, kPageSize << 2, {}).value();
  abi::RingHeader* hdr = r->header();
  auto* sq = reinterpret_cast<abi::Sqe*>(reinterpret_cast<u8*>(hdr) + hdr->sq_offset);
  auto* cq = reinterpret_cast<abi::Cqe*>(reinterpret_cast<u8*>(hdr) + hdr->cq_offset);
  const u32 sq_mask = hdr->sq_entries - 1, cq_mask = hdr->cq_entries - 1;
  u32 tail = 0, head = 0;
  u64 sum = 0;
  while (state.KeepRunningBatch(kBatch)) {
    for (u32 i = 0; i < kBatch; ++i) {
      abi::Sqe& e = sq[tail++ & sq_mask];
      e = abi::Sqe{};
      e.user_data = i + 1;
    }
    hdr->sq_tail.store(tail, std::memory_order_release);
    r->consume(kBatch);
    const u32 t = hdr->cq_tail.load(std::memory_order_acquire);
    for (; head != t; ++head) sum += cq[head & cq_mask].user_data;
    hdr->cq_head.store(head, std::memory_order_release);
  }
  benchmark::DoNotOptimize(sum);
  r->destroy();
  p->account().free_pages(mem_phys, 2);
  (void)kernel.processes().exit(pid);
}
BENCHMARK(BM_RingKernelSameCore)->Name("BM_RingKernelSameCore/32")->UseRealTime();

// Google Benchmark's names for the ring benchmarks (the registrar copies them).
std::string ring_name(const char* benchmark, u64 ops_per_command) {
  return std::string(benchmark) + "/iterations:" + std::to_string(ops_per_command * kCommands) + "/manual_time";
}
PLATYPOS_BENCH_RATIO("ring NOP round trip / getppid (target <= 0.333)", ring_name("BM_RingNop", kNopOps).c_str(),
                     "BM_LinuxGetppid/real_time");
PLATYPOS_BENCH_RATIO("raw ring NOP round trip / getppid", ring_name("BM_RingRawNop", kNopOps).c_str(),
                     "BM_LinuxGetppid/real_time");
PLATYPOS_BENCH_RATIO("ring NOP round trip / io_uring NOP alone", ring_name("BM_RingNop", kNopOps).c_str(),
                     "BM_IoUringNop/1/real_time");
PLATYPOS_BENCH_RATIO("ring NOP batch 32 / io_uring NOP batch 32, per op (target <= 0.25)",
                     ring_name("BM_RingNopBatch", kBatchOps).c_str(), "BM_IoUringNopBatch/32/real_time");
PLATYPOS_BENCH_RATIO("ring kernel work per NOP, same core / io_uring NOP batch 32, per op",
                     "BM_RingKernelSameCore/32/real_time", "BM_IoUringNopBatch/32/real_time");
PLATYPOS_BENCH_RATIO("raw ring NOP batch 32 / io_uring NOP batch 32, per op",
                     ring_name("BM_RingRawNopBatch", kBatchOps).c_str(), "BM_IoUringNopBatch/32/real_time");
PLATYPOS_BENCH_RATIO("ring NOP round trip / io_uring SQPOLL NOP alone", ring_name("BM_RingNop", kNopOps).c_str(),
                     "BM_IoUringSqpollNop/1/real_time");
PLATYPOS_BENCH_RATIO("ring NOP batch 32 / io_uring SQPOLL NOP batch 32, per op",
                     ring_name("BM_RingNopBatch", kBatchOps).c_str(), "BM_IoUringSqpollNop/32/real_time");
PLATYPOS_BENCH_RATIO("ring echo 64 B / Linux echo over two pipes, one thread",
                     ring_name("BM_RingEcho", kEchoOps).c_str(), "BM_LinuxEcho/pipes:1/real_time");
PLATYPOS_BENCH_RATIO("ring echo 64 B / Linux echo over a SEQPACKET socketpair, one thread",
                     ring_name("BM_RingEcho", kEchoOps).c_str(), "BM_LinuxEcho/pipes:0/real_time");

}  // namespace
}  // namespace platypos
