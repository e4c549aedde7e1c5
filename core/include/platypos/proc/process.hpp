#pragma once
// Processes as the kernel's objects: identity, the handle table, the process object, the memory account, and the
// teardown. The scheduler (sched/scheduler.hpp) admits a process (cores, memory) and runs its tasks; this layer adds
// everything else a process owns, and takes it apart once the scheduler reports the last task gone.
//
// Identity: a ProcessId names a slot and its generation (sched::ProcessId). A slot is not reused, and so its id
// cannot name a successor, until the process's teardown is complete: its rings retired (each ring pins its process
// for its whole life), its handles closed, its cycles collected, its exit signalled. So a stale Process* held by a
// ring always names its own process, never the next one in the slot.
//
// Teardown, in order:
//   1. the scheduler's exit hook (the last task gone, cores returned): the process stops being live (its rings take
//      no more entries), and its exit watchers (the servers of its rings) are told;
//   2. each ring, once its server retired it, unpins the process;
//   3. with no pin left: its handle table is closed (in batches, between which other kernel tasks run), channels
//      that only refer to one another are collected, the exit code is published (signals::exited), the memory
//      account released, and the slot given back.
// Steps 1 and 3 run on the reaper, a kernel task on a kernel core (start()), never under the scheduler's lock and
// never on someone else's app core. Without a reaper (stopped, or never started: unit tests of one layer) they run
// where the step became due.
//
// Billing: the handle table lives in the process's own account; its process object is paid by its parent (spawn's
// payer) or the kernel heap (a process the kernel launched), since it outlives the process.
//
// Thread-safe: one IRQ-safe lock over the table's slots, pins, watchers and the reaper's queue. Lock order: the
// table's lock before a handle table's; no callback runs under it.

#include <platypos/abi/limits.hpp>
#include <platypos/base/intrusive_list.hpp>
#include <platypos/cap/handle_table.hpp>
#include <platypos/cap/process_object.hpp>
#include <platypos/sched/scheduler.hpp>

namespace platypos::proc {

using sched::kNoProcess;
using sched::ProcessId;

struct ExitWatcherTag;
struct ReapTag;

// Told once, when a process stops being live (step 1). Registered by whoever keeps something for the process (a ring
// server); the callback runs on the reaper, outside every lock of this layer, and must be short.
struct ExitWatcher : ListNode<ExitWatcherTag> {
  void (*callback)(ExitWatcher* self) = nullptr;
  void* context = nullptr;
  bool fired = false;
};

class ProcessTable;

class Process : public ListNode<ReapTag> {
 public:
  static constexpr usize kNameLen = 32;
  enum class State : u8 { free, live, dying, tearing_down };

  ProcessId id() const { return id_; }
  const char* name() const { return name_; }
  State state() const { return static_cast<State>(state_.load(std::memory_order_acquire)); }
  // Takes operations (its tasks have not all ended yet).
  bool live() const { return state() == State::live; }
  MemoryAccount& account() const { return *account_; }
  cap::HandleTable& handles() { return handles_; }
  cap::ProcessObject& object() const { return *object_; }

  // Through its table (ProcessTable::pin, unpin, watch, unwatch).
  void pin();
  // pin() if the process is still live; false (nothing pinned) once it is dying or later.
  bool try_pin();
  void unpin();
  void watch(ExitWatcher& w);
  void unwatch(ExitWatcher& w);

  Process() = default;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

 private:
  friend class ProcessTable;
  ProcessTable* table_ = nullptr;
  ProcessId id_ = kNoProcess;
  char name_[kNameLen] = {};
  Atomic<u8> state_{static_cast<u8>(State::free)};
  MemoryAccount* account_ = nullptr;  // one reference
  cap::HandleTable handles_;
  cap::Ref<cap::ProcessObject> object_;
  u32 pins_ = 0;  // the process's own life (until step 1) and each ring
  i64 exit_code_ = 0;
  bool queued_ = false;  // on the reaper's queue
  IntrusiveList<ExitWatcher, ExitWatcherTag> watchers_;
};

struct SpawnSpec {
  const char* name = "process";
  u32 cores = 1;
  u64 memory_bytes = 0;                // must be > 0: the handle table lives in it
  u32 handles = abi::kProcessHandles;  // handle table capacity
  MemoryAccount* payer = nullptr;      // pays for the process object (the parent's account; nullptr: the kernel)
};

class ProcessTable {
 public:
  // Installs itself as `s`'s exit hook (and as the kernel's process table: instance()).
  explicit ProcessTable(sched::Scheduler& s);
  ~ProcessTable();
  ProcessTable(const ProcessTable&) = delete;
  ProcessTable& operator=(const ProcessTable&) = delete;

  // Admission (Scheduler::spawn), then the handle table in the new process's memory, then its process object; all
  // or nothing. Fails like Scheduler::spawn (invalid_argument, no_resources with *why), with invalid_argument for no
  // memory or a bad table capacity, no_resources when the table does not fit, no_memory when the payer cannot pay
  // for the object.
  Result<Process*> spawn(const SpawnSpec& spec, sched::AdmissionShortfall* why = nullptr);
  // Starts the exit (Scheduler::exit_process); teardown follows when the tasks are gone.
  Result<void> exit(ProcessId pid, i64 code = 0) { return sched_.exit_process(pid, code); }
  // The process (live, or on its way out), or nullptr if the id is unknown, stale or fully torn down.
  Process* find(ProcessId pid);

  // A ring's hold on its process: the slot stays this process's until the last pin goes.
  void pin(Process& p);
  bool try_pin(Process& p);
  void unpin(Process& p);
  // Registers `w`; if the process is no longer live, it fires at once (on the caller). unwatch() is harmless after it
  // fired.
  void watch(Process& p, ExitWatcher& w);
  void unwatch(Process& p, ExitWatcher& w);

  // The reaper: a kernel task that runs the teardowns. stop() lets it finish what is queued, then end.
  Result<void> start();
  void stop();

  // Calls f(Process&) for every live process, under the table's lock (f must not call back into the table).
  template <class F>
  void for_each_live(F&& f) {
    IrqSpinGuard g(lock_);
    for (Process& p : processes_)
      if (p.state() == Process::State::live) f(p);
  }
  // Processes not yet fully torn down (live or on their way out).
  u32 count() const;
  // Teardowns completed (tests, the simulator's summary).
  u64 teardowns() const;

  sched::Scheduler& scheduler() { return sched_; }
  static ProcessTable* instance();

 private:
  static void on_exit(void* self, ProcessId pid, i64 code);
  static void reaper_main(void* self);
  void run_reaper();
  // Queues p for the reaper (lock held); false if there is no reaper: the caller then runs the step itself.
  bool queue_locked(Process& p);
  // Step 1 and step 3 (outside the lock).
  void stop_being_live(Process& p);
  void tear_down(Process& p, bool on_reaper);
  void unpin_locked_then(Process& p, bool* step3_due);

  sched::Scheduler& sched_;
  mutable SpinLock lock_{"process table"};
  Process processes_[sched::Scheduler::kMaxProcesses];
  IntrusiveList<Process, ReapTag> queue_;
  sched::Task* reaper_ = nullptr;
  bool stopping_ = false;
  bool reaper_exited_ = true;  // no reaper until start(); set by the reaper as its last act, under lock_
  u64 teardowns_ = 0;
};

}  // namespace platypos::proc
