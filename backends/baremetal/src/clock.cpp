#include "clock.hpp"

#include "lapic.hpp"
#include "percpu.hpp"
#include "pit.hpp"

#include <platypos/baremetal/cpu.hpp>
#include <platypos/base/assert.hpp>
#include <platypos/base/units.hpp>
#include <platypos/platform.hpp>

#include <atomic>

namespace platypos::baremetal {
namespace clock {
namespace {

using u128 = unsigned __int128;

constexpr u16 kWindowPitTicks = 4773;  // 4 ms
constexpr usize kWindows = 5;
// A PIT countdown of 4 ms polls port 0x61 a few thousand times, even emulated; this many means it never ends.
constexpr u64 kMaxPolls = 50'000'000;

constinit u64 g_tsc_hz = 0;
constinit u64 g_timer_hz = 0;
constinit u64 g_ns_per_tsc_q32 = 0;          // nanoseconds per TSC tick, 32.32 fixed point
constinit u64 g_timer_ticks_per_ns_q32 = 0;  // APIC timer ticks per nanosecond, 32.32 fixed point
constinit std::atomic<TimerHandler> g_handler{nullptr};

struct Rates {
  u64 tsc_hz;
  u64 timer_hz;
};

Rates measure_window() {
  lapic::timer_free_run_masked();
  pit::start_countdown(kWindowPitTicks);
  const u64 tsc0 = rdtsc();
  const u32 timer0 = lapic::timer_current_count();
  for (u64 polls = 0; !pit::countdown_expired(); ++polls) {
    if (polls == kMaxPolls) PLATYPOS_PANIC("clock: the PIT never finished a {}-tick countdown", kWindowPitTicks);
  }
  const u64 tsc1 = rdtsc();
  const u32 timer1 = lapic::timer_current_count();
  lapic::timer_stop();
  return {(tsc1 - tsc0) * pit::kFrequencyHz / kWindowPitTicks,
          u64{timer0 - timer1} * pit::kFrequencyHz / kWindowPitTicks};
}

u64 median(u64* v, usize n) {
  for (usize i = 1; i < n; ++i) {
    for (usize j = i; j > 0 && v[j - 1] > v[j]; --j) {
      const u64 t = v[j];
      v[j] = v[j - 1];
      v[j - 1] = t;
    }
  }
  return v[n / 2];
}

// Programs the APIC timer to fire `ns` from now (at least one tick; the longest the counter allows).
void program(u64 ns) {
  const u128 ticks = ((u128{ns} * g_timer_ticks_per_ns_q32) >> 32) + 1;
  lapic::timer_one_shot(ticks > lapic::kTimerMaxCount ? lapic::kTimerMaxCount : static_cast<u32>(ticks));
}

}  // namespace

void init() {
  PLATYPOS_ASSERT((cpuid(1).edx & (1u << 4)) != 0, "this CPU has no time-stamp counter");
  u64 tsc[kWindows];
  u64 timer[kWindows];
  for (usize i = 0; i < kWindows; ++i) {
    const Rates r = measure_window();
    tsc[i] = r.tsc_hz;
    timer[i] = r.timer_hz;
  }
  g_tsc_hz = median(tsc, kWindows);
  g_timer_hz = median(timer, kWindows);
  PLATYPOS_ASSERT(g_tsc_hz >= 10'000'000 && g_tsc_hz <= 100'000'000'000, "clock: TSC rate {} Hz is absurd", g_tsc_hz);
  PLATYPOS_ASSERT(g_timer_hz >= 10'000 && g_timer_hz <= 10'000'000'000, "clock: APIC timer rate {} Hz is absurd",
                  g_timer_hz);
  g_ns_per_tsc_q32 = (kNsPerSec << 32) / g_tsc_hz;
  g_timer_ticks_per_ns_q32 = (g_timer_hz << 32) / kNsPerSec;
}

u64 tsc_hz() { return g_tsc_hz; }
u64 timer_hz() { return g_timer_hz; }

void on_timer_interrupt() {
  // Acknowledge first: the handler may arm the timer again (or, later, switch tasks).
  lapic::eoi();
  PerCpu& cpu = this_cpu();
  if (cpu.timer_deadline == 0) return;  // cancelled after the APIC was programmed
  const u64 now = BaremetalPlatform::now_ns();
  if (now < cpu.timer_deadline) {
    program(cpu.timer_deadline - now);
    return;
  }
  cpu.timer_deadline = 0;
  cpu.wake_pending.store(true, std::memory_order_release);
  if (TimerHandler h = g_handler.load(std::memory_order_acquire)) h(now);
}

u64 ns_per_tsc_q32() { return g_ns_per_tsc_q32; }

}  // namespace clock

u64 BaremetalPlatform::now_ns() { return static_cast<u64>((clock::u128{rdtsc()} * clock::g_ns_per_tsc_q32) >> 32); }

void BaremetalPlatform::timer_arm(u64 deadline_ns) {
  PLATYPOS_ASSERT(clock::g_timer_ticks_per_ns_q32 != 0, "timer_arm before the clock was calibrated");
  const IrqState irq = irq_save();
  PerCpu& cpu = this_cpu();
  cpu.timer_deadline = deadline_ns == 0 ? 1 : deadline_ns;
  const u64 now = now_ns();
  clock::program(cpu.timer_deadline > now ? cpu.timer_deadline - now : 0);
  irq_restore(irq);
}

void BaremetalPlatform::timer_cancel() {
  const IrqState irq = irq_save();
  this_cpu().timer_deadline = 0;
  lapic::timer_stop();
  irq_restore(irq);
}

void BaremetalPlatform::set_timer_handler(TimerHandler handler) {
  clock::g_handler.store(handler, std::memory_order_release);
}

}  // namespace platypos::baremetal
