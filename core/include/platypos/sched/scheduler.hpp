#pragma once
// The scheduler: PlatypOS's central promise. CPUs are split into kernel cores (kernel tasks: ring pollers, the trace
// worker, load generators) and app cores. A process is spawned with a number of dedicated app cores and bytes of
// dedicated memory; admission control gives it all of both or nothing. Under the dedicated policy an app core runs
// only its own process's tasks, cooperatively: nothing ever preempts it to run something else. Under the timeshare
// policy (the comparison point: a conventional OS) every task runs on any core, round-robin, preempted by the timer
// after a quantum.
//
// Structure: a RunQueue per scheduling domain (the kernel, each process under the dedicated policy, or everything
// under timeshare); each CPU serves exactly one domain's queue. A task switch goes straight from task to task (one
// context switch); a CPU with nothing to run switches to its own idle context, which halts in Platform::cpu_idle()
// until woken.
//
// Locking: each RunQueue has an IRQ-safe spin lock, held across the context switch and released by whatever runs
// next on that CPU (finish_switch), so a task's context is saved before anyone else can pick it. A wake-up that
// races with a task going to sleep is never lost (the task's wake_pending flag). Admission and the process table
// have their own lock. Lock order: scheduler lock, then run queue locks, then a CPU's sleeper lock.
//
// Killing is cooperative: a process that exits (or is exited) has its tasks terminate at their next scheduler call
// (yield, block, sleep, wait); a task that never makes one keeps its core until it does.
//
// The scheduler's part of a process is its cores, its memory account (stacks and task records come from it) and its
// tasks. Everything else a process is (its handles, its process object, its rings, its teardown) belongs to the
// process layer (proc/process.hpp), which the exit hook tells when the last task is gone.

#include <platypos/abi/limits.hpp>
#include <platypos/base/result.hpp>
#include <platypos/mm/buddy.hpp>
#include <platypos/mm/memory_account.hpp>
#include <platypos/sched/task.hpp>
#include <platypos/sync/spinlock.hpp>

namespace platypos::sched {

enum class Policy : u8 { dedicated, timeshare };
const char* policy_name(Policy p);

enum class CoreRole : u8 { kernel, app_free, app_assigned };
const char* core_role_name(CoreRole r);

// Process ids: slot in the low 8 bits, a generation above, so a stale id never names a newer process.
// A process id: the slot in its low kProcessSlotBits bits, the slot's generation above (so an id is never reused
// while a stale copy of it could still mean something).
using ProcessId = u32;
inline constexpr ProcessId kNoProcess = 0;
inline constexpr u32 kProcessSlotBits = 8;
inline constexpr u32 process_slot(ProcessId pid) { return pid & ((1u << kProcessSlotBits) - 1); }

// A set of CPUs.
class CpuSet {
 public:
  void set(CpuId c) { w_[c / 64] |= u64{1} << (c % 64); }
  void clear(CpuId c) { w_[c / 64] &= ~(u64{1} << (c % 64)); }
  bool has(CpuId c) const { return (w_[c / 64] >> (c % 64)) & 1; }
  u32 count() const {
    u32 n = 0;
    for (u64 w : w_) n += static_cast<u32>(__builtin_popcountll(w));
    return n;
  }
  // Lowest CPU in the set, or kMaxCpus.
  CpuId first() const {
    for (u32 i = 0; i < kWords; ++i)
      if (w_[i] != 0) return i * 64 + static_cast<CpuId>(__builtin_ctzll(w_[i]));
    return kMaxCpus;
  }
  bool empty() const { return first() == kMaxCpus; }

 private:
  static constexpr u32 kWords = kMaxCpus / 64;
  u64 w_[kWords] = {};
};

// The tasks ready to run in one scheduling domain, and the CPUs serving it.
class RunQueue {
 public:
  explicit RunQueue(const char* name) : lock_(name) {}
  usize ready_count() const { return ready_.size(); }

 private:
  friend class Scheduler;
  SpinLock lock_;
  IntrusiveList<Task, QueueTag> ready_;
  CpuSet idle_;  // serving CPUs parked in cpu_idle()
};

class Process {
 public:
  static constexpr usize kNameLen = 32;
  // free: never used, or released; running; exiting: tasks being stopped; exited: gone, its id still answers
  // find_process() with nullptr (and exit_process() with bad_state) until the slot is reused.
  enum class State : u8 { free, running, exiting, exited };

  ProcessId id() const { return id_; }
  const char* name() const { return name_; }
  State state() const { return state_; }
  const CpuSet& cores() const { return cores_; }
  // Its dedicated memory (nullptr for a process spawned with none).
  MemoryAccount* memory() const { return account_; }
  u32 live_tasks() const { return live_tasks_; }

