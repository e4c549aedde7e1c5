// The scheduler on the machine it runs on: real interrupts and a real timer in the kernel, threads-mode timers in the
// hosted ktest binary. Each test builds a one-CPU scheduler over the kernel's memory, runs it on the current CPU
// (run_cpu() returns once a task calls stop()), and checks what its tasks did.

#include <platypos/ktest/ktest.hpp>
#include <platypos/mm/kernel_memory.hpp>
#include <platypos/sched/scheduler.hpp>
#include <platypos/sched/wait_queue.hpp>

#include <new>

namespace platypos::sched {
namespace {

alignas(Scheduler) constinit unsigned char g_storage[sizeof(Scheduler)] = {};

// A scheduler for one test: installed while it lives; run() runs this CPU's scheduler until a task stops it.
class OneCpu {
 public:
  explicit OneCpu(Policy policy, u64 quantum_ns = 1'000'000) {
    s_ = new (g_storage) Scheduler({.cpus = 1, .kernel_cores = 1, .policy = policy, .quantum_ns = quantum_ns},
                                   KernelMemory::instance()->page_source());
    Scheduler::install(s_);
  }
  ~OneCpu() {
    Platform::set_timer_handler(nullptr);
    Platform::timer_cancel();
    Scheduler::install(nullptr);
    s_->~Scheduler();
  }
  Scheduler& s() { return *s_; }
  void run() { s_->run_cpu(); }

