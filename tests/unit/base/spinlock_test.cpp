#include <platypos/hosted/machine.hpp>
#include <platypos/sync/spinlock.hpp>

#include <gtest/gtest.h>

#include <thread>

namespace platypos {
namespace {

// Several simulated CPUs (OS threads) increment a plain counter under the lock. Without mutual exclusion the
// non-atomic read-modify-write loses updates; with it the total is exact.
TEST(SpinLock, MutualExclusionUnderContention) {
  constexpr u32 kCpus = 4;
  constexpr u64 kIters = 200'000;
  hosted::Machine machine({.cpus = kCpus});
  SpinLock lock("test");
  volatile u64 counter = 0;
  u64 max_inside = 0;
  volatile u32 inside = 0;
  machine.run([&](CpuId) {
    for (u64 i = 0; i < kIters; ++i) {
      SpinGuard g(lock);
      inside = inside + 1;
      if (inside > max_inside) max_inside = inside;
      counter = counter + 1;
      inside = inside - 1;
    }
  });
  EXPECT_EQ(counter, kCpus * kIters);
  EXPECT_EQ(max_inside, 1u);
  EXPECT_FALSE(lock.is_locked());
}

TEST(SpinLock, TryLockAndOwnership) {
  SpinLock lock("owner");
  EXPECT_FALSE(lock.held_by_current_cpu());
  ASSERT_TRUE(lock.try_lock());
  EXPECT_TRUE(lock.is_locked());
  EXPECT_TRUE(lock.held_by_current_cpu());
  EXPECT_FALSE(lock.try_lock());
  lock.unlock();
  EXPECT_FALSE(lock.is_locked());
}

TEST(SpinLock, TryLockFailsWhileAnotherCpuHoldsIt) {
  hosted::Machine machine({.cpus = 2});
  SpinLock lock("pair");
  std::atomic<int> phase{0};
  bool other_got_it = true;
  machine.run([&](CpuId cpu) {
    if (cpu == 0) {
      lock.lock();
      phase = 1;
      while (phase.load() != 2) std::this_thread::yield();
      lock.unlock();
    } else {
      while (phase.load() != 1) std::this_thread::yield();
      other_got_it = lock.try_lock();
      phase = 2;
    }
  });
  EXPECT_FALSE(other_got_it);
}

TEST(SpinLock, IrqGuardDisablesAndRestoresInterrupts) {
  SpinLock lock("irq");
  ASSERT_TRUE(Platform::irq_enabled());
  {
    IrqSpinGuard g(lock);
    EXPECT_FALSE(Platform::irq_enabled());
    EXPECT_TRUE(lock.held_by_current_cpu());
    {
      // Nested guard on another lock keeps interrupts off and restores "off" on exit.
      SpinLock inner("inner");
      IrqSpinGuard g2(inner);
      EXPECT_FALSE(Platform::irq_enabled());
    }
    EXPECT_FALSE(Platform::irq_enabled());
  }
  EXPECT_TRUE(Platform::irq_enabled());
  EXPECT_FALSE(lock.is_locked());
}

using SpinLockDeathTest = ::testing::Test;

TEST_F(SpinLockDeathTest, RecursiveLockPanicsInsteadOfDeadlocking) {
  SpinLock lock("runqueue");
  EXPECT_DEATH(
      {
        lock.lock();
        lock.lock();
      },
      "spinlock 'runqueue' taken recursively on cpu 0");
}

TEST_F(SpinLockDeathTest, UnlockByNonOwnerPanics) {
  SpinLock lock("stray");
  EXPECT_DEATH(lock.unlock(), "spinlock 'stray' released by cpu 0 which does not hold it");
}

}  // namespace
}  // namespace platypos
