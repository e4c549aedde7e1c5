#pragma once
// The local APIC (xAPIC, memory-mapped through the direct map): interrupt acknowledgement, the one-shot timer behind
// the Platform's timer_arm(), inter-processor interrupts (wake-ups, the INIT and Startup IPIs that start the other
// CPUs) and self-NMIs. Every CPU sees its own APIC at the same physical address; each one's registers are set up by
// init_this_cpu() on that CPU.

#include <platypos/base/types.hpp>

namespace platypos::baremetal::lapic {

// The timer counts the APIC bus clock divided by this (the divide configuration register is set to it).
inline constexpr u32 kTimerDivider = 16;
inline constexpr u32 kTimerMaxCount = 0xffffffff;

// On the boot CPU: finds the register page (IA32_APIC_BASE), then init_this_cpu(). Panics if the CPU has no APIC.
void init();

// On any CPU (after init() on the boot CPU): enables its APIC (MSR and spurious vector register), masks LINT0 (the
// PICs are unused), routes APIC errors to kVectorApicError, sets the timer's divider and leaves it masked and
// stopped.
void init_this_cpu();

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

// Sends the fixed interrupt `vector` to the CPU whose APIC id is `apic_id`.
void send_ipi(u32 apic_id, u8 vector);
// The start-up sequence's IPIs (Intel SDM vol. 3, "MP Initialization Protocol Algorithm for MP Systems"): INIT
// resets the target into its wait-for-SIPI state; a Startup IPI makes a waiting CPU start in real mode at
// page * 4096 (page < 256).
void send_init(u32 apic_id);
void send_startup(u32 apic_id, u8 page);

// Sends this CPU an NMI (through the interrupt command register).
void send_nmi_to_self();

// Handler of kVectorApicError: prints the error status and acknowledges.
void on_error_interrupt();

}  // namespace platypos::baremetal::lapic
