#pragma once
// Atomic<T>: std::atomic with a scheduling point before every access. On hardware and in threads mode the hook is
// free (or one predictable branch); in the deterministic simulator it is where another simulated CPU may run, so
// every interleaving of atomic steps is reachable by some seed. Shared kernel state uses this type, never a raw
// std::atomic, or the simulator cannot see the race.

#include <platypos/platform.hpp>

#include <atomic>

namespace platypos {

template <class T>
class Atomic {
  static_assert(std::atomic<T>::is_always_lock_free, "Atomic<T> must be lock-free (no libatomic in the kernel)");

 public:
  constexpr Atomic() : v_() {}
  constexpr explicit Atomic(T v) : v_(v) {}
  Atomic(const Atomic&) = delete;
  Atomic& operator=(const Atomic&) = delete;

  T load(std::memory_order mo = std::memory_order_seq_cst) const {
    Platform::sched_point(SchedPoint::atomic_load);
    return v_.load(mo);
  }
  void store(T v, std::memory_order mo = std::memory_order_seq_cst) {
    Platform::sched_point(SchedPoint::atomic_store);
    v_.store(v, mo);
  }
  T exchange(T v, std::memory_order mo = std::memory_order_seq_cst) {
    Platform::sched_point(SchedPoint::atomic_rmw);
    return v_.exchange(v, mo);
  }
  bool compare_exchange_strong(T& expected, T desired, std::memory_order success = std::memory_order_seq_cst,
                               std::memory_order failure = std::memory_order_seq_cst) {
    Platform::sched_point(SchedPoint::atomic_rmw);
    return v_.compare_exchange_strong(expected, desired, success, failure);
  }
  bool compare_exchange_weak(T& expected, T desired, std::memory_order success = std::memory_order_seq_cst,
                             std::memory_order failure = std::memory_order_seq_cst) {
    Platform::sched_point(SchedPoint::atomic_rmw);
    return v_.compare_exchange_weak(expected, desired, success, failure);
  }
  T fetch_add(T d, std::memory_order mo = std::memory_order_seq_cst) requires std::is_integral_v<T> {
    Platform::sched_point(SchedPoint::atomic_rmw);
    return v_.fetch_add(d, mo);
  }
  T fetch_sub(T d, std::memory_order mo = std::memory_order_seq_cst) requires std::is_integral_v<T> {
    Platform::sched_point(SchedPoint::atomic_rmw);
    return v_.fetch_sub(d, mo);
  }
  T fetch_or(T d, std::memory_order mo = std::memory_order_seq_cst) requires std::is_integral_v<T> {
    Platform::sched_point(SchedPoint::atomic_rmw);
    return v_.fetch_or(d, mo);
  }
  T fetch_and(T d, std::memory_order mo = std::memory_order_seq_cst) requires std::is_integral_v<T> {
    Platform::sched_point(SchedPoint::atomic_rmw);
    return v_.fetch_and(d, mo);
  }

  // Access without a scheduling point, for state no other CPU can see yet (initialization) or for the simulator's
  // own bookkeeping. Using it on shared state hides races from the simulator.
  std::atomic<T>& unobserved() { return v_; }
  const std::atomic<T>& unobserved() const { return v_; }

 private:
  std::atomic<T> v_;
};

// A memory fence that is also a scheduling point.
inline void atomic_fence(std::memory_order mo = std::memory_order_seq_cst) {
  Platform::sched_point(SchedPoint::fence);
  std::atomic_thread_fence(mo);
}

}  // namespace platypos
