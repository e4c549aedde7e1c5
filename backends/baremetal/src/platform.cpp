// BaremetalPlatform: the parts of the Platform API that are not a device of their own (clock.cpp has the clock and
// timer, backtrace.cpp the debugging aids, context.cpp the contexts).

#include "boot_info.hpp"
#include "console.hpp"
#include "percpu.hpp"

#include <platypos/baremetal/cpu.hpp>
#include <platypos/baremetal/io.hpp>
#include <platypos/baremetal/paging.hpp>
#include <platypos/base/assert.hpp>
#include <platypos/base/log.hpp>
#include <platypos/platform.hpp>

namespace platypos::baremetal {
namespace {

// One CPU until the SMP issue brings up the others (QEMU's -smp N still boots: the other CPUs wait in the firmware).
constexpr u32 kCpuCount = 1;

constinit PerCpu g_cpus[kCpuCount];

// QEMU's isa-debug-exit device (-device isa-debug-exit,iobase=0xf4,iosize=0x04): writing v makes QEMU exit with
// status (v << 1) | 1. Status 1 is also what QEMU returns on its own errors, and 0 what a triple fault returns with
// -no-reboot, so the kernel's codes start at 0x10.
constexpr u16 kDebugExitPort = 0xf4;
constexpr u32 kDebugExitSuccess = 0x10;  // QEMU exit 33
constexpr u32 kDebugExitFailure = 0x11;  // QEMU exit 35
constexpr u32 kDebugExitPanic = 0x12;    // QEMU exit 37
// 0x13 (QEMU exit 39): boot.S could not start the kernel (not multiboot, no long mode).

}  // namespace

PerCpu& this_cpu() { return g_cpus[BaremetalPlatform::current_cpu()]; }

CpuId BaremetalPlatform::current_cpu() { return 0; }

u32 BaremetalPlatform::cpu_count() { return kCpuCount; }

void BaremetalPlatform::cpu_idle() {
  const IrqState irq = irq_save();
  PerCpu& cpu = this_cpu();
  while (!cpu.wake_pending.exchange(false, std::memory_order_acquire)) {
    // sti takes effect after the next instruction: an interrupt pending now (or arriving in between) is taken once
    // hlt has started, and ends it. Checking the flag with interrupts off and halting with them on in one step is
    // what makes a wake-up between the check and the hlt impossible to lose.
    asm volatile("sti; hlt; cli" : : : "memory");
  }
  irq_restore(irq);
}

void BaremetalPlatform::cpu_wake(CpuId cpu) {
  PLATYPOS_ASSERT(cpu < kCpuCount, "cpu_wake: no cpu {} (the machine has {})", cpu, kCpuCount);
  // With one CPU, the waker is the CPU itself (from an interrupt handler, or before it idles): the flag is enough.
  g_cpus[cpu].wake_pending.store(true, std::memory_order_release);
}

std::span<const MemoryRange> BaremetalPlatform::boot_memory_map() { return boot_info::memory_map(); }

void* BaremetalPlatform::phys_to_virt(u64 phys) {
  PLATYPOS_ASSERT(phys < paging::direct_map_size(), "phys_to_virt({:#x}): beyond the direct map ({:#x} bytes)", phys,
                  paging::direct_map_size());
  return reinterpret_cast<void*>(paging::kDirectMapBase + phys);
}

void BaremetalPlatform::console_write(const char* s, usize n) { console::write(s, n); }

void BaremetalPlatform::shutdown(ExitStatus status) {
  (void)irq_save();
  u32 code = kDebugExitPanic;
  switch (status) {
    case ExitStatus::success: code = kDebugExitSuccess; break;
    case ExitStatus::failure: code = kDebugExitFailure; break;
    case ExitStatus::panic: code = kDebugExitPanic; break;
  }
  outl(kDebugExitPort, code);
  // Still here: no isa-debug-exit device (real hardware, or QEMU started without it).
  log_warn("shutdown: no isa-debug-exit device; halting (status {})", static_cast<u32>(status));
  halt_forever();
}

}  // namespace platypos::baremetal