 private:
  friend class Scheduler;
  Process() : rq_("process run queue") {}
  ProcessId id_ = kNoProcess;
  u32 generation_ = 0;
  i64 exit_code_ = 0;  // what the exit hook reports
  State state_ = State::free;
  bool held_ = false;  // the slot stays exited (not reused) until release_slot()
  char name_[kNameLen] = {};
  CpuSet cores_;
  u32 core_count_ = 0;
  MemoryAccount* account_ = nullptr;  // one reference
  IntrusiveList<Task, ProcessTasksTag> tasks_;
  u32 live_tasks_ = 0;
  RunQueue rq_;
};

struct ProcessSpec {
  const char* name = "process";
  u32 cores = 1;         // dedicated app cores (under timeshare: how many it would have had; not reserved)
  u64 memory_bytes = 0;  // dedicated memory, taken up front; its task stacks and task records come from it
  // Keep the slot (and so the id) out of reuse after the process exited, until release_slot(): for a layer above
  // that still has to tear its own part of the process down.
  bool held = false;
};

// Why admission control said no.
struct AdmissionShortfall {
  enum class Resource : u8 { none, cores, memory, process_slots } resource = Resource::none;
  u64 requested = 0;
  u64 available = 0;
};
const char* resource_name(AdmissionShortfall::Resource r);

class Scheduler {
 public:
  static constexpr usize kMaxProcesses = abi::kMaxProcesses;
  static constexpr u32 kDefaultStackOrder = 4;  // 64 KiB

  struct Config {
    u32 cpus = 1;
    u32 kernel_cores = 1;  // CPUs [0, kernel_cores) are kernel cores; the rest are app cores
    Policy policy = Policy::dedicated;
    u64 quantum_ns = 4'000'000;  // timeshare time slice
  };

  struct CpuStats {
    u64 switches = 0;     // context switches into a task
    u64 preemptions = 0;  // timer preemptions (timeshare)
    u64 idle_ns = 0;      // time parked in cpu_idle()
    u64 timer_irqs = 0;
  };

  // `kernel_pages` provides kernel task stacks and process reservations. Task objects come from the kernel heap
  // (make/destroy). Fails (asserts) on a config with no app core or kernel_cores == 0: a setup bug.
  Scheduler(const Config& config, PageSource kernel_pages);
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Admission control. All of the cores and memory, or nothing (nothing stays reserved after a failure):
  //   invalid_argument  zero cores, or a null/empty name
  //   no_resources      not enough free app cores (dedicated policy), memory, or process slots; *why says which
  Result<ProcessId> spawn(const ProcessSpec& spec, AdmissionShortfall* why = nullptr);
  // Starts a process's exit: its tasks terminate at their next scheduler call; when the last is gone, its cores are
  // returned, the scheduler drops its reference to the memory account, and the exit hook runs. From a task of the
  // process itself, it does not return. Fails with not_found (unknown or reused id) or bad_state (already exiting or
  // exited).
  Result<void> exit_process(ProcessId pid, i64 code = 0);
  // Undoes a spawn whose process never had a task (its setup above the scheduler failed): cores and memory back, the
  // slot free again, no exit hook. Fails like exit_process, and with bad_state if it has or had tasks.
  Result<void> cancel_spawn(ProcessId pid);
  // Makes a held exited slot reusable (ProcessSpec::held). Fails with not_found / bad_state (not exited, not held).
  Result<void> release_slot(ProcessId pid);
  // The process, or nullptr if the id is unknown/stale or the process has exited.
  Process* find_process(ProcessId pid);

  // Called once per process, when its last task is gone (or at once for an exit with no task), after its cores went
  // back: on the CPU that reaped the task, outside the scheduler's locks, possibly with interrupts off. It must be
  // short (the process layer queues its teardown for a kernel task).
  using ExitHook = void (*)(void* context, ProcessId pid, i64 code);
  void set_exit_hook(ExitHook hook, void* context);

  // A new task of process `pid` (kNoProcess: a kernel task), ready to run. Its stack (2^stack_order pages) comes
  // from the process's reservation or the kernel's pages. Fails with not_found, bad_state (process exiting),
  // no_memory.
  Result<Task*> create_task(ProcessId pid, const char* name, TaskEntry entry, void* arg,
                            u32 stack_order = kDefaultStackOrder);

  // Runs the scheduler on the calling CPU until stop(): call once per CPU, from its boot context.
  void run_cpu();
  // Makes every CPU's run_cpu() return once it has nothing to run. Tasks still blocked stay so.
  void stop();
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }

