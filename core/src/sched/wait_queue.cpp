#include <platypos/sched/wait_queue.hpp>

namespace platypos::sched {

void WaitQueue::enqueue(Waiter& w) {
  w.task = scheduler().current();
  PLATYPOS_ASSERT(w.task != nullptr, "WaitQueue::wait_while() outside a task");
  IrqSpinGuard g(lock_);
  waiters_.push_back(w);
}

void WaitQueue::dequeue(Waiter& w) {
  {
    IrqSpinGuard g(lock_);
    if (w.is_linked()) waiters_.remove(w);
  }
  scheduler().exit_if_killed();
}

usize WaitQueue::wake_one() {
  IrqSpinGuard g(lock_);
  Waiter* w = waiters_.pop_front();
  if (w == nullptr) return 0;
  scheduler().wake(w->task);  // under our lock: the waiter's frame stays alive until we are done
  return 1;
}

usize WaitQueue::wake_all() {
  IrqSpinGuard g(lock_);
  usize n = 0;
  while (Waiter* w = waiters_.pop_front()) {
    scheduler().wake(w->task);
    ++n;
  }
  return n;
}

}  // namespace platypos::sched
