#pragma once
// The `trace` boot word: a traced run of the scheduler on this CPU, streamed out of COM2.
//
// Tracing records into per-CPU rings (core/include/platypos/trace); the drain worker, a kernel task, encodes them
// in the wire format and writes them to the second UART, so the console (COM1) stays readable. On the host, the
// runner's --trace FILE adds `-serial file:FILE` as QEMU's second serial port and `trace` to the command line, and
// `platypos-trace FILE --elf platypos.elf` decodes the capture.
//
// The workload exercises what a trace should show: a process (timeshare policy, so its reservation and exit are
// visible) whose two tasks play ping-pong over wait queues (wake-up -> run flows) and whose two crunchers compute
// past their quantum (timer preemption inside an interrupt span) and a third sleeps until the process is ended
// (exit_process kills it), kernel tasks that sleep on the timer and that
// allocate and free pages of several orders (buddy events), and user markers. It ends when every task is done,
// then the drain worker's last pass, the end packet, and a clean shutdown.

namespace platypos::baremetal::trace_workload {

// Runs it and shuts down: success when the whole trace was written, failure when COM2 is missing.
[[noreturn]] void run(const char* producer);

}  // namespace platypos::baremetal::trace_workload
