#pragma once
// Expected CPU exceptions: run a function that is meant to fault, and get the fault back as a value instead of a
// panic. For tests of the exception path (int3, ud2, page faults on guard pages) and for probing memory.
//
//   auto r = expect_fault(kVectorInvalidOpcode, [] { asm volatile("ud2"); });
//   // r.value().vector == 6, r.value().rip == address of the ud2
//
// How it works: call_expecting_fault() saves its callee-saved registers and stack pointer (in assembly, like
// setjmp), registers a FaultCatcher for this CPU, then calls fn. When an exception with the expected vector arrives
// while fn runs (at the same interrupt nesting level: a fault inside an interrupt handler that interrupted fn is not
// fn's), the exception handler records it and rewrites the trap frame so that iretq resumes inside
// call_expecting_fault, which returns the fault. Nothing is decoded or skipped, so any faulting instruction works;
// the rest of fn never runs. Any other exception is handled as usual (reported, then a panic).
//
// Invariants and limits: fn is abandoned at the faulting instruction, so it must not hold locks or own resources at
// that point (no destructors run). Catchers nest (the innermost matching one wins). Aborts cannot be caught:
// double fault, NMI and machine check are rejected.

#include <platypos/base/result.hpp>

#include <type_traits>

namespace platypos::baremetal {

struct FaultInfo {
  u8 vector;
  u64 error_code;  // 0 for exceptions without one
  uptr rip;        // for faults the faulting instruction; for traps (int3) the instruction after it
  uptr cr2;        // the faulting address, for page faults; 0 otherwise
};

// Runs fn(arg). Returns the fault when fn raised exception `vector`, or Error::not_found when fn returned
// normally.
Result<FaultInfo> call_expecting_fault(u8 vector, void (*fn)(void*), void* arg);

template <class F>
Result<FaultInfo> expect_fault(u8 vector, F&& f) {
  using Fn = std::remove_reference_t<F>;
  return call_expecting_fault(
      vector, [](void* p) { (*static_cast<Fn*>(p))(); }, const_cast<void*>(static_cast<const void*>(&f)));
}

}  // namespace platypos::baremetal
