#include <platypos/ring/server.hpp>
#include <platypos/sync/atomic.hpp>
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

void RingServer::attach_net(u32 index, const io::NetDevice* device, const io::FileDevice* files) {
  lane_.init(index, device, [](void* self) { static_cast<RingServer*>(self)->wake(); }, this);
  lane_.set_files(files);
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
  if (!static_cast<ListNode<RingDyingTag>*>(r)->is_linked()) dying_.push_back(*r);
  wake_locked();
}

void RingServer::retire(Ring* r) {
  {
    IrqSpinGuard g(lock_);
    if (static_cast<ListNode<RingListTag>*>(r)->is_linked()) rings_.remove(*r);
    if (static_cast<ListNode<RingDyingTag>*>(r)->is_linked()) dying_.remove(*r);
  }
  r->destroy();
}

Ring* RingServer::next_ring(Ring* r) const {
  IrqSpinGuard g(lock_);
  return r == nullptr ? rings_.front() : rings_.next(*r);
}

u64 RingServer::idle_blocks() const {
  IrqSpinGuard g(lock_);
  return idle_blocks_;
}

usize RingServer::ring_count() const {
  IrqSpinGuard g(lock_);
  return rings_.size();
}

bool RingServer::pass(bool* stopping) {
  // Retire the rings of processes that stopped being live, one at a time (retire() takes the lock again); with none
  // left, in the same locked step, rotate for round-robin (the front ring goes to the back each pass, so each pass
  // starts one later) and read whether to stop: one lock per pass when nothing is dying (each lock is a cross-core
  // cache line the program's doorbell may also want).
  bool work = false;
  for (;;) {
    Ring* r = nullptr;
    {
      IrqSpinGuard g(lock_);
      r = dying_.pop_front();
      if (r == nullptr) {
        if (Ring* front = rings_.pop_front()) rings_.push_back(*front);
        *stopping = stopping_;
      }
    }
    if (r == nullptr) break;
    retire(r);
    work = true;
  }
  const u64 now = Platform::now_ns();
  if (lane_.device() != nullptr) work |= lane_.poll(now);
  for (Ring* r = next_ring(nullptr); r != nullptr; r = next_ring(r)) {
    work |= r->process_ready(now) > 0;
    work |= r->consume(kBudget) > 0;
  }
  return work;
}

void RingServer::run() {
  u64 idle_since = 0;  // when the current stretch of empty passes began (0: the last pass had work)
  for (;;) {
    bool stopping = false;  // (read at the start of the pass: a stop asked during it is seen by the next)
    const bool work = pass(&stopping);
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
    u32 n = 0;
    for (Ring* r = next_ring(nullptr); r != nullptr; r = next_ring(r), ++n) r->set_need_wakeup(true);
    atomic_fence(std::memory_order_seq_cst);
    bool pending = false;
    u64 deadline = 0;
    for (Ring* r = next_ring(nullptr); r != nullptr; r = next_ring(r)) {
      pending = pending || r->has_submissions() || r->has_ready();
      const u64 d = r->next_deadline();
      if (d != 0 && (deadline == 0 || d < deadline)) deadline = d;
    }
    // The network device: from here it interrupts the lane (which wakes this task) when it has news.
    const bool net = lane_.device() != nullptr;
    if (net && !pending) {
      u64 d = 0;
      pending = !lane_.prepare_idle(&d);
      if (d != 0 && (deadline == 0 || d < deadline)) deadline = d;
    }
    {
      IrqSpinGuard g(lock_);
      pending = pending || !dying_.empty() || stopping_;
      if (!pending) ++idle_blocks_;  // read by other CPUs (idle_blocks())
    }
    if (!pending) {
      PLATYPOS_TRACE(ring_idle, n, deadline);
      (void)sched_->block_until(deadline);
    }
    if (net) lane_.end_idle();
    for (Ring* r = next_ring(nullptr); r != nullptr; r = next_ring(r)) r->set_need_wakeup(false);
    idle_since = 0;
  }
  // The last thing the task does with this object (see wake_locked()): from here on nobody wakes it.
  IrqSpinGuard g(lock_);
  exited_ = true;
}

}  // namespace platypos::ring
