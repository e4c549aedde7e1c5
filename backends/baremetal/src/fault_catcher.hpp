#pragma once
// The exception handler's side of expected faults (see platypos/baremetal/expected_fault.hpp).

#include "trap.hpp"

#include <platypos/baremetal/expected_fault.hpp>

#include <cstddef>

namespace platypos::baremetal {

// One active call_expecting_fault() on a CPU; lives on that call's stack.
struct FaultCatcher {
  uptr resume_rsp;  // set by platypos_call_with_catcher before it calls fn; first member (the assembly uses offset 0)
  u8 vector;
  u32 trap_depth;  // PerCpu::trap_depth when the catcher was armed: faults in nested handlers are not fn's
  bool caught;
  FaultInfo info;
  FaultCatcher* outer;
};
static_assert(offsetof(FaultCatcher, resume_rsp) == 0);

// Called for every CPU exception (after PerCpu::trap_depth was incremented for it). When an active catcher expects
// this exception at this nesting level, records the fault, rewrites `frame` to resume inside
// call_expecting_fault(), and returns true. Otherwise returns false and leaves the frame alone.
bool catch_expected_fault(TrapFrame& frame);

}  // namespace platypos::baremetal
