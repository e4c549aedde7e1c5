#pragma once
// Per-CPU state of the bare-metal backend. Each CPU's IA32_GS_BASE holds the address of its own PerCpu, so
// `%gs:offset` reaches a field of the running CPU's entry in one instruction (Platform::current_cpu() is
// `mov %gs:kPerCpuIdOffset, %eax`). Only the owning CPU touches its entry, except wake_pending and idle (cpu_wake()
// from anywhere) and the work mailbox (smp.cpp).
//
// GS is not used for anything else: the kernel never reloads the GS selector (that would clear the base). Ring 3
// runs with its own GS base (0): every entry from ring 3 (interrupt, exception, syscall) does swapgs first and every
// return to it does swapgs last, so IA32_KERNEL_GS_BASE holds this entry's address while a program runs.

#include <platypos/platform.hpp>

#include <atomic>
#include <cstddef>

namespace platypos::baremetal {

struct FaultCatcher;

// The most CPUs the backend brings up (the rest are reported and left parked in the firmware). Each costs a
// PerCpu entry, a GDT/TSS and static stacks with guard pages in .bss (stacks.hpp).
inline constexpr u32 kMaxBootCpus = 16;
static_assert(kMaxBootCpus <= kMaxCpus);

struct alignas(64) PerCpu {
  // Read through %gs by current_cpu() (platform_impl.hpp): must stay at kPerCpuIdOffset.
  CpuId id = 0;
  // This CPU's local APIC id (the destination of its IPIs).
  u32 apic_id = 0;
  // The entry's own address, so this_cpu() is one `mov %gs:8, %rax` too.
  PerCpu* self = nullptr;
  // Set by cpu_wake() and by the timer interrupt; consumed by cpu_idle().
  std::atomic<bool> wake_pending{false};
  // True while the CPU is in cpu_idle() (from before its last check of wake_pending until it leaves): cpu_wake()
  // sends an IPI only then.
  std::atomic<bool> idle{false};
  // Deadline of the armed one-shot timer in now_ns() time; 0 when not armed.
  u64 timer_deadline = 0;
  // Innermost active call_expecting_fault() on this CPU, or nullptr.
  FaultCatcher* catcher = nullptr;
  // Interrupts and exceptions currently being handled on this CPU (nesting depth).
  u32 trap_depth = 0;
  // Work posted to this (application) processor by smp::run_on_cpu(); nullptr when it has none. Its idle loop runs
  // it and stores nullptr back.
  std::atomic<void (*)(void*)> work{nullptr};
  void* work_arg = nullptr;
  // Ring 3 (user.cpp). The syscall entry (user_entry.S) saves the user's rsp in syscall_user_rsp and switches to
  // syscall_kernel_rsp, the kernel stack of the task running in ring 3 here (the same top as the TSS's rsp0).
  u64 syscall_user_rsp = 0;
  u64 syscall_kernel_rsp = 0;
  // The user thread this CPU is running in ring 3 (user.cpp's UserThread), or nullptr: set while its task is between
  // entering ring 3 and leaving it for good (also while it is blocked in a system call).
  void* user_thread = nullptr;
  // Whether the CPU is executing ring-3 code right now: cpu_wake() interrupts it then (a killed process's program
  // may only be polling its ring, never entering the kernel on its own).
  std::atomic<bool> in_user{false};
};
static_assert(offsetof(PerCpu, id) == kPerCpuIdOffset, "platform_impl.hpp's current_cpu() reads this offset");
static_assert(offsetof(PerCpu, self) == 8, "this_cpu() reads this offset");
// user_entry.S reads these two through %gs.
inline constexpr usize kPerCpuSyscallUserRsp = 64;
inline constexpr usize kPerCpuSyscallKernelRsp = 72;
static_assert(offsetof(PerCpu, syscall_user_rsp) == kPerCpuSyscallUserRsp, "user_entry.S's offset");
static_assert(offsetof(PerCpu, syscall_kernel_rsp) == kPerCpuSyscallKernelRsp, "user_entry.S's offset");

// The running CPU's entry.
inline PerCpu& this_cpu() {
  PerCpu* p;
  asm volatile("movq %%gs:8, %0" : "=r"(p));
  return *p;
}

// Entry `cpu` (any CPU's, for wake-ups).
PerCpu& cpu_entry(CpuId cpu);

// Points IA32_GS_BASE of the calling CPU at entry `cpu` (filled in with its id and APIC id). The very first thing
// each CPU does in C++: current_cpu() and this_cpu() are garbage before it.
void percpu_install(CpuId cpu, u32 apic_id);

// Called on the boot CPU once the application processors are up: cpu_count() is `n` from then on.
void percpu_set_cpu_count(u32 n);

}  // namespace platypos::baremetal
