#pragma once
// The hosted Platform: PlatypOS as an ordinary Linux program, in one of two modes.
//
//   threads mode  hosted::Machine: one OS thread per simulated CPU, the real monotonic clock, idle CPUs sleeping on
//                 a condition variable, timer interrupts delivered at scheduling points (and in cpu_idle).
//   sim mode      hosted::SimMachine: every simulated CPU is a fiber on one OS thread; at each scheduling point a
//                 seeded scheduler picks which CPU runs next; time is virtual. Same seed, same run.
//
// core/ sees only these declarations and a few inline fast paths over plain __thread variables: everything else is
// defined in backends/hosted/src, so core objects reference symbols in platypos::hosted and nothing from
// libstdc++, Boost or spdlog (the freestanding link check relies on it).

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
  void* tsan_fiber = nullptr;  // ThreadSanitizer's state for this context (PLATYPOS_TSAN_FIBERS builds only)
  // The lowest words of the stack context_init() gave it, holding a pattern: a task that ran off the end of its
  // stack overwrote them (host memory has no guard page there), and context_switch() away from it panics.
  u64* canary = nullptr;
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

// Non-zero when this thread's scheduling points need the slow path: a hook is installed (sim mode, tests) or a
// timer interrupt is pending (threads mode; another thread sets it).
extern __thread u32 t_sched_flags;
inline constexpr u32 kSchedFlagHook = 1;
inline constexpr u32 kSchedFlagTimer = 2;
inline constexpr u32 kSchedFlagDevice = 4;
void sched_point_slow(SchedPoint p);

// The hook sched_point_slow() calls for every scheduling point while installed (the simulator's scheduler, or a
// test's counter). install_sched_hook() also flags the calling thread; pass nullptr to remove it.
using SchedHook = void (*)(SchedPoint p);
void install_sched_hook(SchedHook hook);

// Device interrupts (threads mode): a host thread that stands for a device (one waiting on an io_uring's eventfd)
// raises one on a CPU; that CPU runs the handler registered for it, in interrupt context, at its next scheduling
// point with interrupts on, or at once if it is idle. One handler per CPU (nullptr: none; a raised interrupt is then
// dropped). Safe from any thread.
using DeviceIrqHandler = void (*)(void* context);
void set_device_irq_handler(CpuId cpu, DeviceIrqHandler handler, void* context);
void raise_device_irq(CpuId cpu);

// True while a SimMachine exists: ticks() is then its virtual clock (nanoseconds), so timestamps are deterministic.
extern bool g_virtual_ticks;
u64 virtual_ticks();

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
  static void irq_restore(IrqState s) {
    t_irq_enabled = s.was_enabled;
    // Re-enabling delivers an interrupt that arrived while they were off.
    if (s.was_enabled && __builtin_expect(__atomic_load_n(&t_sched_flags, __ATOMIC_RELAXED) != 0, false)) {
      sched_point_slow(SchedPoint::yield);
    }
  }
  static void irq_enable() { irq_restore(IrqState{true}); }
  static bool irq_enabled() { return t_irq_enabled; }

  static void context_init(Context& ctx, void* stack, usize size, ContextEntry entry, void* arg);
  static void context_switch(Context& from, Context& to);
  // Unpoisons the stack for AddressSanitizer (a no-op in other builds): see context.cpp.
  static void context_stack_released(void* stack, usize size);

  static u64 now_ns();
  // The TSC in threads mode (no fixed relation to now_ns(): convert with samples of both); virtual ns in sim mode.
  static u64 ticks() {
    if (__builtin_expect(g_virtual_ticks, false)) return virtual_ticks();
    return __builtin_ia32_rdtsc();
  }
  static void delay_ns(u64 ns);
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
    if (__builtin_expect(__atomic_load_n(&t_sched_flags, __ATOMIC_RELAXED) != 0, false)) sched_point_slow(p);
  }
};

}  // namespace platypos::hosted

namespace platypos {
using PlatformImpl = hosted::HostedPlatform;
}
