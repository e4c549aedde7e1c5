#include <platypos/hosted/machine.hpp>
#include <platypos/sync/atomic.hpp>
#include <platypos/sync/spinlock.hpp>

#include <gtest/gtest.h>

namespace platypos {
namespace {

// Counts scheduling points while installed as the simulator hook.
int g_points[16];
void count_point(SchedPoint p) { ++g_points[static_cast<int>(p)]; }

struct HookGuard {
  HookGuard() {
    for (int& x : g_points) x = 0;
    hosted::install_sched_hook(&count_point);
  }
  ~HookGuard() { hosted::install_sched_hook(nullptr); }
};

TEST(Atomic, OperationsBehaveLikeStdAtomic) {
  Atomic<u64> a(5);
  EXPECT_EQ(a.load(), 5u);
  a.store(7);
  EXPECT_EQ(a.exchange(9), 7u);
  EXPECT_EQ(a.fetch_add(1), 9u);
  EXPECT_EQ(a.fetch_sub(2), 10u);
  EXPECT_EQ(a.fetch_or(0x100), 8u);
  EXPECT_EQ(a.fetch_and(0x0ff), 0x108u);
  u64 expected = 1;
  EXPECT_FALSE(a.compare_exchange_strong(expected, 2));
  EXPECT_EQ(expected, 8u);
  EXPECT_TRUE(a.compare_exchange_strong(expected, 2));
  EXPECT_EQ(a.load(std::memory_order_acquire), 2u);
}

TEST(Atomic, EveryAccessIsASchedulingPoint) {
  HookGuard hook;
  Atomic<u32> a(0);
  a.store(1);
  (void)a.load();
  (void)a.fetch_add(1);
  u32 e = 2;
  (void)a.compare_exchange_weak(e, 3);
  atomic_fence();
  EXPECT_EQ(g_points[static_cast<int>(SchedPoint::atomic_store)], 1);
  EXPECT_EQ(g_points[static_cast<int>(SchedPoint::atomic_load)], 1);
  EXPECT_EQ(g_points[static_cast<int>(SchedPoint::atomic_rmw)], 2);
  EXPECT_EQ(g_points[static_cast<int>(SchedPoint::fence)], 1);
  // unobserved() is for state nobody else can see yet: no scheduling point.
  a.unobserved().store(5);
  EXPECT_EQ(g_points[static_cast<int>(SchedPoint::atomic_store)], 1);
}

TEST(Atomic, SpinLockAcquireIsASchedulingPoint) {
  HookGuard hook;
  SpinLock lock("hooked");
  lock.lock();
  lock.unlock();
  EXPECT_EQ(g_points[static_cast<int>(SchedPoint::lock_acquire)], 1);
}

}  // namespace
}  // namespace platypos
