#include "fault_catcher.hpp"
#include "percpu.hpp"

#include <platypos/baremetal/cpu.hpp>
#include <platypos/baremetal/vectors.hpp>
#include <platypos/base/assert.hpp>
#include <platypos/base/print.hpp>

extern "C" bool platypos_call_with_catcher(platypos::baremetal::FaultCatcher* catcher, void (*fn)(void*), void* arg);
extern "C" char platypos_catcher_resume[];

namespace platypos::baremetal {

Result<FaultInfo> call_expecting_fault(u8 vector, void (*fn)(void*), void* arg) {
  PLATYPOS_ASSERT(vector < kExceptionCount, "vector {} is not a CPU exception", vector);
  PLATYPOS_ASSERT(vector != kVectorDoubleFault && vector != kVectorNmi && vector != kVectorMachineCheck,
                  "{} ({}) is an abort: it cannot be caught and resumed", exception_mnemonic(vector),
                  exception_name(vector));
  PerCpu& cpu = this_cpu();
  FaultCatcher catcher{};
  catcher.vector = vector;
  catcher.trap_depth = cpu.trap_depth;
  catcher.outer = cpu.catcher;
  cpu.catcher = &catcher;
  // The handler writes catcher.info/caught behind the compiler's back (from an exception): the asm call is an
  // opaque function that may touch anything reachable, so the reads below are not hoisted.
  const bool faulted = platypos_call_with_catcher(&catcher, fn, arg);
  cpu.catcher = catcher.outer;
  if (!faulted) return Error::not_found;
  PLATYPOS_ASSERT(catcher.caught, "resumed from a fault that was not recorded");
  return catcher.info;
}

bool catch_expected_fault(TrapFrame& frame) {
  PerCpu& cpu = this_cpu();
  // The exception itself incremented trap_depth: a fault raised by fn directly is one level above the catcher's.
  for (FaultCatcher* c = cpu.catcher; c != nullptr; c = c->outer) {
    if (c->trap_depth + 1 != cpu.trap_depth) return false;
    if (c->vector != frame.vector || c->caught) continue;
    c->caught = true;
    c->info = FaultInfo{static_cast<u8>(frame.vector), frame.error_code, frame.rip,
                        frame.vector == kVectorPageFault ? read_cr2() : 0};
    print("trap: caught expected {} ({}) at rip {:#018x}\n", exception_mnemonic(c->info.vector),
          exception_name(c->info.vector), frame.rip);
    // Resume in platypos_call_with_catcher with the stack as it was when it called fn. Inner catchers (if any)
    // lived on the abandoned part of the stack: drop them.
    cpu.catcher = c;
    frame.rip = reinterpret_cast<uptr>(platypos_catcher_resume);
    frame.rsp = c->resume_rsp;
    return true;
  }
  return false;
}

}  // namespace platypos::baremetal
