#pragma once
// The application processors, as the rest of the kernel (and its tests) sees them. After boot every AP sits in its
// idle loop, halted in Platform::cpu_idle(), and runs whatever work the boot CPU posts to it: a scheduler's
// run_cpu(), say, so the same Scheduler runs on every CPU (the ktest suite `smp` does exactly that).

#include <platypos/platform.hpp>

namespace platypos::baremetal::smp {

// Posts fn(arg) to application processor `cpu` (1 <= cpu < cpu_count()) and wakes it; returns at once. The AP runs
// it from its idle loop, on its own stack, with interrupts enabled; afterwards it cancels its one-shot timer (so
// nothing armed by fn fires into whatever runs next). Asserts when `cpu` is not an AP or still has work.
void run_on_cpu(CpuId cpu, void (*fn)(void*), void* arg);

// Waits until the work posted to `cpu` has returned (no timeout: a hang is the harness's to report).
void wait_for_cpu(CpuId cpu);

// Whether `cpu` is inside Platform::cpu_idle() (halted, or about to halt, or about to return).
bool cpu_is_idle(CpuId cpu);

}  // namespace platypos::baremetal::smp
