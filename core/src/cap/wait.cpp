#include <platypos/cap/wait.hpp>
#include <platypos/sched/scheduler.hpp>

namespace platypos::cap {

Result<u32> wait_signals(KernelObject& object, u32 wanted, u64 deadline_ns) {
  if (wanted == 0) return Error::invalid_argument;
  sched::Scheduler& s = sched::scheduler();
  Observer o;
  o.wanted = wanted;
  o.context = s.current();
  PLATYPOS_ASSERT(o.context != nullptr, "wait_signals() outside a task");
  o.callback = [](Observer* self) { sched::scheduler().wake(static_cast<sched::Task*>(self->context)); };
  if (object.observe(o)) return o.observed;
  for (;;) {
    const bool timed_out = s.block_until(deadline_ns);
    if (o.fired) return o.observed;
    if (timed_out || s.current()->state() == sched::TaskState::exited) break;
    // Woken for another reason (a stray wake-up, or a kill): if killed, stop observing before ending.
    if (!object.cancel(o)) return o.observed;  // it fired in between
    s.exit_if_killed();
    if (object.observe(o)) return o.observed;
  }
  // Deadline: stop observing; if it fired meanwhile, that wins.
  if (!object.cancel(o)) return o.observed;
  return Error::timed_out;
}

}  // namespace platypos::cap
