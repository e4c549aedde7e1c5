#pragma once
// The bare-metal Platform: x86_64 in long mode, booted by QEMU with -kernel. Trivial operations (interrupt flag,
// pause) are inline assembly here; the rest lives in backends/baremetal/src.

#include <platypos/platform_types.hpp>

#include <span>

namespace platypos::baremetal {

// Callee-saved registers live on the suspended context's stack; the context itself is its stack pointer.
struct Context {
  uptr rsp = 0;
};

struct IrqState {
  u64 rflags;
};

inline constexpr u64 kRflagsIf = 1u << 9;

// Offset of the CPU id in the per-CPU area that IA32_GS_BASE points at (src/percpu.hpp asserts it).
inline constexpr usize kPerCpuIdOffset = 0;

struct BaremetalPlatform {
  using Context = baremetal::Context;
  using IrqState = baremetal::IrqState;

  // One instruction: `mov %gs:0, %eax` (each CPU's GS base is its per-CPU area; tests/qemu's
  // baremetal.current_cpu_is_one_instruction checks the built kernel). volatile: a task may move to another CPU
  // between two calls (preemption, blocking), so two reads must never be merged into one.
  static CpuId current_cpu() {
    CpuId id;
    asm volatile("movl %%gs:%c1, %0" : "=r"(id) : "i"(kPerCpuIdOffset));
    return id;
  }
  static u32 cpu_count();
  static void cpu_relax() { __builtin_ia32_pause(); }

  static IrqState irq_save() {
    u64 flags;
    asm volatile("pushfq; popq %0; cli" : "=r"(flags) : : "memory");
    return IrqState{flags};
  }
  static void irq_restore(IrqState s) {
    if (s.rflags & kRflagsIf) asm volatile("sti" : : : "memory");
  }
  static void irq_enable() { asm volatile("sti" : : : "memory"); }
  static bool irq_enabled() {
    u64 flags;
    asm volatile("pushfq; popq %0" : "=r"(flags));
    return (flags & kRflagsIf) != 0;
  }

  static void context_init(Context& ctx, void* stack, usize size, ContextEntry entry, void* arg);
  static void context_switch(Context& from, Context& to);
  // Nothing to undo: a stack is plain memory here.
  static void context_stack_released(void*, usize) {}

  static u64 now_ns();
  // The TSC (its rate: clock::tsc_hz()).
  static u64 ticks() { return __builtin_ia32_rdtsc(); }
  static void delay_ns(u64 ns) {
    const u64 end = now_ns() + ns;
    while (now_ns() < end) cpu_relax();
  }
  static void timer_arm(u64 deadline_ns);
  static void timer_cancel();
  static void set_timer_handler(TimerHandler handler);

  static void cpu_idle();
  static void cpu_wake(CpuId cpu);

  static std::span<const MemoryRange> boot_memory_map();
  static void* phys_to_virt(u64 phys);

  static void console_write(const char* s, usize n);

  [[noreturn]] static void shutdown(ExitStatus status);

  static usize backtrace(uptr* pcs, usize max);
  static bool symbolize(uptr pc, char* buf, usize cap);

  // No simulator on hardware: scheduling points cost nothing.
  static void sched_point(SchedPoint) {}
};

}  // namespace platypos::baremetal

namespace platypos {
using PlatformImpl = baremetal::BaremetalPlatform;
}
