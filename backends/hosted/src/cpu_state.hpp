#pragma once
// Per-simulated-CPU state of the hosted backend (internal to backends/hosted).

#include <platypos/platform.hpp>

#include <condition_variable>
#include <mutex>
#include <string>

namespace platypos::hosted {

struct CpuState {
  CpuId id = 0;

  // Idle/wake and the one-shot timer. A wake-up sent before the CPU idles stays pending.
  std::mutex mu;
  std::condition_variable cv;
  bool wake_pending = false;
  u64 timer_deadline = 0;  // 0: not armed

  std::string console_line;  // console text up to the next newline
};

// The state of the CPU the calling thread currently runs as (a thread-local fallback for unattached threads).
CpuState& this_cpu();
// Makes the calling thread run as `cpu` (nullptr: detach).
void attach_cpu(CpuState* cpu);
// Writes out every CPU's unfinished console line and flushes the log sinks.
void console_flush_all();
// Registers/unregisters CPUs whose console lines console_flush_all() must see.
void register_cpus(CpuState* cpus, u32 count);

}  // namespace platypos::hosted
