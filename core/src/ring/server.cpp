#include <platypos/base/atomic.hpp>
#include <platypos/ring/server.hpp>
#include <platypos/trace/trace.hpp>

namespace platypos::ring {

Result<void> RingServer::start(sched::Scheduler& s, const char* name, u64 idle_ns) {
  sched_ = &s;
  idle_ns_ = idle_ns;
  sched::Task* t = PLATYPOS_TRY(s.create_task(sched::kNoProcess, name, &RingServer::main, this));
  IrqSpinGuard g(lock_);  // wake() reads it under the lock, on other CPUs
  task_ = t;
  return ok();
}

void RingServer::main(void* self) { static_cast<RingServer*>(self)->run(); }

void RingServer::stop() {
  IrqSpinGuard g(lock_);
  stopping_ = true;
  wake_locked();
}

void RingServer::wake() {
  IrqSpinGuard g(lock_);
  wake_locked();
}

void RingServer::wake_locked() {
  // The task frees itself once run() returns (the scheduler reaps it), and wake() comes from any CPU at any time (a
  // doorbell, an object signalling a parked op, a process exiting). So the task's end is a handshake under lock_:
  // run() sets exited_ under it as its last act, and the wake-up is done whole under it. A waker that sees
  // !exited_ holds the lock until Scheduler::wake() has returned, so the task cannot get past that last act, let
  // alone be reaped, in between; a waker after it sees exited_ and leaves the task alone. (Waking a task that is
  // still running only leaves a pending wake-up: harmless.)
  //
  // Lock order: lock_, then the scheduler's run-queue lock inside Scheduler::wake(). Nothing calls into the server
  // with a run-queue lock held (Ring calls wake() and ring_dying() holding at most an object's lock, and never its
  // own lock_), and the server calls nothing under lock_ but the scheduler's wake (for_each_ring's callback must not
  // call back into it), so there is no cycle.
  if (task_ != nullptr && !exited_) sched_->wake(task_);
}

void RingServer::add(Ring* r) {
  r->set_server(this);
  IrqSpinGuard g(lock_);
  rings_.push_back(*r);
  wake_locked();
}

void RingServer::ring_dying(Ring* r) {
  IrqSpinGuard g(lock_);
  PLATYPOS_ASSERT(dying_count_ < 64, "ring server: too many rings retiring at once");
  dying_[dying_count_++] = r;
  wake_locked();
}

void RingServer::retire(Ring* r) {
  {
    IrqSpinGuard g(lock_);
    if (r->is_linked()) rings_.remove(*r);
  }
  r->destroy();
}

u64 RingServer::idle_blocks() const {
  IrqSpinGuard g(lock_);
  return idle_blocks_;
}

usize RingServer::ring_count() const {
  IrqSpinGuard g(lock_);
  return rings_.size();
}

bool RingServer::pass() {
  // Retire the rings of processes that exited.
  Ring* dying[64];
  u32 n_dying = 0;
  {
    IrqSpinGuard g(lock_);
    n_dying = dying_count_;
    for (u32 i = 0; i < n_dying; ++i) dying[i] = dying_[i];
    dying_count_ = 0;
  }
  for (u32 i = 0; i < n_dying; ++i) retire(dying[i]);
  // Serve the others, round-robin from a rotating start. Only this task destroys rings, so the snapshot stays valid.
  Ring* rings[64];
  u32 n = 0;
  {
    IrqSpinGuard g(lock_);
    for (Ring& r : rings_) {
      if (n == 64) break;
      rings[n++] = &r;
    }
  }
  bool work = n_dying > 0;
  const u64 now = Platform::now_ns();
  for (u32 k = 0; k < n; ++k) {
    Ring* r = rings[(rotate_ + k) % n];
    work |= r->process_ready(now) > 0;
    work |= r->consume(kBudget) > 0;
  }
  ++rotate_;
  return work;
}

void RingServer::run() {
  u64 idle_since = 0;  // when the current stretch of empty passes began (0: the last pass had work)
  for (;;) {
    const bool work = pass();
    bool stopping = false;
    {
      IrqSpinGuard g(lock_);
      stopping = stopping_;
    }
    if (stopping && !work) break;
    if (work) {
      idle_since = 0;
      sched_->yield();  // other kernel tasks on this core get their turn
      continue;
    }
    const u64 now = Platform::now_ns();
    if (idle_since == 0) idle_since = now;
    if (now - idle_since < idle_ns_) {
      // Poll again soon; other kernel tasks of this core (if any are ready) go first. One spin point per pass: in
      // the simulator a spin jumps to the next event, which may be a timer interrupt that readies a task here.
      sched_->yield();
      Platform::cpu_relax();
      continue;
    }
    // Go idle: announce it, then look once more (a program that published its tail before seeing the flag will
    // not ring the doorbell: its entries must be found here).
    Ring* rings[64];
    u32 n = 0;
    {
      IrqSpinGuard g(lock_);
      for (Ring& r : rings_) {
        if (n == 64) break;
        rings[n++] = &r;
      }
    }
    for (u32 i = 0; i < n; ++i) rings[i]->set_need_wakeup(true);
    atomic_fence(std::memory_order_seq_cst);
    bool pending = false;
    u64 deadline = 0;
    for (u32 i = 0; i < n; ++i) {
      pending = pending || rings[i]->has_submissions() || rings[i]->has_ready();
      const u64 d = rings[i]->next_deadline();
      if (d != 0 && (deadline == 0 || d < deadline)) deadline = d;
    }
    {
      IrqSpinGuard g(lock_);
      pending = pending || dying_count_ > 0 || stopping_;
      if (!pending) ++idle_blocks_;  // read by other CPUs (idle_blocks())
    }
    if (!pending) {
      PLATYPOS_TRACE(ring_idle, n, deadline);
      (void)sched_->block_until(deadline);
    }
    for (u32 i = 0; i < n; ++i) rings[i]->set_need_wakeup(false);
    idle_since = 0;
  }
  // The last thing the task does with this object (see wake_locked()): from here on nobody wakes it.
  IrqSpinGuard g(lock_);
  exited_ = true;
}

}  // namespace platypos::ring
