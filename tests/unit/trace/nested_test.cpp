// Recording from an interrupt in the middle of another recording, and a consumer draining at the same time.
//
// Sim mode, many seeds: two CPUs record `marker` events in a loop with interrupts on, while their one-shot timers
// fire every few nanoseconds of virtual time; the simulator delivers a timer interrupt at scheduling points, and the
// Atomic<T> accesses inside a recording are scheduling points, so the handler (which records too, between the
// backend's irq_enter and irq_exit) lands between a reservation and its commit. A third CPU drains both rings at
// the same time, interleaved at every atomic step by the seeded scheduler. Each record carries a check word, so a
// torn or mixed-up record is caught; the per-CPU sequences must come out complete and in order (or, with a small
// ring, in order with every missing record counted as dropped).
//
// Threads mode: the same with real concurrency (OS threads) and threads-mode timer interrupts.

#include <platypos/hosted/machine.hpp>
#include <platypos/hosted/sim_machine.hpp>
#include <platypos/trace/trace.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace platypos::trace {
namespace {

constexpr u32 kProducers = 2;
constexpr u64 kTask[kProducers] = {101, 102};
constexpr u64 kKindTask = 0;
constexpr u64 kKindIrq = 1;

u64 check_word(u64 value, CpuId cpu, u64 kind) { return (value * 0x9e3779b97f4a7c15ull) ^ (u64{cpu} << 8) ^ kind; }

struct NestedRun {
  // Parameters.
  u32 ring_slots = 4096;
  u64 task_records = 300;
  u64 consumer_pause_ns = 0;  // between drain passes; 0: spin
  // Plus (irq count % 17): the interrupts drift across the recording's steps. Longer than a handler takes (its three
  // records cost about 24 ns of virtual time): a storm of back-to-back interrupts would starve the interrupted
  // recording's compare-and-swap (the ring is lock-free, not wait-free).
  u64 timer_period_ns = 30;
  // Results.
  std::vector<TraceEvent> got[kProducers];
  u64 irqs[kProducers] = {};
  u64 nested[kProducers] = {};  // handler found a reservation of the interrupted code uncommitted
  u64 dropped[kProducers] = {};
  u64 reserved[kProducers] = {};