 private:
  Scheduler* s_;
};

struct Trace {
  u32 order[32] = {};
  u32 n = 0;
  u32 finished = 0;
};

struct RoundRobinArg {
  Trace* trace;
  u32 id;
};

KTEST(sched, yield_is_round_robin) {
  OneCpu cpu(Policy::dedicated);
  Trace trace;
  RoundRobinArg args[3] = {{&trace, 0}, {&trace, 1}, {&trace, 2}};
  for (auto& a : args) {
    KASSERT_OK(cpu.s().create_task(
        kNoProcess, "rr",
        [](void* p) {
          auto* a = static_cast<RoundRobinArg*>(p);
          for (int i = 0; i < 4; ++i) {
            a->trace->order[a->trace->n++] = a->id;
            scheduler().yield();
          }
          if (++a->trace->finished == 3) scheduler().stop();
        },
        &a));
  }
  const u64 free_pages = KernelMemory::instance()->pages().free_pages();
  cpu.run();
  KASSERT_EQ(trace.n, 12u);
  for (u32 i = 0; i < 12; ++i) KEXPECT_EQ(trace.order[i], i % 3);
  KEXPECT_EQ(cpu.s().live_tasks(), 0u);
  // The three stacks went back (they were taken before free_pages was read).
  KEXPECT_GT(KernelMemory::instance()->pages().free_pages(), free_pages);
}

struct SleepArg {
  u64 asked = 2'000'000;
  u64 slept = 0;
};

KTEST(sched, sleep_wakes_on_the_timer) {
  OneCpu cpu(Policy::dedicated);
  SleepArg arg;
  KASSERT_OK(cpu.s().create_task(
      kNoProcess, "sleeper",
      [](void* p) {
        auto* a = static_cast<SleepArg*>(p);
        const u64 t0 = Platform::now_ns();
        scheduler().sleep_for(a->asked);
        a->slept = Platform::now_ns() - t0;
        scheduler().stop();
      },
      &arg));
  cpu.run();
  KEXPECT_GE(arg.slept, arg.asked);  // never early; how late depends on the machine, so no upper bound
  KEXPECT_GE(cpu.s().cpu_stats(0).timer_irqs, 1u);
}

struct PingPong {
  WaitQueue q[2] = {WaitQueue("ping"), WaitQueue("pong")};
  int turn = 0;
  int rounds = 0;
  int done = 0;
};
struct Player {
  PingPong* g;
  int me;
};

KTEST(sched, wait_queue_ping_pong) {
  OneCpu cpu(Policy::dedicated);
  PingPong g;
  Player players[2] = {{&g, 0}, {&g, 1}};
  for (auto& pl : players) {
    KASSERT_OK(cpu.s().create_task(
        kNoProcess, "player",
        [](void* p) {
          auto* pl = static_cast<Player*>(p);
          PingPong& g = *pl->g;
          for (int i = 0; i < 200; ++i) {
            g.q[pl->me].wait_while([&] { return g.turn != pl->me; });
            ++g.rounds;
            g.turn = 1 - pl->me;
            g.q[1 - pl->me].wake_one();
          }
          if (++g.done == 2) scheduler().stop();
        },
        &pl));
  }
  cpu.run();
  KEXPECT_EQ(g.rounds, 400);
}

struct Spin {
  volatile bool released = false;
  bool spinner_done = false;
};

// One CPU, a task that spins until another task releases it: only timer preemption (timeshare) lets the other run.
KTEST(sched, timeshare_preempts_a_spinning_task) {
  OneCpu cpu(Policy::timeshare, 1'000'000);
  Spin spin;
  KASSERT_OK(cpu.s().create_task(
      kNoProcess, "spinner",
      [](void* p) {
        auto* sp = static_cast<Spin*>(p);
        while (!sp->released) Platform::delay_ns(10'000);
        sp->spinner_done = true;
        scheduler().stop();
      },
      &spin));
  KASSERT_OK(cpu.s().create_task(
      kNoProcess, "releaser", [](void* p) { static_cast<Spin*>(p)->released = true; }, &spin));
  cpu.run();
  KEXPECT_TRUE(spin.spinner_done);
  KEXPECT_GE(cpu.s().cpu_stats(0).preemptions, 1u);
}

KTEST(sched, admission_and_exit_return_everything) {
  KernelMemory& mem = *KernelMemory::instance();
  mem.heap().reclaim();  // empty slabs left by earlier tests would come back below and blur the count
  const u64 free_before = mem.pages().free_pages();
  {
    OneCpu cpu(Policy::dedicated);
    AdmissionShortfall why;
    // Dedicated policy, one CPU, and it is a kernel core: no app core to give.
    KEXPECT_EQ(cpu.s().spawn({.name = "app", .cores = 1, .memory_bytes = 1 * MiB}, &why).error(), Error::no_resources);
    KEXPECT_EQ(why.resource, AdmissionShortfall::Resource::cores);
    KEXPECT_EQ(mem.pages().free_pages(), free_before);
  }
  {
    OneCpu cpu(Policy::timeshare);
    const ProcessId p = cpu.s().spawn({.name = "app", .cores = 1, .memory_bytes = 2 * MiB}).value();
    KEXPECT_LT(mem.pages().free_pages(), free_before);
    KASSERT_OK(cpu.s().create_task(
        p, "worker",
        [](void*) {
          for (;;) scheduler().sleep_for(1'000'000);
        },
        nullptr));
    struct Ctl {
      ProcessId p;
      Error second = Error::none;
    } ctl{p};
    KASSERT_OK(cpu.s().create_task(
        kNoProcess, "killer",
        [](void* a) {
          auto* c = static_cast<Ctl*>(a);
          scheduler().sleep_for(500'000);
          scheduler().exit_process(c->p).expect("exit");
          c->second = scheduler().exit_process(c->p).error_or_none();
          while (scheduler().live_tasks() > 1) scheduler().sleep_for(100'000);
          scheduler().stop();
        },
        &ctl));
    cpu.run();
    KEXPECT_EQ(ctl.second, Error::bad_state);
    KEXPECT_EQ(cpu.s().find_process(p), nullptr);
  }
  mem.heap().reclaim();
  KEXPECT_EQ(mem.pages().free_pages(), free_before);
}

}  // namespace
}  // namespace platypos::sched
