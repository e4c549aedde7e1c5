// BaremetalPlatform: the parts of the Platform API that are not a device of their own (clock.cpp has the clock and
// timer, backtrace.cpp the debugging aids, context.cpp the contexts).

#include "boot_info.hpp"
#include "console.hpp"
#include "lapic.hpp"
#include "percpu.hpp"

#include <platypos/baremetal/cpu.hpp>
#include <platypos/baremetal/io.hpp>
#include <platypos/baremetal/paging.hpp>
#include <platypos/baremetal/vectors.hpp>
#include <platypos/base/assert.hpp>
#include <platypos/base/log.hpp>
#include <platypos/platform.hpp>

namespace platypos::baremetal {
namespace {

constinit PerCpu g_cpus[kMaxBootCpus];
// CPUs [0, g_cpu_count) are running the kernel. 1 until smp::start_application_processors() has brought up the rest.
constinit std::atomic<u32> g_cpu_count{1};

constexpr u32 kMsrGsBase = 0xc0000101;
constexpr u32 kMsrKernelGsBase = 0xc0000102;

// QEMU's isa-debug-exit device (-device isa-debug-exit,iobase=0xf4,iosize=0x04): writing v makes QEMU exit with
// status (v << 1) | 1. Status 1 is also what QEMU returns on its own errors, and 0 what a triple fault returns with
// -no-reboot, so the kernel's codes start at 0x10.
constexpr u16 kDebugExitPort = 0xf4;
constexpr u32 kDebugExitSuccess = 0x10;  // QEMU exit 33
constexpr u32 kDebugExitFailure = 0x11;  // QEMU exit 35
constexpr u32 kDebugExitPanic = 0x12;    // QEMU exit 37
// 0x13 (QEMU exit 39): boot.S could not start the kernel (not multiboot, no long mode).

}  // namespace

PerCpu& cpu_entry(CpuId cpu) {
  PLATYPOS_ASSERT(cpu < kMaxBootCpus, "no per-CPU entry for cpu {}", cpu);
  return g_cpus[cpu];
}

void percpu_install(CpuId cpu, u32 apic_id) {
  PerCpu& p = g_cpus[cpu];  // no assertion: nothing can print before GS is set
  p.id = cpu;
  p.apic_id = apic_id;
  p.self = &p;
  // IA32_GS_BASE is the base `%gs:` uses in 64-bit mode (Intel SDM vol. 3, "Segment Loading Instructions in
  // IA-32e Mode"); swapgs exchanges it with IA32_KERNEL_GS_BASE, which will hold the user's GS base once ring 3
  // exists.
  wrmsr(kMsrGsBase, reinterpret_cast<uptr>(&p));
  wrmsr(kMsrKernelGsBase, 0);
}

void percpu_set_cpu_count(u32 n) { g_cpu_count.store(n, std::memory_order_release); }

u32 BaremetalPlatform::cpu_count() { return g_cpu_count.load(std::memory_order_acquire); }

void BaremetalPlatform::cpu_idle() {
  const IrqState irq = irq_save();
  PerCpu& cpu = this_cpu();
  // `idle` before the check, both sequentially consistent, against cpu_wake()'s store of wake_pending before its
  // load of `idle`: either the waker sees this CPU idle and sends an IPI, or this CPU sees the flag (Dekker).
  cpu.idle.store(true, std::memory_order_seq_cst);
  while (!cpu.wake_pending.exchange(false, std::memory_order_seq_cst)) {
    // sti takes effect after the next instruction: an interrupt pending now (or arriving in between) is taken once
    // hlt has started, and ends it. Checking the flag with interrupts off and halting with them on in one step is
    // what makes a wake-up between the check and the hlt impossible to lose (the wake-up IPI stays pending in the
    // local APIC while interrupts are off).
    asm volatile("sti; hlt; cli" : : : "memory");
  }
  cpu.idle.store(false, std::memory_order_relaxed);
  irq_restore(irq);
}

void BaremetalPlatform::cpu_wake(CpuId cpu) {
  const u32 n = cpu_count();
  PLATYPOS_ASSERT(cpu < n, "cpu_wake: no cpu {} (the machine has {})", cpu, n);
  PerCpu& target = g_cpus[cpu];
  target.wake_pending.store(true, std::memory_order_seq_cst);
  // The waker is the CPU itself (an interrupt handler, or before it idles): the flag is enough. Another CPU halted
  // in cpu_idle() needs an interrupt to end its hlt; one running ring-3 code needs it to enter the kernel (the
  // scheduler wakes the CPU of a killed task: user.cpp checks for the kill on the way back to ring 3).
  if (cpu != current_cpu() &&
      (target.idle.load(std::memory_order_seq_cst) || target.in_user.load(std::memory_order_seq_cst))) {
    lapic::send_ipi(target.apic_id, kVectorWake);
  }
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

// Platform::current_cpu() as an out-of-line function: for debuggers (`print platypos_current_cpu()`), and the one
// place tests/qemu/check_current_cpu.sh finds it whole in the kernel ELF to prove it is a single instruction.
extern "C" [[gnu::used, gnu::noinline]] platypos::CpuId platypos_current_cpu() {
  return platypos::Platform::current_cpu();
}