  // Internals.
  std::vector<TraceRecord> slots[kProducers];
  std::unique_ptr<Tracer> tracer = std::make_unique<Tracer>();
  Atomic<bool> done[kProducers];
  Atomic<u32> producers_done{0};
};

NestedRun* g_run = nullptr;

void on_timer(u64 now) {
  NestedRun& r = *g_run;
  const CpuId cpu = Platform::current_cpu();
  if (cpu >= kProducers) return;
  if (r.tracer->ring(cpu).uncommitted() > 0) ++r.nested[cpu];
  const u64 seq = r.irqs[cpu]++;
  PLATYPOS_TRACE(marker, seq, check_word(seq, cpu, kKindIrq), "irq");
  if (!r.done[cpu].unobserved().load()) Platform::timer_arm(now + r.timer_period_ns + seq % 17);
}

void producer(NestedRun& r, CpuId cpu) {
  set_current_task(cpu, kTask[cpu]);
  Platform::timer_arm(Platform::now_ns() + r.timer_period_ns);
  for (u64 i = 0; i < r.task_records; ++i) {
    PLATYPOS_TRACE(marker, i, check_word(i, cpu, kKindTask), "task");
    if (i % 16 == 15) Platform::delay_ns(40);
  }
  r.done[cpu].store(true);
  Platform::timer_cancel();
  set_current_task(cpu, 0);
  r.producers_done.fetch_add(1);
}

void consumer(NestedRun& r) {
  auto drain = [&] {
    for (CpuId c = 0; c < kProducers; ++c) {
      r.tracer->ring(c).consume(~usize{0}, [&](const TraceEvent& e) { r.got[c].push_back(e); });
    }
  };
  for (;;) {
    drain();
    // Checked right before waiting (nothing else runs in between in the simulator), so the wait never outlives the
    // producers; once they are done, a last pass takes everything.
    if (r.producers_done.load() == kProducers) {
      drain();
      break;
    }
    if (r.consumer_pause_ns != 0) {
      Platform::delay_ns(r.consumer_pause_ns);
    } else {
      Platform::cpu_relax();
    }
  }
}

void prepare(NestedRun& r) {
  for (CpuId c = 0; c < kProducers; ++c) {
    r.slots[c] = std::vector<TraceRecord>(r.ring_slots);
    r.tracer->attach_ring(c, r.slots[c].data(), r.ring_slots);
  }
  g_run = &r;
  r.tracer->start(Level::fine);
}

void finish(NestedRun& r) {
  r.tracer->stop();
  for (CpuId c = 0; c < kProducers; ++c) {
    r.dropped[c] = r.tracer->ring(c).dropped();
    r.reserved[c] = r.tracer->ring(c).reserved();
  }
  g_run = nullptr;
}

void run_sim(NestedRun& r, u64 seed) {
  hosted::SimMachine sim({.cpus = kProducers + 1, .seed = seed});
  prepare(r);
  Platform::set_timer_handler(&on_timer);
  const hosted::SimReport rep = sim.run([&](CpuId cpu) {
    if (cpu < kProducers) {
      producer(r, cpu);
    } else {
      consumer(r);
    }
  });
  Platform::set_timer_handler(nullptr);
  finish(r);
  ASSERT_FALSE(rep.stuck) << rep.stuck_reason;
}

std::string label(const TraceEvent& e) {
  char s[kMaxStringBytes + 1] = {};
  std::memcpy(s, &e.args[2], kMaxStringBytes);
  return s;
}

// Checks one CPU's records. With `exact`, nothing may be missing. `timestamps`: task records' timestamps must not go
// backwards (virtual time; in threads mode the thread may move between host CPUs whose TSCs differ). Returns a
// description of the first problem.
std::string verify(const NestedRun& r, CpuId cpu, bool exact, bool timestamps = true) {
  const auto& got = r.got[cpu];
  const u16 marker = static_cast<u16>(EventId::marker);
  const u16 enter = static_cast<u16>(EventId::irq_enter);
  const u16 exit = static_cast<u16>(EventId::irq_exit);
  u64 next_task = 0, next_irq = 0, task_seen = 0, irq_seen = 0;
  u64 last_task_ticks = 0;
  for (usize i = 0; i < got.size(); ++i) {
    const TraceEvent& e = got[i];
    const std::string at = "cpu " + std::to_string(cpu) + " record " + std::to_string(i) + ": ";
    if (e.task != kTask[cpu]) return at + "task " + std::to_string(e.task);
    if (e.event == enter || e.event == exit) {
      if (e.args[0] != 0x20) return at + "irq vector " + std::to_string(e.args[0]);
      continue;
    }
    if (e.event != marker) return at + "unexpected event " + std::to_string(e.event);
    const std::string l = label(e);
    const u64 kind = l == "irq" ? kKindIrq : l == "task" ? kKindTask : 99;
    if (kind == 99) return at + "torn label '" + l + "'";
    if (e.args[1] != check_word(e.args[0], cpu, kind)) return at + "torn record (check word)";
    u64& next = kind == kKindIrq ? next_irq : next_task;
    if (exact ? e.args[0] != next : e.args[0] < next) {
      return at + l + " " + std::to_string(e.args[0]) + " out of order (expected " + std::to_string(next) + ")";
    }
    next = e.args[0] + 1;
    if (kind == kKindIrq) {
      ++irq_seen;
      // The handler's record sits between the backend's irq_enter and irq_exit, with nothing in between: nothing
      // else on this CPU can reserve while the handler runs.
      if (exact && (i == 0 || got[i - 1].event != enter || i + 1 >= got.size() || got[i + 1].event != exit)) {
        return at + "irq marker not between irq_enter and irq_exit";
      }
    } else {
      ++task_seen;
      if (timestamps && e.ticks < last_task_ticks) return at + "task timestamps go backwards";
      last_task_ticks = e.ticks;
    }
  }
  const u64 attempted = r.task_records + 3 * r.irqs[cpu];  // irq_enter, the marker, irq_exit
  if (got.size() + r.dropped[cpu] != attempted) {
    return "cpu " + std::to_string(cpu) + ": " + std::to_string(got.size()) + " received + " +
           std::to_string(r.dropped[cpu]) + " dropped != " + std::to_string(attempted) + " recorded";
  }
  if (r.reserved[cpu] != got.size()) return "cpu " + std::to_string(cpu) + ": reserved but never drained";
  if (exact && (task_seen != r.task_records || irq_seen != r.irqs[cpu])) return "records missing";
  return "";
}

TEST(TraceNested, InterruptsInsideRecordingsAcrossSeedsLoseAndMixNothing) {
  u64 nested = 0, irqs = 0, seeds_with_nesting = 0;
  constexpr u64 kSeeds = 64;
  for (u64 seed = 1; seed <= kSeeds; ++seed) {
    NestedRun r;
    run_sim(r, seed);
    u64 n = 0;
    for (CpuId c = 0; c < kProducers; ++c) {
      EXPECT_EQ(r.dropped[c], 0u) << "seed " << seed;
      const std::string problem = verify(r, c, true);
      ASSERT_TRUE(problem.empty()) << "seed " << seed << ": " << problem;
      EXPECT_GT(r.irqs[c], 0u) << "seed " << seed;
      n += r.nested[c];
      irqs += r.irqs[c];
    }
    nested += n;
    seeds_with_nesting += n > 0 ? 1 : 0;
  }
  std::printf(
      "nested: %llu of %llu timer interrupts landed between a reservation and its commit, in %llu of %llu seeds\n",
      static_cast<unsigned long long>(nested), static_cast<unsigned long long>(irqs),
      static_cast<unsigned long long>(seeds_with_nesting), static_cast<unsigned long long>(kSeeds));
  // The point of the test: interrupts really did land between a reservation and its commit, in most runs.
  EXPECT_GT(nested, 100u) << "of " << irqs << " interrupts";
  EXPECT_GT(seeds_with_nesting, kSeeds / 2);
}

TEST(TraceNested, ASlowConsumerMakesRingsDropAndEveryDropIsCounted) {
  u64 dropped = 0, nested = 0;
  for (u64 seed = 1; seed <= 32; ++seed) {
    NestedRun r;
    r.ring_slots = 16;
    r.consumer_pause_ns = 2'000;
    run_sim(r, seed);
    for (CpuId c = 0; c < kProducers; ++c) {
      const std::string problem = verify(r, c, false);
      ASSERT_TRUE(problem.empty()) << "seed " << seed << ": " << problem;
      dropped += r.dropped[c];
      nested += r.nested[c];
    }
  }
  EXPECT_GT(dropped, 1000u);
  EXPECT_GT(nested, 0u);
}

TEST(TraceNested, SameSeedSameRecords) {
  NestedRun a, b;
  run_sim(a, 5);
  run_sim(b, 5);
  for (CpuId c = 0; c < kProducers; ++c) {
    ASSERT_EQ(a.got[c].size(), b.got[c].size());
    for (usize i = 0; i < a.got[c].size(); ++i) {
      EXPECT_EQ(a.got[c][i].ticks, b.got[c][i].ticks);
      EXPECT_EQ(a.got[c][i].event, b.got[c][i].event);
      EXPECT_EQ(a.got[c][i].args[0], b.got[c][i].args[0]);
    }
  }
}

TEST(TraceNested, ThreadsModeProducersTimersAndAConsumerAtOnce) {
  for (const u32 slots : {u32{65536}, u32{64}}) {
    NestedRun r;
    r.ring_slots = slots;
    r.task_records = 200'000;
    r.timer_period_ns = 2'000;
    hosted::Machine machine({.cpus = kProducers + 1});
    prepare(r);
    Platform::set_timer_handler(&on_timer);
    machine.run([&](CpuId cpu) {
      if (cpu < kProducers) {
        producer(r, cpu);
      } else {
        consumer(r);
      }
    });
    Platform::set_timer_handler(nullptr);
    finish(r);
    for (CpuId c = 0; c < kProducers; ++c) {
      // Whether the big ring ever fills depends on the host's scheduling: only accounting and order are exact.
      const std::string problem = verify(r, c, r.dropped[c] == 0, false);
      ASSERT_TRUE(problem.empty()) << slots << " slots: " << problem;
    }
  }
}

}  // namespace
}  // namespace platypos::trace
