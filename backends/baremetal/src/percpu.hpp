#pragma once
// Per-CPU state of the bare-metal backend, indexed by CpuId. Only the owning CPU touches its entry, except
// wake_pending, which cpu_wake() sets from anywhere.

#include <platypos/platform.hpp>

#include <atomic>

namespace platypos::baremetal {

struct FaultCatcher;

struct PerCpu {
  // Set by cpu_wake() and by the timer interrupt; consumed by cpu_idle().
  std::atomic<bool> wake_pending{false};
  // Deadline of the armed one-shot timer in now_ns() time; 0 when not armed.
  u64 timer_deadline = 0;
  // Innermost active call_expecting_fault() on this CPU, or nullptr.
  FaultCatcher* catcher = nullptr;
  // Interrupts and exceptions currently being handled on this CPU (nesting depth).
  u32 trap_depth = 0;
};

PerCpu& this_cpu();

}  // namespace platypos::baremetal
