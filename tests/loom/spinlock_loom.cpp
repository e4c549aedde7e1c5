// SpinLock (core/include/platypos/sync/spinlock.hpp): mutual exclusion and no lost updates; and a planted
// check-then-act lock (test, then set, as two steps) that exploration must break.
#include "loom.hpp"

#include <platypos/sync/atomic.hpp>
#include <platypos/sync/spinlock.hpp>

namespace platypos::loom {
namespace {

constexpr u32 kIters = 2;

// The counter is read and written in two steps (two scheduling points): only the lock makes the increment whole.
template <class Lock>
struct CounterTest final : Instance {
  Lock lock;
  Atomic<u32> inside{0};
  Atomic<u32> counter{0};
  u32 cpus;
  explicit CounterTest(u32 n) : cpus(n) {}
  void run(CpuId) override {
    for (u32 i = 0; i < kIters; ++i) {
      lock.lock();
      const u32 in = inside.load();
      LOOM_CHECK(in == 0, "two cpus inside the critical section");
      inside.store(in + 1);
      counter.store(counter.load() + 1);
      inside.store(inside.load() - 1);
      lock.unlock();
    }
  }
  void check() override {
    const u32 c = counter.unobserved().load();
    LOOM_CHECK(c == cpus * kIters, "lost update: counter " + std::to_string(c));
  }
};

// The planted bug: "is it free? then take it" as two separate steps. Another CPU can take it in between.
class CheckThenActLock {
 public:
  void lock() {
    for (;;) {
      if (word_.load() == 0) {
        word_.store(1);
        return;
      }
      Platform::cpu_relax();
    }
  }
  void unlock() { word_.store(0); }

 private:
  Atomic<u32> word_{0};
};

const Register r1({"spinlock.counter", "2 cpus x 2 increments of a two-step counter under SpinLock", 2, false,
                   [] { return std::make_unique<CounterTest<SpinLock>>(2); }});
const Register r2({"spinlock.counter3", "3 cpus x 2 increments under SpinLock", 3, false,
                   [] { return std::make_unique<CounterTest<SpinLock>>(3); }});
const Register r3({"spinlock.bug_check_then_act", "planted: a lock that tests, then sets, in two steps", 2, true,
                   [] { return std::make_unique<CounterTest<CheckThenActLock>>(2); }});

}  // namespace
}  // namespace platypos::loom
