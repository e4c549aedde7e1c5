#pragma once
// WaitQueue: tasks blocked until someone wakes them, without lost wake-ups:
//
//   wq.wait_while([&] { return queue_empty(); });   // the waiter (the predicate takes whatever lock it needs)
//   push(request); wq.wake_one();                     // the waker: change the state first, then wake
//
// wait_while() queues the task first and evaluates the predicate after (Linux's prepare_to_wait): a waker that
// changes the state after the check finds the task queued and wakes it; one that changed it before is seen by the
// check. It returns when the predicate was false, or after a wake-up (callers loop if they need the condition).
// Lock order: a wait queue's lock before any run queue's; the predicate runs without the wait queue's lock.
// Not copyable or movable; must be empty when destroyed.

#include <platypos/sched/scheduler.hpp>
#include <platypos/sync/spinlock.hpp>

namespace platypos::sched {

class WaitQueue {
 public:
  explicit WaitQueue(const char* name = "wait queue") : lock_(name) {}
  WaitQueue(const WaitQueue&) = delete;
  WaitQueue& operator=(const WaitQueue&) = delete;

  // Blocks the calling task while `still_waiting()` is true at the time it is queued, until woken. If the task's
  // process is exiting, the task terminates instead of returning.
  template <class Pred>
  void wait_while(Pred&& still_waiting) {
    Waiter w;
    enqueue(w);
    if (still_waiting()) scheduler().block();
    dequeue(w);
  }
  // Wakes the longest waiter / every waiter. Return how many were woken.
  usize wake_one();
  usize wake_all();
  usize waiters() const { return waiters_.size(); }

 private:
  struct WaiterTag;
  // Lives on the waiting task's stack for the duration of wait(); wakers wake its task while holding the queue's
  // lock, so the waiter cannot return (and its stack frame vanish) in between.
  struct Waiter : ListNode<WaiterTag> {
    Task* task = nullptr;
  };
  void enqueue(Waiter& w);
  // Leaves the queue if still on it (woken by something else: a kill, a stray wake), then exits if killed.
  void dequeue(Waiter& w);
  SpinLock lock_;
  IntrusiveList<Waiter, WaiterTag> waiters_;
};

}  // namespace platypos::sched
