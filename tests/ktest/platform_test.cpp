// The Platform API, the same on both backends: clock, one-shot timer interrupts, idle/wake, interrupt masking and
// context switches. On bare metal the timer is the local APIC and idle is hlt; on hosted, a deadline checked by
// cpu_idle() and a condition variable. Tests wait for events, never for a duration: a slow machine only makes them
// slower.

#include <platypos/base/units.hpp>
#include <platypos/ktest/ktest.hpp>
#include <platypos/platform.hpp>

namespace platypos {
namespace {

// ---- clock -------------------------------------------------------------------------------------------------------

KTEST(platform, clock_is_monotonic) {
  u64 prev = Platform::now_ns();
  for (int i = 0; i < 10000; ++i) {
    const u64 now = Platform::now_ns();
    KASSERT_GE(now, prev);
    prev = now;
  }
}

KTEST(platform, clock_advances) {
  const u64 start = Platform::now_ns();
  // Bounded only to turn a stopped clock into a failure instead of a hang; any machine needs far fewer spins.
  u64 spins = 0;
  while (Platform::now_ns() == start && spins < 1'000'000'000) ++spins;
  KEXPECT_GT(Platform::now_ns(), start);
}

// ---- interrupt masking -------------------------------------------------------------------------------------------

KTEST(platform, irq_save_restore_nests) {
  KASSERT_TRUE(Platform::irq_enabled());
  const auto outer = Platform::irq_save();
  KEXPECT_FALSE(Platform::irq_enabled());
  const auto inner = Platform::irq_save();
  Platform::irq_restore(inner);
  KEXPECT_FALSE(Platform::irq_enabled());
  Platform::irq_restore(outer);
  KEXPECT_TRUE(Platform::irq_enabled());
}

// ---- context switches --------------------------------------------------------------------------------------------

constexpr usize kStackSize = 16 * KiB;
constexpr u32 kRounds = 100;

struct PingPong {
  Platform::Context main;
  Platform::Context ping;
  Platform::Context relay;
  u32 round = 0;  // advanced by `ping`, checked by the main context after every switch back
  u32 relay_hops = 0;
};

constinit PingPong g_pp;
alignas(16) constinit u8 g_ping_stack[kStackSize] = {};
alignas(16) constinit u8 g_relay_stack[kStackSize] = {};

void ping_entry(void* arg) {
  auto* pp = static_cast<PingPong*>(arg);
  // A local that must survive every switch: this context's stack and callee-saved registers are preserved.
  u32 local_rounds = 0;
  for (;;) {
    ++local_rounds;
    pp->round = local_rounds;
    Platform::context_switch(pp->ping, pp->main);
  }
}

void relay_entry(void* arg) {
  auto* pp = static_cast<PingPong*>(arg);
  ++pp->relay_hops;
  // main -> relay -> ping -> main: a switch between two non-main contexts.
  Platform::context_switch(pp->relay, pp->ping);
  ++pp->relay_hops;  // never reached: nobody switches back to the relay
}

KTEST(platform, context_switch_ping_pong) {
  PingPong& pp = g_pp;
  pp = PingPong{};
  Platform::context_init(pp.ping, g_ping_stack, sizeof g_ping_stack, &ping_entry, &pp);
  for (u32 i = 1; i <= kRounds; ++i) {
    Platform::context_switch(pp.main, pp.ping);
    KASSERT_EQ(pp.round, i);
  }
  Platform::context_init(pp.relay, g_relay_stack, sizeof g_relay_stack, &relay_entry, &pp);
  Platform::context_switch(pp.main, pp.relay);
  KEXPECT_EQ(pp.relay_hops, 1u);
  KEXPECT_EQ(pp.round, kRounds + 1);
}

// ---- timer interrupts and idle -----------------------------------------------------------------------------------

struct TimerLog {
  u32 fired = 0;
  u64 fired_at[8] = {};
  bool irqs_enabled_in_handler = false;
  u32 rearm_left = 0;
  u64 next_deadline[8] = {};
};

constinit TimerLog g_log;

void log_timer(u64 now) {
  if (g_log.fired < 8) g_log.fired_at[g_log.fired] = now;
  g_log.irqs_enabled_in_handler = g_log.irqs_enabled_in_handler || Platform::irq_enabled();
  ++g_log.fired;
  if (g_log.rearm_left > 0) {
    --g_log.rearm_left;
    g_log.next_deadline[g_log.fired] = now + 200 * kNsPerUs;
    Platform::timer_arm(g_log.next_deadline[g_log.fired]);
  }
}

// Idles until the handler has run `count` times in total.
void idle_until_fired(u32 count) {
  while (g_log.fired < count) Platform::cpu_idle();
}

KTEST(interrupts, timer_interrupt_arrives) {
  g_log = TimerLog{};
  Platform::set_timer_handler(&log_timer);
  const u64 deadline = Platform::now_ns() + 1 * kNsPerMs;
  Platform::timer_arm(deadline);
  idle_until_fired(1);
  Platform::set_timer_handler(nullptr);
  KEXPECT_EQ(g_log.fired, 1u);
  KEXPECT_GE(g_log.fired_at[0], deadline);
  KEXPECT_FALSE(g_log.irqs_enabled_in_handler);  // handlers run in interrupt context
  KEXPECT_TRUE(Platform::irq_enabled());         // and idling gave the caller its interrupt state back
}

KTEST(interrupts, handler_rearms_for_a_periodic_tick) {
  g_log = TimerLog{};
  g_log.rearm_left = 4;
  Platform::set_timer_handler(&log_timer);
  g_log.next_deadline[0] = Platform::now_ns() + 200 * kNsPerUs;
  Platform::timer_arm(g_log.next_deadline[0]);
  idle_until_fired(5);
  Platform::set_timer_handler(nullptr);
  KEXPECT_EQ(g_log.fired, 5u);
  for (u32 i = 0; i < 5; ++i) KEXPECT_GE(g_log.fired_at[i], g_log.next_deadline[i]);
}

KTEST(interrupts, cancelled_timer_does_not_fire) {
  g_log = TimerLog{};
  Platform::set_timer_handler(&log_timer);
  // With interrupts masked, let the first deadline pass before cancelling it: its interrupt is then already
  // pending in the hardware, the hardest case for a cancel.
  const auto irq = Platform::irq_save();
  const u64 first = Platform::now_ns() + 10 * kNsPerUs;
  Platform::timer_arm(first);
  while (Platform::now_ns() < first + 100 * kNsPerUs) Platform::cpu_relax();
  Platform::timer_cancel();
  // A later deadline, to have something to wait for: only it may fire.
  const u64 second = Platform::now_ns() + 1 * kNsPerMs;
  Platform::timer_arm(second);
  Platform::irq_restore(irq);
  idle_until_fired(1);
  Platform::set_timer_handler(nullptr);
  KEXPECT_EQ(g_log.fired, 1u);
  KEXPECT_GE(g_log.fired_at[0], second);
}

KTEST(interrupts, arming_replaces_the_earlier_deadline) {
  g_log = TimerLog{};
  Platform::set_timer_handler(&log_timer);
  // Masked, so that the first deadline cannot fire before the second replaces it, however slow this machine is.
  const auto irq = Platform::irq_save();
  const u64 far = Platform::now_ns() + 20 * kNsPerMs;
  Platform::timer_arm(far);
  const u64 near = Platform::now_ns() + 1 * kNsPerMs;
  Platform::timer_arm(near);
  Platform::irq_restore(irq);
  idle_until_fired(1);
  KEXPECT_GE(g_log.fired_at[0], near);
  // Past the replaced deadline, nothing more has fired.
  while (Platform::now_ns() < far + 5 * kNsPerMs) Platform::cpu_relax();
  Platform::set_timer_handler(nullptr);
  KEXPECT_EQ(g_log.fired, 1u);
}

KTEST(interrupts, wake_before_idle_is_not_lost) {
  // If the pending wake-up were lost, cpu_idle() would never return and the harness's timeout would fail the run.
  Platform::cpu_wake(Platform::current_cpu());
  Platform::cpu_idle();
  KEXPECT_TRUE(Platform::irq_enabled());
}

}  // namespace
}  // namespace platypos
