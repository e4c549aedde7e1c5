#pragma once
// The boot CPU's local APIC (xAPIC, memory-mapped through the direct map): interrupt acknowledgement, the one-shot
// timer behind the Platform's timer_arm(), and self-NMIs.

#include <platypos/base/types.hpp>

namespace platypos::baremetal::lapic {

// The timer counts the APIC bus clock divided by this (the divide configuration register is set to it).
inline constexpr u32 kTimerDivider = 16;
inline constexpr u32 kTimerMaxCount = 0xffffffff;

// Enables the APIC (MSR and spurious vector register), masks LINT0 (the PICs are unused), routes APIC errors to
// kVectorApicError, and leaves the timer masked and stopped. Panics if the CPU has no APIC.
void init();

u32 id();

// Physical address of the register page (from IA32_APIC_BASE).
u64 base_phys();

// Acknowledges the interrupt being serviced.
void eoi();

// Starts the timer counting down from `count` (divided bus ticks), raising kVectorTimer once at zero.
void timer_one_shot(u32 count);
// Stops the timer (an interrupt already pending still arrives; the clock ignores it).
void timer_stop();
// Starts the timer counting down from kTimerMaxCount with its interrupt masked: a free-running counter for
// calibration.
void timer_free_run_masked();
u32 timer_current_count();

// Sends this CPU an NMI (through the interrupt command register).
void send_nmi_to_self();

// Handler of kVectorApicError: prints the error status and acknowledges.
void on_error_interrupt();

}  // namespace platypos::baremetal::lapic
