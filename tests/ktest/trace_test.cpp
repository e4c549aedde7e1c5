// Tracing on the machine it runs on: in the kernel, real LAPIC timer interrupts land anywhere inside a recording
// (including between a slot's reservation and its commit); in the hosted ktest binary, threads-mode timer
// interrupts land at the recording's atomic steps. The handler records too. Everything must come out in order,
// complete, untorn, with each interrupt's record between the irq_enter and irq_exit of its trap.

#include <platypos/base/print.hpp>
#include <platypos/ktest/ktest.hpp>
#include <platypos/trace/trace.hpp>

#include <new>

namespace platypos::trace {
namespace {

constexpr u32 kSlots = 1024;
constexpr u64 kTask = 4242;
constexpr u64 kTaskKind = 0;
constexpr u64 kIrqKind = 1;

alignas(TraceRecord) constinit unsigned char g_slots[kSlots * sizeof(TraceRecord)] = {};
alignas(Tracer) constinit unsigned char g_tracer[sizeof(Tracer)] = {};

u64 check_word(u64 value, u64 kind) { return (value * 0x9e3779b97f4a7c15ull) ^ kind; }

TraceRecord* slots() {
  auto* s = reinterpret_cast<TraceRecord*>(g_slots);
  for (u32 i = 0; i < kSlots; ++i) new (&s[i]) TraceRecord();
  return s;
}

KTEST(trace, ring_keeps_order_across_laps) {
  TraceRing ring;
  ring.init(slots(), 16);
  u64 next = 0, expect = 0;
  bool in_order = true;
  for (int round = 0; round < 200; ++round) {
    for (int i = 0; i < 1 + round % 16; ++i) {
      u64 pos = 0;
      TraceRecord* r = ring.reserve(&pos);
      KASSERT_TRUE(r != nullptr);
      r->args[0] = next++;
      TraceRing::commit(r, pos);
    }
    ring.consume(kSlots, [&](const TraceEvent& e) { in_order = in_order && e.args[0] == expect++; });
  }
  KEXPECT_TRUE(in_order);
  KEXPECT_EQ(expect, next);
  KEXPECT_EQ(ring.dropped(), 0u);
}

struct Checker {
  u64 next_task = 0;
  u64 next_irq = 0;
  u64 records = 0;
  u16 previous = 0xffff;
  bool expect_exit = false;
  bool ok = true;
  const char* problem = "";

  void fail(const char* why) {
    if (ok) problem = why;
    ok = false;
  }
  void take(const TraceEvent& e) {
    ++records;
    const u16 marker = static_cast<u16>(EventId::marker);
    const u16 enter = static_cast<u16>(EventId::irq_enter);
    const u16 exit = static_cast<u16>(EventId::irq_exit);
    if (expect_exit && e.event != exit) fail("an interrupt's record is not followed by irq_exit");
    expect_exit = false;
    if (e.task != kTask) fail("a record with the wrong task");
    if (e.event == marker) {
      const u64 kind = e.args[1] == check_word(e.args[0], kIrqKind) ? kIrqKind : kTaskKind;
      if (e.args[1] != check_word(e.args[0], kind)) fail("a torn record");
      u64& next = kind == kIrqKind ? next_irq : next_task;
      if (e.args[0] != next) fail("a record out of order or missing");
      next = e.args[0] + 1;
      if (kind == kIrqKind) {
        if (previous != enter) fail("an interrupt's record is not preceded by irq_enter");
        expect_exit = true;
      }
    } else if (e.event != enter && e.event != exit) {
      fail("an unexpected event");
    }
    previous = e.event;
  }
};

struct NestedState {
  Tracer* tracer = nullptr;
  u64 irqs = 0;
  u64 nested = 0;
  bool stop = false;
};
constinit NestedState g_state;

void on_timer(u64 now) {
  if (g_state.tracer->ring(Platform::current_cpu()).uncommitted() > 0) ++g_state.nested;
  const u64 seq = g_state.irqs++;
  PLATYPOS_TRACE(marker, seq, check_word(seq, kIrqKind), "irq");
  if (!g_state.stop) Platform::timer_arm(now + 20'000 + (seq % 7) * 1'000);
}

KTEST(trace, records_from_timer_interrupts_nest_safely) {
  auto* tracer = new (g_tracer) Tracer();
  tracer->attach_ring(Platform::current_cpu(), slots(), kSlots);
  g_state = NestedState{tracer};
  Checker check;
  const CpuId cpu = Platform::current_cpu();
  set_current_task(cpu, kTask);
  tracer->start(Level::fine);
  Platform::set_timer_handler(&on_timer);
  Platform::timer_arm(Platform::now_ns() + 20'000);
  u64 i = 0;
  // Enough records for a few dozen interrupts on any machine; a bound so a timer that never fires fails the test
  // instead of hanging it.
  for (; (i < 20'000 || g_state.irqs < 20) && i < 20'000'000; ++i) {
    PLATYPOS_TRACE(marker, i, check_word(i, kTaskKind), "task");
    if (i % 128 == 127) tracer->ring(cpu).consume(kSlots, [&](const TraceEvent& e) { check.take(e); });
  }
  const auto irq = Platform::irq_save();
  g_state.stop = true;
  Platform::timer_cancel();
  Platform::set_timer_handler(nullptr);
  Platform::irq_restore(irq);
  tracer->stop();
  set_current_task(cpu, 0);
  tracer->ring(cpu).consume(kSlots, [&](const TraceEvent& e) { check.take(e); });
  print("trace: {} records, {} timer interrupts, {} of them inside a recording\n", check.records, g_state.irqs,
        g_state.nested);
  KEXPECT_TRUE(check.ok);
  if (!check.ok) print("trace: {}\n", check.problem);
  KEXPECT_EQ(check.next_task, i);
  KEXPECT_EQ(check.next_irq, g_state.irqs);
  KEXPECT_GE(g_state.irqs, 20u);
  KEXPECT_EQ(tracer->ring(cpu).dropped(), 0u);
  KEXPECT_EQ(tracer->ring(cpu).reserved(), check.records);
  tracer->~Tracer();
}

}  // namespace
}  // namespace platypos::trace
