#pragma once
// The Platform's clock and one-shot timer on bare metal.
//
// now_ns() is the TSC scaled to nanoseconds (32.32 fixed point), counting from TSC zero (power-on or reset). The
// timer is the local APIC timer in one-shot mode. Both rates are measured against the PIT at boot: five windows of
// 4 ms, and the median of each, so one window stretched by the host (QEMU's TCG has no real-time guarantees) does
// not skew the result.
//
// The armed deadline, not the hardware, is the truth: the interrupt handler runs the Platform's timer handler only
// once now_ns() >= deadline, re-arms the APIC for the rest when it fired early (rounding, a deadline beyond the
// counter's range), and ignores interrupts after timer_cancel().

#include <platypos/base/types.hpp>

namespace platypos::baremetal::clock {

// Calibrates the TSC and the APIC timer. Needs lapic::init(). Panics when the PIT never counts down or a rate is
// absurd.
void init();

u64 tsc_hz();
// Nanoseconds per TSC tick in 32.32 fixed point: now_ns() = (rdtsc() * ns_per_tsc_q32()) >> 32.
u64 ns_per_tsc_q32();
// Ticks per second of the APIC timer (bus clock / lapic::kTimerDivider).
u64 timer_hz();

// Handler of kVectorTimer.
void on_timer_interrupt();

}  // namespace platypos::baremetal::clock
