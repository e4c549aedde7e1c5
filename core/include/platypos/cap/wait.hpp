#pragma once
// Blocking wait on an object's signals, for kernel tasks (the rings wait asynchronously instead, with their own
// Observer). Returns the signals that were set when one of `wanted` appeared, timed_out at the deadline (0: no
// deadline), or cancelled if the task's process is exiting... in which case the task ends instead of returning.

#include <platypos/cap/object.hpp>

namespace platypos::cap {

Result<u32> wait_signals(KernelObject& object, u32 wanted, u64 deadline_ns);

}  // namespace platypos::cap
