// The Platform concept: the hosted type satisfies every area, and a type missing an area is rejected by exactly
// that area's concept.

#include <platypos/platform.hpp>

#include <gtest/gtest.h>

namespace platypos {
namespace {

static_assert(PlatformApi<hosted::HostedPlatform>);

// A platform with everything except a clock.
struct NoClock {
  struct Context {};
  struct IrqState {};
  static CpuId current_cpu();
  static u32 cpu_count();
  static void cpu_relax();
  static IrqState irq_save();
  static void irq_restore(IrqState);
  static void irq_enable();
  static bool irq_enabled();
  static void context_init(Context&, void*, usize, ContextEntry, void*);
  static void context_switch(Context&, Context&);
  static void cpu_idle();
  static void cpu_wake(CpuId);
  static std::span<const MemoryRange> boot_memory_map();
  static void* phys_to_virt(u64);
  static void console_write(const char*, usize);
  static void shutdown(ExitStatus);
  static usize backtrace(uptr*, usize);
  static bool symbolize(uptr, char*, usize);
  static void sched_point(SchedPoint);
};

static_assert(PlatformCpu<NoClock> && PlatformIrq<NoClock> && PlatformContext<NoClock> && PlatformIdle<NoClock> &&
              PlatformMemory<NoClock> && PlatformConsole<NoClock> && PlatformShutdown<NoClock> &&
              PlatformDebug<NoClock> && PlatformSchedHook<NoClock>);
static_assert(!PlatformClock<NoClock>);
static_assert(!PlatformApi<NoClock>);

// A clock needs ticks() (the cheap timestamp counter) as well as now_ns().
struct ClockWithoutTicks : NoClock {
  static u64 now_ns();
  static void delay_ns(u64);
  static void timer_arm(u64);
  static void timer_cancel();
  static void set_timer_handler(TimerHandler);
};
static_assert(!PlatformClock<ClockWithoutTicks>);
struct WithTicks : ClockWithoutTicks {
  static u64 ticks();
};
static_assert(PlatformClock<WithTicks> && PlatformApi<WithTicks>);

// Wrong return type is rejected too.
struct WrongCpuId : NoClock {
  static int current_cpu();
};
static_assert(!PlatformCpu<WrongCpuId>);

TEST(Platform, IsStatelessAndZeroSized) {
  EXPECT_TRUE(std::is_empty_v<Platform>);
  EXPECT_TRUE((std::is_same_v<Platform, hosted::HostedPlatform>));
}

TEST(Platform, TicksAreMonotonicAndAdvance) {
  const u64 t0 = Platform::ticks();
  u64 last = t0;
  for (int i = 0; i < 1000; ++i) {
    const u64 t = Platform::ticks();
    EXPECT_GE(t, last);
    last = t;
  }
  // Some time passes: the counter moves (no assumption on its rate).
  Platform::delay_ns(100'000);
  EXPECT_GT(Platform::ticks(), t0);
}

TEST(Platform, IrqSaveRestoreNests) {
  ASSERT_TRUE(Platform::irq_enabled());
  auto outer = Platform::irq_save();
  EXPECT_FALSE(Platform::irq_enabled());
  auto inner = Platform::irq_save();
  Platform::irq_restore(inner);
  EXPECT_FALSE(Platform::irq_enabled());
  Platform::irq_restore(outer);
  EXPECT_TRUE(Platform::irq_enabled());
}

}  // namespace
}  // namespace platypos
