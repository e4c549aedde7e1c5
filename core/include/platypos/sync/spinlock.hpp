#pragma once
// SpinLock: a test-and-test-and-set lock for short critical sections between CPUs.
//
// Invariants: the lock word is 0 when free, otherwise 1 + the id of the CPU holding it. Taking a lock this CPU
// already holds is a bug (it would deadlock): it panics with the lock's name. A lock that is also taken from an
// interrupt handler must be taken with IrqSpinGuard everywhere, or the handler can interrupt its own CPU's holder.
// Not copyable or movable (other CPUs hold its address).

#include <platypos/base/assert.hpp>
#include <platypos/platform.hpp>
#include <platypos/sync/atomic.hpp>

namespace platypos {

class SpinLock {
 public:
  constexpr explicit SpinLock(const char* name = "spinlock") : name_(name) {}
  SpinLock(const SpinLock&) = delete;
  SpinLock& operator=(const SpinLock&) = delete;

  void lock() {
    const u32 me = Platform::current_cpu() + 1;
    Platform::sched_point(SchedPoint::lock_acquire);
    for (;;) {
      u32 expected = 0;
      if (word_.compare_exchange_weak(expected, me, std::memory_order_acquire, std::memory_order_relaxed)) return;
      if (expected == me) [[unlikely]] {
        PLATYPOS_PANIC("spinlock '{}' taken recursively on cpu {}", name_, me - 1);
      }
      // Spin on a plain load (no cache-line ping-pong) until the lock looks free.
      while (word_.load(std::memory_order_relaxed) != 0) Platform::cpu_relax();
    }
  }

  bool try_lock() {
    u32 expected = 0;
    return word_.compare_exchange_strong(expected, Platform::current_cpu() + 1, std::memory_order_acquire,
                                         std::memory_order_relaxed);
  }

  void unlock() {
    PLATYPOS_ASSERT(held_by_current_cpu(), "spinlock '{}' released by cpu {} which does not hold it", name_,
                    Platform::current_cpu());
    word_.store(0, std::memory_order_release);
  }

  bool held_by_current_cpu() const {
    return word_.unobserved().load(std::memory_order_relaxed) == Platform::current_cpu() + 1;
  }
  bool is_locked() const { return word_.unobserved().load(std::memory_order_relaxed) != 0; }
  const char* name() const { return name_; }

 private:
  Atomic<u32> word_{0};
  const char* name_;
};

// Holds a SpinLock for a scope. For locks never taken from interrupt handlers.
class [[nodiscard]] SpinGuard {
 public:
  explicit SpinGuard(SpinLock& lock) : lock_(lock) { lock_.lock(); }
  ~SpinGuard() { lock_.unlock(); }
  SpinGuard(const SpinGuard&) = delete;
  SpinGuard& operator=(const SpinGuard&) = delete;

 private:
  SpinLock& lock_;
};

// Disables interrupts on this CPU, then holds the lock; restores the previous interrupt state after releasing it.
class [[nodiscard]] IrqSpinGuard {
 public:
  explicit IrqSpinGuard(SpinLock& lock) : lock_(lock), irq_(Platform::irq_save()) { lock_.lock(); }
  ~IrqSpinGuard() {
    lock_.unlock();
    Platform::irq_restore(irq_);
  }
  IrqSpinGuard(const IrqSpinGuard&) = delete;
  IrqSpinGuard& operator=(const IrqSpinGuard&) = delete;

 private:
  SpinLock& lock_;
  Platform::IrqState irq_;
};

}  // namespace platypos
