#pragma once
// Ring 3: processes in their own address spaces, running the programs' ELF images (user_images.hpp) on their
// dedicated cores. The ABI they see is include/platypos/baremetal/user_abi.hpp.
//
// A program launched through the Runtime (spawn) gets a descriptor whose main is program_main() below, in the
// process's first task on each core. That task, in the kernel:
//   1. finds or builds the process's address space (shared by its cores): a PML4 whose upper half is the kernel's,
//      the ELF's segments copied into fresh pages (text r-x, rodata r--, data rw-), the program's memory, the clock
//      page; every page of it paid from the process's own memory reservation;
//   2. maps this core's ring region and a stack (with an unmapped guard page below), rewrites this core's
//      ProgramEnv with the addresses the program sees, and tells the ring where the program sees its memory;
//   3. loads the process's CR3 and enters ring 3 at the ELF's entry (platypos_enter_user);
//   4. gets control back only when the program leaves for good: the exit system call, a kill (noticed at the next
//      system call or interrupt; cpu_wake() interrupts a CPU running ring-3 code), or a CPU exception in ring 3,
//      which kills the whole process with the exception's report. Then it loads the kernel's CR3 and ends.
// The process's memory, page tables included, goes back when its reservation does (after its last task).
//
// System calls (syscall instruction, entry in user_entry.S): exit, doorbell, wait_completions, nop. They run on the
// task's kernel stack with interrupts on, so wait_completions blocks like any kernel wait.

#include "trap.hpp"

#include <platypos/abi/program.hpp>
#include <platypos/sched/scheduler.hpp>

#include <span>

namespace platypos::baremetal::user {

// Every CPU: enables `syscall` (EFER.SCE) and points it at the entry (STAR, LSTAR, FMASK); the user's GS base 0.
void init_this_cpu();

// Once, before the first program: the clock page. (A page of kernel memory for good.)
void init();

// A descriptor per ring-3 program image linked into the kernel (for the Runtime).
std::span<const abi::ProgramDescriptor* const> programs();

// The trap path (trap.cpp), for a trap whose frame says it came from ring 3: at entry, and just before returning to
// ring 3 (may leave it for good instead: a killed process). A CPU exception in ring 3 kills the process.
void on_entry_from_user();
void on_return_to_user();
[[noreturn]] void on_user_exception(const TrapFrame& frame);

// The kernel's address (direct map) of a process's program memory, once one of its cores has built its address
// space; null before that and after the process is gone. For the isolation test (run=isolation), which hands it to
// another process as the address it must not be able to reach.
const void* program_memory(sched::ProcessId pid);

// Counters since boot (the `run` report).
struct Stats {
  u64 syscalls = 0;
  u64 entries = 0;  // times a core entered ring 3 at a program's start
  u64 faults = 0;   // processes killed for a CPU exception in ring 3
  u64 kills = 0;    // user threads that left because their process was killed
};
Stats stats();

}  // namespace platypos::baremetal::user

// user_entry.S's C++ side: every system call, with interrupts disabled; returns with them disabled.
extern "C" void platypos_syscall_dispatch(platypos::baremetal::TrapFrame* frame);
