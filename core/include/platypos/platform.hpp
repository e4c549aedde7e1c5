#pragma once
// The Platform: everything core/ needs from the machine, as one stateless type per build with static functions,
// chosen at build time by the include path (the backend's platypos/platform_impl.hpp), checked here by concepts.
// No virtual calls and no #ifdef: the compiler sees straight through it.
//
// Each area is its own concept so that a backend missing something gets an error naming the area.

#include <platypos/platform_impl.hpp>
#include <platypos/platform_types.hpp>

#include <concepts>
#include <span>
#include <type_traits>

namespace platypos {

// CPU identity. current_cpu() is in [0, cpu_count()). cpu_relax() is the spin-wait hint (pause; a scheduling point
// in the simulator, so spinning CPUs let the lock holder run).
template <class P>
concept PlatformCpu = requires {
  { P::current_cpu() } -> std::same_as<CpuId>;
  { P::cpu_count() } -> std::same_as<u32>;
  { P::cpu_relax() } -> std::same_as<void>;
};

// Interrupt masking on the current CPU. irq_save() disables and returns the previous state; irq_restore() puts it
// back (nesting works); irq_enable() turns interrupts on (a new task's first act).
template <class P>
concept PlatformIrq = requires(typename P::IrqState s) {
  { P::irq_save() } -> std::same_as<typename P::IrqState>;
  { P::irq_restore(s) } -> std::same_as<void>;
  { P::irq_enable() } -> std::same_as<void>;
  { P::irq_enabled() } -> std::same_as<bool>;
};

// Execution contexts (task stacks and registers). context_init() prepares `ctx` to run entry(arg) on the given stack
// the first time something switches to it; context_switch(from, to) saves the current context into `from` and
// resumes `to`. O(1), no allocation.
template <class P>
concept PlatformContext = std::is_default_constructible_v<typename P::Context> &&
    requires(typename P::Context& c, void* stack, usize size, ContextEntry entry, void* arg) {
  { P::context_init(c, stack, size, entry, arg) } -> std::same_as<void>;
  { P::context_switch(c, c) } -> std::same_as<void>;
};

// The end of a context's stack: context_stack_released(stack, size) is called once no context runs on that memory
// any more (its task exited and was switched away from for good), before the memory goes back to an allocator and
// may become anything. Bare metal has nothing to do; the hosted backend clears the AddressSanitizer poison the
// context's frames left there, which would otherwise be reported against whatever reuses the pages. A separate
// concept from PlatformContext so that test fakes of the Platform need not spell it.
template <class P>
concept PlatformStackRelease = requires(void* stack, usize size) {
  { P::context_stack_released(stack, size) } -> std::same_as<void>;
};

// Monotonic nanoseconds and a per-CPU one-shot timer. timer_arm() replaces any earlier deadline on this CPU; the
// handler (one per machine) runs on that CPU once now_ns() >= deadline, in interrupt context. delay_ns() busy-waits
// (in the simulator it costs exactly that much virtual time: it is how workloads model CPU work).
// ticks() is a cheaper monotonic counter for timestamps on hot paths (trace records): the TSC on x86, virtual
// nanoseconds in the simulator. Its rate is whatever the hardware's is; code that needs nanoseconds samples
// ticks() and now_ns() together and converts (the tracer's clock syncs).
template <class P>
concept PlatformClock = requires(u64 t, TimerHandler h) {
  { P::now_ns() } -> std::same_as<u64>;
  { P::ticks() } -> std::same_as<u64>;
  { P::delay_ns(t) } -> std::same_as<void>;
  { P::timer_arm(t) } -> std::same_as<void>;
  { P::timer_cancel() } -> std::same_as<void>;
  { P::set_timer_handler(h) } -> std::same_as<void>;
};

// Idle and wake-up. cpu_idle() halts the current CPU until cpu_wake() targets it or its timer fires; a wake-up that
// arrives before the CPU idles is not lost (the next cpu_idle() returns at once).
template <class P>
concept PlatformIdle = requires(CpuId cpu) {
  { P::cpu_idle() } -> std::same_as<void>;
  { P::cpu_wake(cpu) } -> std::same_as<void>;
};

// Physical memory: the boot memory map as firmware reported it, and the kernel's view of a physical address.
template <class P>
concept PlatformMemory = requires(u64 phys) {
  { P::boot_memory_map() } -> std::same_as<std::span<const MemoryRange>>;
  { P::phys_to_virt(phys) } -> std::same_as<void*>;
};

// The console: raw text, any length, no formatting.
template <class P>
concept PlatformConsole = requires(const char* s, usize n) {
  { P::console_write(s, n) } -> std::same_as<void>;
};

// Stopping the machine with a status (the test harnesses read it).
template <class P>
concept PlatformShutdown = requires(ExitStatus st) {
  { P::shutdown(st) } -> std::same_as<void>;
};

// Debugging aids: the current call stack as return addresses, and (where the backend can) a function name for one.
template <class P>
concept PlatformDebug = requires(uptr* pcs, usize max, uptr pc, char* buf) {
  { P::backtrace(pcs, max) } -> std::same_as<usize>;
  { P::symbolize(pc, buf, max) } -> std::same_as<bool>;
};

// The scheduling-point hook used by Atomic<T>, SpinLock, ring polling and idle.
template <class P>
concept PlatformSchedHook = requires(SchedPoint p) {
  { P::sched_point(p) } -> std::same_as<void>;
};

template <class P>
concept PlatformApi = PlatformCpu<P> && PlatformIrq<P> && PlatformContext<P> && PlatformClock<P> && PlatformIdle<P> &&
    PlatformMemory<P> && PlatformConsole<P> && PlatformShutdown<P> && PlatformDebug<P> && PlatformSchedHook<P>;

using Platform = PlatformImpl;

static_assert(std::is_empty_v<Platform> && std::is_trivially_default_constructible_v<Platform>,
              "the Platform is a stateless type: static functions only");
static_assert(PlatformCpu<Platform>, "Platform: CPU API (current_cpu, cpu_count, cpu_relax) missing or wrong");
static_assert(PlatformIrq<Platform>, "Platform: IRQ API (IrqState, irq_save, irq_restore, irq_enable, irq_enabled)");
static_assert(PlatformContext<Platform>, "Platform: context API (Context, context_init, context_switch)");
static_assert(PlatformStackRelease<Platform>, "Platform: context_stack_released missing or wrong");
static_assert(PlatformClock<Platform>,
              "Platform: clock API (now_ns, ticks, delay_ns, timer_arm, timer_cancel, set_timer_handler)");
static_assert(PlatformIdle<Platform>, "Platform: idle API (cpu_idle, cpu_wake)");
static_assert(PlatformMemory<Platform>, "Platform: memory API (boot_memory_map, phys_to_virt)");
static_assert(PlatformConsole<Platform>, "Platform: console API (console_write)");
static_assert(PlatformShutdown<Platform>, "Platform: shutdown API (shutdown)");
static_assert(PlatformDebug<Platform>, "Platform: debug API (backtrace, symbolize)");
static_assert(PlatformSchedHook<Platform>, "Platform: scheduling-point hook (sched_point)");
static_assert(PlatformApi<Platform>);

}  // namespace platypos
