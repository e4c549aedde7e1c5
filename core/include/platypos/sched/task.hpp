#pragma once
// Task: a schedulable thread of control with its own stack and Platform context. Kernel tasks belong to no
// process and run on kernel cores; a process's tasks run on that process's cores (dedicated policy) or on any core
// (timeshare policy).
//
// A task is on its run queue while ready, may be on one CPU's sleeper list (sleep_until), and is always on its
// process's (or the kernel's) task list. Wait queues link stack-allocated waiters, not the task itself.
// Tasks are created and destroyed by the Scheduler only; their stacks come from the owner's memory (the process's
// reservation, or the kernel's page source for kernel tasks).

#include <platypos/base/intrusive_list.hpp>
#include <platypos/mm/addr.hpp>
#include <platypos/platform.hpp>

#include <atomic>

namespace platypos::sched {

class Process;
class RunQueue;
class Scheduler;

using TaskEntry = void (*)(void* arg);

enum class TaskState : u8 { ready, running, blocked, exited };
const char* task_state_name(TaskState s);

struct QueueTag;
struct SleepTag;
struct ProcessTasksTag;

class Task : public ListNode<QueueTag>, public ListNode<SleepTag>, public ListNode<ProcessTasksTag> {
 public:
  static constexpr usize kNameLen = 24;

  Task() = default;
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;

  u64 id() const { return id_; }
  const char* name() const { return name_; }
  // What its entry function was given (kernel state: a ring's program task gets its Ring).
  void* arg() const { return arg_; }
  Process* process() const { return process_; }
  TaskState state() const { return state_; }
  CpuId cpu() const { return cpu_; }
  // Its process is exiting: it ends at its next entry into the scheduler (or, in ring 3, into the kernel).
  bool killed() const { return killed_.load(std::memory_order_relaxed); }

  struct Stats {
    u64 dispatches = 0;   // times it was switched in
    u64 preemptions = 0;  // times the timer took the CPU from it
    u64 wakeups = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  friend class Scheduler;
  friend class WaitQueue;

  Platform::Context ctx_;
  TaskEntry entry_ = nullptr;
  void* arg_ = nullptr;
  PhysAddr stack_;
  u32 stack_order_ = 0;
  RunQueue* rq_ = nullptr;  // the queue that runs it
  Process* process_ = nullptr;
  TaskState state_ = TaskState::ready;
  bool wake_pending_ = false;  // woken while still running: the next block() returns at once
  // Its process is exiting: terminate at the next scheduler call. Set under the scheduler lock by whichever CPU
  // kills the process, read by the task itself without it (exit_if_killed, sleep_until), so atomic; relaxed is enough
  // (the task takes the locks itself to exit), and a plain std::atomic adds no scheduling point to the simulation.
  std::atomic<bool> killed_{false};
  bool sleeping_ = false;
  CpuId sleep_cpu_ = 0;
  CpuId cpu_ = 0;
  u64 wake_at_ns_ = 0;
  u64 slice_start_ns_ = 0;
  u64 id_ = 0;
  Stats stats_;
  char name_[kNameLen] = {};
};

}  // namespace platypos::sched
