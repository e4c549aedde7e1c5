// The hosted Machine in threads mode: CPUs as threads, idle/wake, the one-shot timer, simulated memory.

#include <platypos/hosted/machine.hpp>
#include <platypos/platform.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <set>
#include <thread>

namespace platypos {
namespace {

TEST(HostedMachine, EachThreadIsOneCpu) {
  hosted::Machine m({.cpus = 4});
  std::mutex mu;
  std::set<CpuId> seen;
  m.run([&](CpuId cpu) {
    EXPECT_EQ(Platform::current_cpu(), cpu);
    EXPECT_EQ(Platform::cpu_count(), 4u);
    std::lock_guard g(mu);
    seen.insert(cpu);
  });
  EXPECT_EQ(seen, (std::set<CpuId>{0, 1, 2, 3}));
}

TEST(HostedMachine, WakeBeforeIdleIsNotLost) {
  hosted::Machine m({.cpus = 1});
  m.run([&](CpuId) {
    Platform::cpu_wake(0);
    Platform::cpu_idle();  // returns at once: the wake-up was pending
  });
  SUCCEED();
}

TEST(HostedMachine, IdleCpuIsWokenByAnother) {
  hosted::Machine m({.cpus = 2});
  std::atomic<int> stage{0};
  m.run([&](CpuId cpu) {
    if (cpu == 0) {
      stage = 1;
      Platform::cpu_idle();
      EXPECT_EQ(stage.load(), 2);
      stage = 3;
    } else {
      while (stage.load() != 1) std::this_thread::yield();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      stage = 2;
      Platform::cpu_wake(0);
    }
  });
  EXPECT_EQ(stage.load(), 3);
}

// A deadline past 2^63 ns (a program's WAIT can ask for one) fits no steady_clock time. The idling CPU and the timer
// thread must still block on it, not spin: they once spun with their mutexes held, and a CPU that wanted to wake the
// idle one (holding a run-queue lock meanwhile) waited for good (found by sim.hostile.threads). While CPU 0 idles
// with such a timer and CPU 1 sleeps, the whole process should use next to no CPU time.
TEST(HostedMachine, ADeadlineNoClockCanHoldIdlesWithoutSpinning) {
  hosted::Machine m({.cpus = 2});
  std::atomic<int> stage{0};
  std::atomic<u64> busy_ns{0};
  auto process_cpu_ns = [] {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<u64>(ts.tv_sec) * 1'000'000'000u + static_cast<u64>(ts.tv_nsec);
  };
  m.run([&](CpuId cpu) {
    if (cpu == 0) {
      Platform::timer_arm((u64{1} << 63) + 12345);
      stage = 1;
      Platform::cpu_idle();  // until CPU 1 wakes it: the timer never fires
      Platform::timer_cancel();
      stage = 3;
    } else {
      while (stage.load() != 1) std::this_thread::yield();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // CPU 0 is in cpu_idle by now
      const u64 before = process_cpu_ns();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      busy_ns = process_cpu_ns() - before;
      stage = 2;
      Platform::cpu_wake(0);
    }
  });
  EXPECT_EQ(stage.load(), 3);
  // Spinning costs a whole host CPU (~200 ms here); blocked threads, next to nothing.
  EXPECT_LT(busy_ns.load(), 50'000'000u) << "CPU time used while every CPU was idle or asleep";
}

std::atomic<int> g_timer_fires{0};
std::atomic<bool> g_irqs_off_in_handler{false};
void on_timer(u64) {
  ++g_timer_fires;
  g_irqs_off_in_handler = !Platform::irq_enabled();
}

TEST(HostedMachine, OneShotTimerFiresOnceOnItsCpu) {
  hosted::Machine m({.cpus = 1});
  Platform::set_timer_handler(&on_timer);
  g_timer_fires = 0;
  m.run([&](CpuId) {
    const u64 start = Platform::now_ns();
    Platform::timer_arm(start + 2'000'000);
    Platform::cpu_idle();
    EXPECT_GE(Platform::now_ns(), start + 2'000'000);
    EXPECT_EQ(g_timer_fires.load(), 1);
    EXPECT_TRUE(g_irqs_off_in_handler.load());
    EXPECT_TRUE(Platform::irq_enabled());
    // Cancelled timers do not fire: a wake-up ends this idle instead.
    Platform::timer_arm(Platform::now_ns() + 1'000'000);
    Platform::timer_cancel();
    Platform::cpu_wake(0);
    Platform::cpu_idle();
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    EXPECT_EQ(g_timer_fires.load(), 1);
  });
  Platform::set_timer_handler(nullptr);
}

TEST(HostedMachine, ClockIsMonotonic) {
  u64 prev = Platform::now_ns();
  for (int i = 0; i < 10000; ++i) {
    const u64 now = Platform::now_ns();
    ASSERT_GE(now, prev);
    prev = now;
  }
}

TEST(HostedMachine, SimulatedMemoryAndItsMap) {
  hosted::Machine m({.cpus = 1, .memory_bytes = 64ull << 20});
  auto map = Platform::boot_memory_map();
  ASSERT_EQ(map.size(), 4u);
  EXPECT_EQ(map[0].type, MemoryType::reserved);
  EXPECT_EQ(map[0].base, 0u);
  EXPECT_EQ(map[3].base, 0x100000u);
  EXPECT_EQ(map[3].end(), 64ull << 20);
  u64 free_bytes = 0;
  for (const auto& r : map)
    if (r.type == MemoryType::free_ram) free_bytes += r.size;
  EXPECT_EQ(free_bytes, (64ull << 20) - 0x1000 - (0x100000 - 0x9f000));
  auto* p = static_cast<char*>(Platform::phys_to_virt(0x200000));
  std::memset(p, 0xab, 4096);
  EXPECT_EQ(static_cast<char*>(Platform::phys_to_virt(0x200001))[0], static_cast<char>(0xab));
}

TEST(HostedMachine, SyntheticMapOfTinyMachineIsClipped) {
  auto map = hosted::synthetic_memory_map(0x80000);
  ASSERT_EQ(map.size(), 2u);
  EXPECT_EQ(map[1].end(), 0x80000u);
}

using HostedMachineDeathTest = ::testing::Test;

TEST_F(HostedMachineDeathTest, PhysToVirtOutsideMemoryPanics) {
  EXPECT_DEATH(
      {
        hosted::Machine m({.cpus = 1, .memory_bytes = 1 << 20});
        (void)Platform::phys_to_virt(2 << 20);
      },
      "beyond the machine's 0x100000 bytes");
}

TEST_F(HostedMachineDeathTest, OnlyOneMachineAtATime) {
  EXPECT_DEATH(
      {
        hosted::Machine a({.cpus = 1});
        hosted::Machine b({.cpus = 1});
      },
      "only one hosted::Machine");
}

}  // namespace
}  // namespace platypos