  // --- Called from tasks ---
  Task* current() const;
  // Gives the CPU to the next ready task of the same domain, if any.
  void yield();
  // Blocks until wake(). Returns at once if a wake-up arrived since the task last ran.
  void block();
  void wake(Task* t);
  void sleep_until(u64 deadline_ns);
  void sleep_for(u64 ns) { sleep_until(Platform::now_ns() + ns); }
  // Blocks until woken or until the deadline (0: no deadline), whichever comes first; returns true at the deadline.
  // Like block(), a wake-up that came earlier makes it return at once.
  bool block_until(u64 deadline_ns);
  // Ends the calling task.
  [[noreturn]] void exit_task();
  // Terminates the calling task if its process is exiting (blocking primitives call this after they clean up).
  void exit_if_killed();

  // --- Introspection (the simulator's summary, gdb helpers, tests) ---
  const Config& config() const { return config_; }
  CoreRole role(CpuId c) const { return cpus_[c].role; }
  ProcessId owner(CpuId c) const { return cpus_[c].owner != nullptr ? cpus_[c].owner->id_ : kNoProcess; }
  const CpuStats& cpu_stats(CpuId c) const { return cpus_[c].stats; }
  Task* running_on(CpuId c) const { return cpus_[c].current; }
  u32 free_app_cores() const;
  u64 live_tasks() const { return live_tasks_.load(std::memory_order_relaxed); }
  // Calls f(Process&) for every process that is running or exiting.
  template <class F>
  void for_each_process(F&& f) {
    for (Process& p : processes_)
      if (p.state_ == Process::State::running || p.state_ == Process::State::exiting) f(p);
  }
  template <class F>
  void for_each_task(Process& p, F&& f) {
    for (Task& t : p.tasks_) f(t);
  }
  template <class F>
  void for_each_kernel_task(F&& f) {
    for (Task& t : kernel_tasks_) f(t);
  }

  // The scheduler the kernel runs (for free functions, the timer handler and debuggers).
  static Scheduler* instance();
  static void install(Scheduler* s);

 private:
  struct Cpu {
    CpuId id = 0;
    CoreRole role = CoreRole::kernel;
    Process* owner = nullptr;
    // Written with the old queue's lock held (and the scheduler lock); read, then validated under the queue's lock.
    Atomic<RunQueue*> rq{nullptr};
    Task* current = nullptr;  // null while the idle context runs
    Platform::Context idle_ctx;
    SpinLock* held_lock = nullptr;  // run queue lock to release after a switch
    Platform::IrqState held_irq{};
    Task* dead = nullptr;  // exited task to reap after the switch away from it
    SpinLock sleep_lock{"sleepers"};
    IntrusiveList<Task, SleepTag> sleepers;  // sorted by wake_at_ns_
    u64 armed_deadline = 0;
    CpuStats stats;
  };

  Cpu& this_cpu() { return cpus_[Platform::current_cpu()]; }
  RunQueue* domain_for(Process* p);
  // Locks the queue `cpu` serves (IRQs must be off); returns it.
  RunQueue* lock_cpu_rq(Cpu& cpu);
  void switch_to(Cpu& cpu, Platform::Context& from, Task* next);
  void finish_switch();
  void kill(Task* t);
  static void task_trampoline(void* arg);
  // With `rq` locked (and IRQs off): picks the next task and switches to it, or to the idle context. The lock is
  // released by whoever runs next.
  void reschedule_locked(Cpu& cpu, Task* prev, RunQueue* rq);
  void wake_locked(RunQueue* rq, Task* t);
  void kick_idle_cpu(RunQueue* rq);
  void rearm_timer(Cpu& cpu);
  void remove_sleeper(Task* t);
  static void on_timer(u64 now);
  void handle_timer(u64 now);
  // Returns the process whose last task it was (the exit hook is then due, with *code), or kNoProcess.
  ProcessId reap(Task* t, i64* code);
  // Scheduler lock held: every task is gone. Returns the cores, drops the account; the caller runs the exit hook
  // after unlocking.
  void finish_process(Process* p);
  void run_exit_hook(ProcessId pid, i64 code);
  Result<PhysAddr> alloc_stack(Process* p, u32 order);
  void free_stack(Process* p, PhysAddr stack, u32 order);

  Config config_;
  PageSource kernel_pages_;
  SpinLock lock_{"scheduler"};
  Cpu cpus_[kMaxCpus];
  RunQueue kernel_rq_{"kernel run queue"};
  RunQueue shared_rq_{"timeshare run queue"};
  RunQueue free_rq_{"free app cores"};
  Process processes_[kMaxProcesses];
  IntrusiveList<Task, ProcessTasksTag> kernel_tasks_;
  Atomic<bool> stopping_{false};
  Atomic<u64> live_tasks_{0};
  Atomic<u64> next_task_id_{1};
  ExitHook exit_hook_ = nullptr;
  void* exit_hook_context_ = nullptr;
};

// Free functions for task code: the installed scheduler's current task, yield, sleep.
inline Scheduler& scheduler() { return *Scheduler::instance(); }

}  // namespace platypos::sched
