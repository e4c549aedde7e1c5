#pragma once
// The trap frame that trap_entry.S builds for every interrupt and exception, and the C++ side of the dispatch.

#include <platypos/base/types.hpp>

#include <cstddef>

namespace platypos::baremetal {

// Registers as trap_entry.S pushed them (lowest address first), then the vector and error code (0 when the CPU
// pushes none), then the frame the CPU pushed. Handlers may change it: iretq resumes from it.
struct TrapFrame {
  u64 r15, r14, r13, r12, r11, r10, r9, r8;
  u64 rbp, rdi, rsi, rdx, rcx, rbx, rax;
  u64 vector;
  u64 error_code;
  u64 rip, cs, rflags, rsp, ss;
};

// trap_entry.S depends on this layout.
static_assert(offsetof(TrapFrame, rax) == 14 * 8);
static_assert(offsetof(TrapFrame, vector) == 15 * 8);
static_assert(offsetof(TrapFrame, rip) == 17 * 8);
static_assert(sizeof(TrapFrame) == 22 * 8);

}  // namespace platypos::baremetal

// Called by trap_entry.S with interrupts disabled, for every vector.
extern "C" void platypos_trap_dispatch(platypos::baremetal::TrapFrame* frame);
