// The application processors (bare metal only): each one knows its id through GS, takes its own timer interrupt,
// is woken from hlt by cpu_wake()'s IPI, and runs the same Scheduler as the boot CPU. With one CPU (QEMU's default
// -smp 1) there is nothing to check and each test passes trivially; tests/qemu runs the suite with -smp 4.
//
// Nothing here depends on timing: every wait is for an event (a flag, a wake-up), never for a duration; a lost
// event is a hang, which the QEMU runner's timeout reports with the test's name.

#include <platypos/baremetal/smp.hpp>
#include <platypos/base/print.hpp>
#include <platypos/base/units.hpp>
#include <platypos/ktest/ktest.hpp>
#include <platypos/mm/kernel_memory.hpp>
#include <platypos/sched/scheduler.hpp>
#include <platypos/sched/wait_queue.hpp>

#include <atomic>
#include <new>

namespace platypos::baremetal {
namespace {

constexpr u32 kMaxTestCpus = 16;

bool several_cpus() {
  if (Platform::cpu_count() >= 2) return true;
  print("smp: one cpu: nothing to check (tests/qemu runs this suite with -smp 4)\n");
  return false;
}

u32 cpus() { return Platform::cpu_count() < kMaxTestCpus ? Platform::cpu_count() : kMaxTestCpus; }

// Runs fn(arg) on every application processor at once and waits for all of them.
void on_every_ap(void (*fn)(void*), void* arg) {
  for (CpuId c = 1; c < cpus(); ++c) smp::run_on_cpu(c, fn, arg);
  for (CpuId c = 1; c < cpus(); ++c) smp::wait_for_cpu(c);
}

// The trampoline's pages came from the RangePool (KernelMemory::init's early allocations): they show in its map as
// one smp_trampoline range below 1 MiB, above page 0, and nowhere else (the buddy allocator never had them).
KTEST(smp, trampoline_pages_are_in_the_range_pool) {
  KernelMemory* m = KernelMemory::instance();
  KASSERT_TRUE(m != nullptr);
  u32 ranges = 0;
  u64 base = 0;
  u64 bytes = 0;
  m->pool().for_each([&](const MemoryRange& r) {
    if (r.type != MemoryType::smp_trampoline) return;
    ++ranges;
    base = r.base;
    bytes = r.size;
  });
  KEXPECT_EQ(ranges, 1u);
  KEXPECT_EQ(bytes, 4 * kPageSize);
  KEXPECT_GE(base, kPageSize);
  KEXPECT_LE(base + bytes, 1 * MiB);
  KEXPECT_TRUE(m->pool().check_invariants());
}

KTEST(smp, every_cpu_knows_its_id) {
  if (!several_cpus()) return;
  static std::atomic<u32> seen[kMaxTestCpus];
  for (auto& s : seen) s.store(~u32{0});
  on_every_ap(
      [](void*) {
        // The id comes from this CPU's GS base; the slot from the same id: a wrong GS shows as a wrong or empty slot.
        const CpuId me = Platform::current_cpu();
        if (me < kMaxTestCpus) seen[me].store(me);
      },
      nullptr);
  KEXPECT_EQ(Platform::current_cpu(), 0u);
  for (CpuId c = 1; c < cpus(); ++c) KEXPECT_EQ(seen[c].load(), c);
}

std::atomic<u64> g_fired_at[kMaxTestCpus];

// Each CPU arms its own one-shot timer and idles until its own interrupt arrives.
void wait_for_own_timer(void* deadlines) {
  const CpuId me = Platform::current_cpu();
  const u64 deadline = Platform::now_ns() + 1'000'000;
  static_cast<u64*>(deadlines)[me] = deadline;
  Platform::timer_arm(deadline);
  while (g_fired_at[me].load() == 0) Platform::cpu_idle();
}

KTEST(smp, timer_fires_on_every_cpu) {
  if (!several_cpus()) return;
  for (auto& f : g_fired_at) f.store(0);
  u64 deadlines[kMaxTestCpus] = {};
  Platform::set_timer_handler([](u64 now) {
    const CpuId me = Platform::current_cpu();
    if (me < kMaxTestCpus) g_fired_at[me].store(now);
  });
  for (CpuId c = 1; c < cpus(); ++c) smp::run_on_cpu(c, &wait_for_own_timer, deadlines);
  wait_for_own_timer(deadlines);
  for (CpuId c = 1; c < cpus(); ++c) smp::wait_for_cpu(c);
  Platform::set_timer_handler(nullptr);
  for (CpuId c = 0; c < cpus(); ++c) {
    KEXPECT_NE(deadlines[c], 0u);
    KEXPECT_GE(g_fired_at[c].load(), deadlines[c]);  // never early; no upper bound (the machine's speed)
  }
}

std::atomic<bool> g_released[kMaxTestCpus];

KTEST(smp, cpu_wake_ends_the_hlt_of_another_cpu) {
  if (!several_cpus()) return;
  for (auto& r : g_released) r.store(false);
  for (CpuId c = 1; c < cpus(); ++c) {
    smp::run_on_cpu(
        c,
        [](void*) {
          while (!g_released[Platform::current_cpu()].load()) Platform::cpu_idle();
        },
        nullptr);
  }
  for (CpuId c = 1; c < cpus(); ++c) {
    // Once the AP is in cpu_idle() (its wake-up flag consumed by then, or about to be), only the IPI that cpu_wake()
    // sends can get it out of hlt: a lost wake-up hangs here.
    while (!smp::cpu_is_idle(c)) Platform::cpu_relax();
    g_released[c].store(true);
    Platform::cpu_wake(c);
    smp::wait_for_cpu(c);
  }
}

// --- One Scheduler on every CPU -------------------------------------------------------------------------------

alignas(sched::Scheduler) constinit unsigned char g_storage[sizeof(sched::Scheduler)] = {};

struct Shared {
  sched::WaitQueue q[2] = {sched::WaitQueue("ping"), sched::WaitQueue("pong")};
  std::atomic<int> turn{0};
  std::atomic<int> rounds{0};
  std::atomic<u32> done{0};
  u32 tasks = 0;
};

struct Worker {
  Shared* shared;
  u32 index;
  sched::ProcessId pid = sched::kNoProcess;
  CpuId before = kMaxCpus;
  CpuId after = kMaxCpus;
};

constexpr int kRounds = 100;

void worker(void* p) {
  auto* w = static_cast<Worker*>(p);
  Shared& g = *w->shared;
  w->before = Platform::current_cpu();
  sched::scheduler().sleep_for(1'000'000);  // this CPU's timer, through the scheduler
  // With a partner, the first two play ping-pong: every wake-up goes to a task on another CPU (cpu_wake's IPI).
  if (g.tasks >= 2 && w->index < 2) {
    const int me = static_cast<int>(w->index);
    for (int i = 0; i < kRounds; ++i) {
      g.q[me].wait_while([&] { return g.turn.load() != me; });
      g.rounds.fetch_add(1);
      g.turn.store(1 - me);
      g.q[1 - me].wake_one();
    }
  }
  w->after = Platform::current_cpu();
  if (g.done.fetch_add(1) + 1 == g.tasks) sched::scheduler().stop();
}

KTEST(smp, scheduler_runs_processes_on_their_dedicated_cores) {
  if (!several_cpus()) return;
  const u32 n = cpus();
  // Installed for this test only, and taken down however the test ends.
  struct Installed {
    sched::Scheduler* s;
    explicit Installed(u32 cpus)
        : s(new (g_storage) sched::Scheduler({.cpus = cpus, .kernel_cores = 1, .policy = sched::Policy::dedicated},
                                             KernelMemory::instance()->page_source())) {
      sched::Scheduler::install(s);
    }
    ~Installed() {
      Platform::set_timer_handler(nullptr);
      Platform::timer_cancel();
      sched::Scheduler::install(nullptr);
      s->~Scheduler();
    }
  } installed(n);
  sched::Scheduler* s = installed.s;
  Shared shared;
  shared.tasks = n - 1;
  Worker workers[kMaxTestCpus] = {};
  for (u32 i = 0; i + 1 < n; ++i) {
    workers[i].shared = &shared;
    workers[i].index = i;
    workers[i].pid = s->spawn({.name = "app", .cores = 1, .memory_bytes = 256 * KiB}).value();
    KASSERT_OK(s->create_task(workers[i].pid, "worker", &worker, &workers[i]));
  }
  for (CpuId c = 1; c < n; ++c)
    smp::run_on_cpu(
        c, [](void* sp) { static_cast<sched::Scheduler*>(sp)->run_cpu(); }, s);
  s->run_cpu();
  for (CpuId c = 1; c < n; ++c) smp::wait_for_cpu(c);

  bool used[kMaxTestCpus] = {};
  for (u32 i = 0; i + 1 < n; ++i) {
    const Worker& w = workers[i];
    KEXPECT_NE(w.before, 0u);       // cpu 0 is the kernel core
    KEXPECT_EQ(w.after, w.before);  // a dedicated core: never moved
    KASSERT_LT(w.before, n);
    KEXPECT_FALSE(used[w.before]);  // one core per process
    used[w.before] = true;
    KEXPECT_GE(s->cpu_stats(w.before).timer_irqs, 1u);
  }
  if (n >= 3) KEXPECT_EQ(shared.rounds.load(), 2 * kRounds);
}

}  // namespace
}  // namespace platypos::baremetal
