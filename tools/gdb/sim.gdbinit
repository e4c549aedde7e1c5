# gdb setup for hosted runs (platypos-sim, the unit tests); `just sim-debug` uses it:
#   gdb -x tools/gdb/platypos.py -x tools/gdb/sim.gdbinit --args build/hosted/sim/platypos-sim [flags...]
# Panics stop before the process exits; platypos-cpus, platypos-tasks and platypos-sim (tools/gdb/platypos.py) show
# the scheduler's and the simulator's state at any stop.
set pagination off
set confirm off
set print pretty on
break platypos::panic_impl
break platypos::detail::assert_failed_impl
echo PlatypOS hosted: breakpoints on panics; commands platypos-cpus, platypos-tasks, platypos-sim. Type run.\n
