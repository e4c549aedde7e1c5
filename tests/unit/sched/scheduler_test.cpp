// The scheduler, driven by the deterministic simulator: virtual time is the fake clock, so quanta, sleeps and
// placements are checked exactly.

#include <platypos/hosted/kernel.hpp>
#include <platypos/hosted/sim_machine.hpp>
#include <platypos/sched/scheduler.hpp>
#include <platypos/sched/wait_queue.hpp>

#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "test_support.hpp"

namespace platypos::sched {
namespace {

using hosted::Kernel;
using hosted::SimMachine;

struct SimKernel {
  SimKernel(u32 cpus, u32 kernel_cores, Policy policy = Policy::dedicated, u64 seed = 1, u64 quantum = 1'000'000)
      : sim({.cpus = cpus, .seed = seed, .memory_bytes = 256 * MiB}),
        kernel({.cpus = cpus, .kernel_cores = kernel_cores, .policy = policy, .quantum_ns = quantum}) {}
  Scheduler& s() { return kernel.scheduler(); }
  hosted::SimReport run() {
    return sim.run([&](CpuId) { kernel.scheduler().run_cpu(); });
  }
  SimMachine sim;
  Kernel kernel;
};

TEST(SchedulerAdmission, AllOrNothing) {
  SimKernel k(8, 2);
  Scheduler& s = k.s();
  const u64 free_pages = k.kernel.pages().free_pages();
  EXPECT_EQ(s.free_app_cores(), 6u);

  AdmissionShortfall why;
  EXPECT_EQ(s.spawn({.name = "huge", .cores = 7, .memory_bytes = 1 * MiB}, &why).error(), Error::no_resources);
  EXPECT_EQ(why.resource, AdmissionShortfall::Resource::cores);
  EXPECT_EQ(why.requested, 7u);
  EXPECT_EQ(why.available, 6u);
  EXPECT_EQ(s.spawn({.name = "greedy", .cores = 1, .memory_bytes = 1 * GiB}, &why).error(), Error::no_resources);
  EXPECT_EQ(why.resource, AdmissionShortfall::Resource::memory);
  EXPECT_EQ(s.spawn({.name = "none", .cores = 0}).error(), Error::invalid_argument);
  EXPECT_EQ(s.spawn({.name = "", .cores = 1}).error(), Error::invalid_argument);
  // Nothing stayed reserved after those failures.
  EXPECT_EQ(s.free_app_cores(), 6u);
  EXPECT_EQ(k.kernel.pages().free_pages(), free_pages);

  const ProcessId a = s.spawn({.name = "a", .cores = 4, .memory_bytes = 8 * MiB}).value();
  EXPECT_EQ(s.free_app_cores(), 2u);
  Process* pa = s.find_process(a);
  ASSERT_NE(pa, nullptr);
  EXPECT_EQ(pa->cores().count(), 4u);
  for (CpuId c = 2; c < 6; ++c) {
    EXPECT_TRUE(pa->cores().has(c));
    EXPECT_EQ(s.role(c), CoreRole::app_assigned);
    EXPECT_EQ(s.owner(c), a);
  }
  EXPECT_EQ(pa->memory()->capacity_bytes(), 8 * MiB);
  EXPECT_LT(k.kernel.pages().free_pages(), free_pages);
  EXPECT_EQ(s.spawn({.name = "b", .cores = 3}).error(), Error::no_resources);

  ASSERT_TRUE(s.exit_process(a).has_value());  // no tasks: finished at once
  EXPECT_EQ(s.free_app_cores(), 6u);
  k.kernel.reclaim();  // the kernel heap keeps an empty slab (from the process object) until asked
  EXPECT_EQ(k.kernel.pages().free_pages(), free_pages);
  EXPECT_EQ(s.exit_process(a).error(), Error::bad_state);          // exiting twice
  EXPECT_EQ(s.exit_process(a + 12345).error(), Error::not_found);  // never existed
  EXPECT_EQ(s.exit_process(kNoProcess).error(), Error::not_found);
  EXPECT_EQ(s.create_task(
                 a, "late", [](void*) {}, nullptr)
                .error(),
            Error::bad_state);  // it exited
}

TEST(SchedulerAdmission, ProcessSlotsRunOut) {
  SimKernel k(4, 1, Policy::timeshare);  // timeshare: cores are not reserved, so only slots limit spawning
  std::vector<ProcessId> ids;
  for (usize i = 0; i < Scheduler::kMaxProcesses; ++i) ids.push_back(k.s().spawn({.name = "p", .cores = 1}).value());
  AdmissionShortfall why;
  EXPECT_EQ(k.s().spawn({.name = "one more", .cores = 1}, &why).error(), Error::no_resources);
  EXPECT_EQ(why.resource, AdmissionShortfall::Resource::process_slots);
  for (ProcessId p : ids) ASSERT_TRUE(k.s().exit_process(p).has_value());
  // Slots come back, with new ids: the old ones are stale.
  const ProcessId again = k.s().spawn({.name = "again", .cores = 1}).value();
  EXPECT_NE(again, ids[0]);
  EXPECT_EQ(k.s().exit_process(ids[1]).error(), Error::bad_state);
  ASSERT_TRUE(k.s().exit_process(again).has_value());
}

// Each task records the CPUs it ran on over many yields.
struct Placement {
  std::set<CpuId> cpus;
  int rounds = 0;
};

void record_cpus(void* arg) {
  auto* p = static_cast<Placement*>(arg);
  for (int i = 0; i < 200; ++i) {
    p->cpus.insert(Platform::current_cpu());
    Platform::delay_ns(1000 + 37 * (i % 7));
    scheduler().yield();
    ++p->rounds;
  }
}

TEST(SchedulerDedicated, TasksRunOnlyOnTheirCores) {
  SimKernel k(8, 2, Policy::dedicated, 7);
  Scheduler& s = k.s();
  const ProcessId a = s.spawn({.name = "a", .cores = 2, .memory_bytes = 4 * MiB}).value();
  const ProcessId b = s.spawn({.name = "b", .cores = 3, .memory_bytes = 4 * MiB}).value();
  std::vector<Placement> pa(5), pb(5), pk(3);
  for (auto& p : pa) ASSERT_TRUE(s.create_task(a, "a-worker", &record_cpus, &p).has_value());
  for (auto& p : pb) ASSERT_TRUE(s.create_task(b, "b-worker", &record_cpus, &p).has_value());
  for (auto& p : pk) ASSERT_TRUE(s.create_task(kNoProcess, "kworker", &record_cpus, &p).has_value());
  // A kernel task stops the scheduler once everything is done.
  struct Stopper {
    Scheduler* s;
  } stopper{&s};
  ASSERT_TRUE(s.create_task(
                   kNoProcess, "stopper",
                   [](void* arg) {
                     Scheduler* sch = static_cast<Stopper*>(arg)->s;
                     while (sch->live_tasks() > 1) sch->sleep_for(100'000);
                     sch->stop();
                   },
                   &stopper)
                  .has_value());
  const Process* proc_a = s.find_process(a);
  const Process* proc_b = s.find_process(b);
  const CpuSet cores_a = proc_a->cores(), cores_b = proc_b->cores();
  const auto report = k.run();
  EXPECT_FALSE(report.stuck) << report.stuck_reason;
  std::set<CpuId> used_a, used_b, used_k;
  for (auto& p : pa) {
    EXPECT_EQ(p.rounds, 200);
    used_a.insert(p.cpus.begin(), p.cpus.end());
  }
  for (auto& p : pb) used_b.insert(p.cpus.begin(), p.cpus.end());
  for (auto& p : pk) used_k.insert(p.cpus.begin(), p.cpus.end());
  for (CpuId c : used_a) EXPECT_TRUE(cores_a.has(c)) << "a ran on cpu " << c;
  for (CpuId c : used_b) EXPECT_TRUE(cores_b.has(c)) << "b ran on cpu " << c;
  for (CpuId c : used_k) EXPECT_LT(c, 2u) << "kernel task ran on app cpu " << c;
  EXPECT_EQ(used_a.size(), 2u);  // both of a's cores were used
  EXPECT_EQ(used_b.size(), 3u);
  // The processes' last tasks ended: they exited on their own and gave everything back.
  EXPECT_EQ(s.find_process(a), nullptr);
  EXPECT_EQ(s.free_app_cores(), 6u);
  EXPECT_EQ(s.live_tasks(), 0u);
  k.kernel.reclaim();
  EXPECT_EQ(k.kernel.pages().free_pages(), k.kernel.boot_free_pages());
  // App cores were never preempted under the dedicated policy.
  for (CpuId c = 0; c < 8; ++c) EXPECT_EQ(s.cpu_stats(c).preemptions, 0u);
}

// Two CPU-bound tasks on one core, never yielding: the timer splits the core between them in quanta.
struct Timeline {
  std::vector<std::pair<u64, int>> runs;  // (time the task was seen running after the other, task)
  int last = 0;
};
struct Spinner {
  Timeline* tl;
  int id;
  u64 until;
};

void spin(void* arg) {
  auto* sp = static_cast<Spinner*>(arg);
  while (Platform::now_ns() < sp->until) {
    if (sp->tl->last != sp->id) {
      sp->tl->runs.push_back({Platform::now_ns(), sp->id});
      sp->tl->last = sp->id;
    }
    Platform::delay_ns(10'000);
  }
}

TEST(SchedulerTimeshare, QuantumSplitsTheCore) {
  constexpr u64 kQuantum = 1'000'000;
  SimKernel k(1, 1, Policy::timeshare, 3, kQuantum);
  Scheduler& s = k.s();
  Timeline tl;
  Spinner a{&tl, 1, 40 * kQuantum}, b{&tl, 2, 40 * kQuantum};
  const ProcessId p = s.spawn({.name = "spinners", .cores = 1, .memory_bytes = 1 * MiB}).value();
  ASSERT_TRUE(s.create_task(p, "a", &spin, &a).has_value());
  ASSERT_TRUE(s.create_task(p, "b", &spin, &b).has_value());
  ASSERT_TRUE(s.create_task(
                   kNoProcess, "stopper",
                   [](void* arg) {
                     auto* sch = static_cast<Scheduler*>(arg);
                     while (sch->live_tasks() > 1) sch->sleep_for(kQuantum);
                     sch->stop();
                   },
                   &s)
                  .has_value());
  const auto report = k.run();
  ASSERT_FALSE(report.stuck) << report.stuck_reason;
  // The spinners alternate; every turn lasts one quantum, give or take the stopper's brief visits and one 10 us
  // work step (the timer interrupts at the next scheduling point after the deadline).
  ASSERT_GE(tl.runs.size(), 30u);
  usize checked = 0;
  for (usize i = 1; i + 2 < tl.runs.size(); ++i) {
    EXPECT_NE(tl.runs[i].second, tl.runs[i + 1].second);
    const u64 turn = tl.runs[i + 1].first - tl.runs[i].first;
    EXPECT_GE(turn, kQuantum - 10'000) << "turn " << i;
    EXPECT_LE(turn, kQuantum + 40'000) << "turn " << i;
    ++checked;
  }
  EXPECT_GE(checked, 25u);
  EXPECT_GE(s.cpu_stats(0).preemptions, 30u);
}

// A process with tasks blocked on a wait queue, sleeping, and spinning with yields: exiting it kills them all at
// their next scheduler call and gives back its cores and memory.
struct Victims {
  WaitQueue wq{"never signalled"};
  int started = 0;
  bool exited_self = false;
};

TEST(SchedulerExit, KillsBlockedSleepingAndRunningTasksAndReleasesEverything) {
  SimKernel k(6, 1, Policy::dedicated, 11);
  Scheduler& s = k.s();
  const u64 boot_free = k.kernel.boot_free_pages();
  Victims v;
  const ProcessId p = s.spawn({.name = "victim", .cores = 3, .memory_bytes = 16 * MiB}).value();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(s.create_task(
                     p, "waiter",
                     [](void* arg) {
                       auto* vv = static_cast<Victims*>(arg);
                       ++vv->started;
                       for (;;) vv->wq.wait_while([] { return true; });
                     },
                     &v)
                    .has_value());
    ASSERT_TRUE(s.create_task(
                     p, "sleeper",
                     [](void* arg) {
                       ++static_cast<Victims*>(arg)->started;
                       for (;;) scheduler().sleep_for(1'000'000'000);
                     },
                     &v)
                    .has_value());
    ASSERT_TRUE(s.create_task(
                     p, "spinner",
                     [](void* arg) {
                       ++static_cast<Victims*>(arg)->started;
                       for (;;) {
                         Platform::delay_ns(5'000);
                         scheduler().yield();
                       }
                     },
                     &v)
                    .has_value());
  }
  struct Ctl {
    Scheduler* s;
    ProcessId p;
    Victims* v;
    Error second_exit = Error::none;
  } ctl{&s, p, &v};
  ASSERT_TRUE(s.create_task(
                   kNoProcess, "killer",
                   [](void* arg) {
                     auto* c = static_cast<Ctl*>(arg);
                     c->s->sleep_for(2'000'000);
                     c->s->exit_process(c->p).expect("exit");
                     c->second_exit = c->s->exit_process(c->p).error_or_none();
                     while (c->s->live_tasks() > 1) c->s->sleep_for(100'000);
                     c->s->stop();
                   },
                   &ctl)
                  .has_value());
  const auto report = k.run();
  ASSERT_FALSE(report.stuck) << report.stuck_reason;
  EXPECT_EQ(v.started, 9);
  EXPECT_EQ(ctl.second_exit, Error::bad_state);
  EXPECT_EQ(v.wq.waiters(), 0u);
  EXPECT_EQ(s.find_process(p), nullptr);
  EXPECT_EQ(s.free_app_cores(), 5u);
  EXPECT_EQ(s.live_tasks(), 0u);
  k.kernel.reclaim();
  EXPECT_EQ(k.kernel.pages().free_pages(), boot_free) << "pages leaked";
  EXPECT_EQ(k.kernel.heap().live_objects(), 0u);
}

// Sleeping is exact in virtual time, and wake-ups racing with block() are never lost: two tasks on different
// cores hand a token back and forth 500 times through wait queues.
struct Pong {
  WaitQueue q[2] = {WaitQueue("ping"), WaitQueue("pong")};
  int turn = 0;
  int rounds = 0;
  u64 slept_from = 0, slept_to = 0;
};
struct Player {
  Pong* g;
  int me;
};

void play(void* arg) {
  auto* pl = static_cast<Player*>(arg);
  Pong& g = *pl->g;
  for (int i = 0; i < 500; ++i) {
    while (g.turn != pl->me) g.q[pl->me].wait_while([&] { return g.turn != pl->me; });
    ++g.rounds;
    Platform::delay_ns(700);
    g.turn = 1 - pl->me;
    g.q[1 - pl->me].wake_one();
  }
}

TEST(SchedulerWake, SleepAndPingPong) {
  SimKernel k(4, 2, Policy::dedicated, 5);
  Scheduler& s = k.s();
  Pong g;
  Player p0{&g, 0}, p1{&g, 1};
  const ProcessId p = s.spawn({.name = "pp", .cores = 2, .memory_bytes = 2 * MiB}).value();
  ASSERT_TRUE(s.create_task(p, "ping", &play, &p0).has_value());
  ASSERT_TRUE(s.create_task(p, "pong", &play, &p1).has_value());
  ASSERT_TRUE(s.create_task(
                   kNoProcess, "sleeper",
                   [](void* arg) {
                     auto* pg = static_cast<Pong*>(arg);
                     pg->slept_from = Platform::now_ns();
                     scheduler().sleep_for(3'000'000);
                     pg->slept_to = Platform::now_ns();
                     while (scheduler().live_tasks() > 1) scheduler().sleep_for(50'000);
                     scheduler().stop();
                   },
                   &g)
                  .has_value());
  const auto report = k.run();
  ASSERT_FALSE(report.stuck) << report.stuck_reason;
  EXPECT_EQ(g.rounds, 1000);
  EXPECT_GE(g.slept_to - g.slept_from, 3'000'000u);
  EXPECT_LE(g.slept_to - g.slept_from, 3'000'000u + 1'000u);  // woken at its deadline, give or take a few points
}

// Many CPUs: 64 simulated CPUs, 30 processes of 2 cores each, every task doing work and yielding.
TEST(SchedulerSim, SixtyFourCpus) {
  SimKernel k(64, 4, Policy::dedicated, 99);
  Scheduler& s = k.s();
  std::vector<Placement> places(90);
  for (int i = 0; i < 30; ++i) {
    const ProcessId p = s.spawn({.name = "proc", .cores = 2, .memory_bytes = 1 * MiB}).value();
    for (int t = 0; t < 3; ++t) ASSERT_TRUE(s.create_task(p, "w", &record_cpus, &places[i * 3 + t]).has_value());
  }
  EXPECT_EQ(s.free_app_cores(), 0u);
  ASSERT_TRUE(s.create_task(
                   kNoProcess, "stopper",
                   [](void* arg) {
                     auto* sch = static_cast<Scheduler*>(arg);
                     while (sch->live_tasks() > 1) sch->sleep_for(200'000);
                     sch->stop();
                   },
                   &s)
                  .has_value());
  const auto report = k.run();
  ASSERT_FALSE(report.stuck) << report.stuck_reason;
  std::set<CpuId> used;
  for (auto& p : places) {
    EXPECT_EQ(p.rounds, 200);
    used.insert(p.cpus.begin(), p.cpus.end());
  }
  EXPECT_EQ(used.size(), 60u);  // every app core worked
  EXPECT_EQ(s.free_app_cores(), 60u);
  k.kernel.reclaim();
  EXPECT_EQ(k.kernel.pages().free_pages(), k.kernel.boot_free_pages());
}

}  // namespace
}  // namespace platypos::sched
