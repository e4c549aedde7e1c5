#pragma once
// ProcessObject: a process as a capability. Its handle can be waited on for exit (kSignalExited) and, with MANAGE,
// used to make it exit. The scheduler owns the process itself; this object names it by id and outlives it (waiting
// on an exited process's handle completes at once), carrying the exit reason.

#include <platypos/cap/object.hpp>

namespace platypos::cap {

class ProcessObject final : public KernelObject {
 public:
  static constexpr ObjectType kType = ObjectType::process;
  // Paid by `payer`: the parent's account for a spawned child (the object outlives the child), nullptr (the kernel
  // heap) for a process the kernel launches.
  static Result<Ref<ProcessObject>> create(u32 pid, MemoryAccount* payer = nullptr);

  u32 pid() const { return pid_; }
  bool exited() const { return (signals() & kSignalExited) != 0; }
  i64 exit_code() const { return exit_code_.load(std::memory_order_acquire); }
  // Called by the scheduler when the process is gone: records the code and raises kSignalExited.
  void mark_exited(i64 code);

  explicit ProcessObject(u32 pid);
  ~ProcessObject() = default;

 private:
  static void destroy_process(KernelObject* self);
  u32 pid_;
  Atomic<i64> exit_code_{0};
};

}  // namespace platypos::cap
