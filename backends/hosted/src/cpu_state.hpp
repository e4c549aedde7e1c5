#pragma once
// Internal to backends/hosted: per-CPU state of threads mode, and the pieces platform.cpp, machine.cpp and sim.cpp
// share.

#include <platypos/platform.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>

namespace platypos::hosted {

class SimMachine;

struct CpuState {
  CpuId id = 0;

  // Idle/wake and the one-shot timer. A wake-up sent before the CPU idles stays pending.
  std::mutex mu;
  std::condition_variable cv;
  bool wake_pending = false;
  u64 timer_deadline = 0;      // 0: not armed
  u64 signaled_deadline = 0;   // the deadline the timer thread already flagged
  u32* sched_flags = nullptr;  // &t_sched_flags of the thread running this CPU
  bool device_pending = false; // a device interrupt (raise_device_irq) not yet taken

  std::string console_line;  // console text up to the next newline
};

// The state of the CPU the calling thread currently runs as (a thread-local fallback for unattached threads).
CpuState& this_cpu();
// Makes the calling thread run as `cpu` (nullptr: detach).
void attach_cpu(CpuState* cpu);
// Registers the CPUs of the running Machine (nullptr, 0: none).
void register_cpus(CpuState* cpus, u32 count);
CpuState* registered_cpu(CpuId id);
u32 registered_cpu_count();
// Writes out every CPU's unfinished console line and flushes the log sinks.
void console_flush_all();
// Whether cpu_relax() gives the host CPU away (MachineConfig::spin); set by Machine::run.
void set_spin_yields(bool yields);
// Takes this CPU's pending device interrupt, if any, in interrupt context (threads mode).
void deliver_device_irq(CpuState& c);
// Runs the timer handler in interrupt context (interrupts off around it).
void fire_timer(u64 now);
// Threads mode: fires this CPU's timer if its deadline has passed.
void deliver_due_timer(CpuState& c);

// The running simulation, or nullptr (threads mode).
extern SimMachine* g_sim;

// Waits on `cv` until the absolute CLOCK_MONOTONIC time `deadline_ns` (steady_clock's clock on Linux), or for good if
// the deadline cannot be represented as one: a saturated deadline (a program's WAIT with a huge timeout saturates at
// 2^64 - 1 ns) would wrap to a negative steady_clock time, return at once, and turn every waiter into a busy loop that
// holds its mutex (found by the hostile scenario in threads mode: a CPU thread spinning in cpu_idle starved the
// waker of its mutex while the waker held a run-queue lock, and the machine stopped).
template <class Lock, class... Pred>
void wait_until_ns(std::condition_variable& cv, Lock& lk, u64 deadline_ns, Pred&&... pred) {
  constexpr u64 kMaxRepresentable = static_cast<u64>(std::chrono::nanoseconds::max().count());
  if (deadline_ns > kMaxRepresentable) {
    cv.wait(lk, static_cast<Pred&&>(pred)...);
  } else {
    cv.wait_until(lk, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline_ns)),
                  static_cast<Pred&&>(pred)...);
  }
}

// The vector the hosted timer interrupt reports in traces (irq_enter/irq_exit): the bare-metal LAPIC timer's.
inline constexpr u64 kTimerVector = 0x20;

}  // namespace platypos::hosted
