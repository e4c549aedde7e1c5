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

// Wrong return type is rejected too.
struct WrongCpuId : NoClock {
  static int current_cpu();
};
static_assert(!PlatformCpu<WrongCpuId>);

TEST(Platform, IsStatelessAndZeroSized) {
  EXPECT_TRUE(std::is_empty_v<Platform>);
  EXPECT_TRUE((std::is_same_v<Platform, hosted::HostedPlatform>));
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
