#pragma once
// The `run` boot word: the example programs (examples/) as processes on this machine, every system call through
// their rings, served by ring servers on the kernel cores. The same Scheduler and Runtime as platypos-sim's default
// scenario, on every CPU QEMU gives (`-smp N`): CPUs [0, kernel_cores) are kernel cores (one ring server each, plus
// the kernel's own tasks); the rest are app cores, each dedicated to one process while it lives (no timer
// preemption: an app core's timer fires only when its task sleeps).
//
//   run                 the default set: echo, then logship
//   run=SET[,SET...]    these sets, one after another (each needs its app cores at once; they free them on exit):
//     echo      echo-server and echo-client on one channel (2 app cores)
//     logship   log-daemon, which spawns 2 log-apps (3 app cores)
//     objstore  object-store and two store-clients (3 app cores)
//     faults    three t-user-fault processes that fault in ring 3 (kernel memory, unmapped memory, ud2): each is
//               killed with a report, and the run fails (they exit with -(1000 + vector))
//     demo      the demo: all of the above at once, plus itself (9 app cores: -smp 10)
//   kernel_cores=N      kernel cores (default 1; at least one app core must remain)
//
// The programs print on the console. After the last set the kernel reports what it saw: every process's exit code,
// the ring traffic (and that every accepted entry completed or was cancelled exactly once), the CPUs, and a leak
// check (every page, heap object, task and ring back). It shuts down with success only if every process exited
// with 0 and the checks hold. A set that cannot start (not enough free app cores or memory) is reported with the
// launch's error and counts as a failure; the kernel goes on with the next.
//
// Every program runs in ring 3 in its own address space (user.hpp): its ELF image, built from examples/ and linked
// into the kernel image (user_images.hpp), is loaded into the process's memory at launch.

#include <platypos/base/cmdline.hpp>

namespace platypos::baremetal::programs {

// Whether the command line asks for programs (`run` or `run=...`).
bool requested(const CommandLine& cmdline);
// Runs them and shuts down.
[[noreturn]] void run(const CommandLine& cmdline);

}  // namespace platypos::baremetal::programs
