#pragma once
// The hosted Platform: PlatypOS as an ordinary Linux program. Simulated CPUs are OS threads (threads mode) or, in
// sim mode, fibers on one thread; contexts are Boost.Context fibers; the console goes through spdlog.
//
// core/ sees only these declarations: everything is defined in backends/hosted/src, so core objects reference
// symbols in platypos::hosted and nothing from libstdc++, Boost or spdlog (the freestanding link check relies on it).

#include <platypos/platform_types.hpp>

#include <span>

namespace platypos::hosted {

// A suspended execution context. `handle` is Boost.Context's fcontext_t; the rest lets the sanitizers follow stack
// switches.
struct Context {
  void* handle = nullptr;
  ContextEntry entry = nullptr;
  void* arg = nullptr;
  void* stack_base = nullptr;
  usize stack_size = 0;
  void* asan_fake_stack = nullptr;
};

struct IrqState {
  bool was_enabled;
};

// The identity and interrupt flag of the simulated CPU the calling OS thread is running as. Plain __thread
// variables (no C++ thread_local wrapper calls), so current_cpu() and irq_save() are single instructions. A thread
// that is not a Machine's CPU is CPU 0 with interrupts enabled. In sim mode the simulator swaps them whenever it
// switches simulated CPUs on its one thread.
extern __thread CpuId t_cpu_id;
extern __thread bool t_irq_enabled;

// Installed while the deterministic simulator drives the CPUs: every scheduling point calls it. A plain pointer: it
// only changes while no simulated CPU runs. Null in threads mode, where a scheduling point is one untaken branch.
using SchedHook = void (*)(SchedPoint p);
extern SchedHook g_sched_hook;

struct HostedPlatform {
  using Context = hosted::Context;
  using IrqState = hosted::IrqState;

  static CpuId current_cpu() { return t_cpu_id; }
  static u32 cpu_count();
  static void cpu_relax();

  static IrqState irq_save() {
    IrqState s{t_irq_enabled};
    t_irq_enabled = false;
    return s;
  }
  static void irq_restore(IrqState s) { t_irq_enabled = s.was_enabled; }
  static bool irq_enabled() { return t_irq_enabled; }

  static void context_init(Context& ctx, void* stack, usize size, ContextEntry entry, void* arg);
  static void context_switch(Context& from, Context& to);

  static u64 now_ns();
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

  static void sched_point(SchedPoint p) {
    if (SchedHook h = g_sched_hook; __builtin_expect(h != nullptr, false)) h(p);
  }
};

}  // namespace platypos::hosted

namespace platypos {
using PlatformImpl = hosted::HostedPlatform;
}
