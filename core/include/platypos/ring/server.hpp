#pragma once
// RingServer: a kernel task on a kernel core that serves the rings assigned to it, however many (every process's
// rings can be on one server). Each pass visits every ring once, round-robin from a rotating start, consuming at
// most kBudget entries per ring, so one busy process cannot starve another. With nothing to do for idle_ns (like
// io_uring's sq_thread_idle: longer than a wake-up costs, so a program that pauses briefly finds it still polling) it
// sets NEED_WAKEUP on its rings, checks them once more behind a full fence, and blocks until a doorbell, an observer
// callback or the earliest parked deadline wakes it.

#include <platypos/base/intrusive_list.hpp>
#include <platypos/io/net.hpp>
#include <platypos/ring/ring.hpp>
#include <platypos/sched/scheduler.hpp>
#include <platypos/sync/spinlock.hpp>

namespace platypos::ring {

class RingServer {
 public:
  static constexpr u32 kBudget = 32;
  static constexpr u64 kDefaultIdleNs = 200'000;

  RingServer() = default;
  RingServer(const RingServer&) = delete;
  RingServer& operator=(const RingServer&) = delete;

  // Creates the server's kernel task, which polls for `idle_ns` after its last work before it sleeps. Fails like
  // Scheduler::create_task.
  Result<void> start(sched::Scheduler& s, const char* name, u64 idle_ns = kDefaultIdleNs);
  // Asks the task to end (after serving what is pending) and wakes it.
  void stop();

  void add(Ring* r);
  // Removes and destroys the ring (from the server task, or when the server is stopped).
  void retire(Ring* r);
  // A ring's process went away: the server retires the ring on its next pass.
  void ring_dying(Ring* r);

  // Wakes the server task (doorbell, observer callbacks), from any CPU, until the task has ended (then it does
  // nothing). Cheap if it is running: a pending wake-up. Takes the server's lock, then the scheduler's run-queue lock.
  void wake();

  // The network's lane on this server's core (before start(); none: the net ops fail with not_supported). The
  // server polls it every pass and sleeps only when the device agrees (NetDevice::prepare_idle).
  void attach_net(u32 index, const io::NetDevice* device, const io::FileDevice* files = nullptr);
  io::Lane* lane() { return lane_.device() != nullptr ? &lane_ : nullptr; }

  // How many times the task went to sleep for lack of work.
  u64 idle_blocks() const;
  // Calls f(Ring&) for each ring it serves, under its lock (diagnostics: f must not call back into the server).
  template <class F>
  void for_each_ring(F&& f) const {
    IrqSpinGuard g(lock_);
    for (const Ring& r : rings_) f(r);
  }
  usize ring_count() const;

 private:
  static void main(void* self);
  void run();
  // One pass over the rings; *stopping: whether stop() had been asked when it began.
  bool pass(bool* stopping);
  // The ring after `r` in rings_ (nullptr at the end), or the first with r == nullptr.
  Ring* next_ring(Ring* r) const;
  void wake_locked();  // lock_ held

  sched::Scheduler* sched_ = nullptr;
  sched::Task* task_ = nullptr;
  mutable SpinLock lock_{"ring server"};
  // Only the server task removes rings from rings_ (add() appends from any CPU, under lock_), so the task can walk
  // it a ring at a time, taking the lock only to step. dying_ holds the rings whose processes stopped being live
  // (ring_dying, from any CPU), each once, until the task retires them.
  IntrusiveList<Ring, RingListTag> rings_;
  IntrusiveList<Ring, RingDyingTag> dying_;
  bool stopping_ = false;
  bool exited_ = false;  // under lock_: set by the task as its last act, so that wake() never touches a reaped task
  u64 idle_blocks_ = 0;  // under lock_
  u64 idle_ns_ = kDefaultIdleNs;
  io::Lane lane_;
};

}  // namespace platypos::ring
