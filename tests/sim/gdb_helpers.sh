#!/usr/bin/env bash
# The gdb helpers (tools/gdb/platypos.py) work on a live hosted run: stop platypos-sim where the controller exits
# the processes, and check what platypos-cpus, platypos-tasks and platypos-sim print.
#   gdb_helpers.sh PLATYPOS_SIM SOURCE_DIR
set -euo pipefail
sim=$1 src=$2
out=$(gdb -q -batch -x "$src/tools/gdb/platypos.py" -x "$src/tools/gdb/sim.gdbinit" \
  -ex 'break platypos::sched::Scheduler::exit_process' -ex run \
  -ex platypos-cpus -ex platypos-tasks -ex platypos-sim -ex kill \
  --args "$sim" --scenario server --duration 5ms 2>&1)
echo "$out"
fail=0
check() {
  if ! grep -qE -- "$1" <<<"$out"; then
    echo "FAIL: no line matching: $1"
    fail=1
  fi
}
check '^policy dedicated, 8 cpus, 2 kernel cores'
check '^2 +app_assigned +web '
check '^6 +app_assigned +batch +cruncher #'
check '^process 0x[0-9a-f]+ web \(running\): 2 live tasks, 2 cores, 16384 KiB reserved, [0-9]+ KiB used, 0/256 handles'
check '#[0-9]+ +worker +blocked'
check '#[0-9]+ +controller +running +cpu 0'
check '^simulation: 8 cpus, running cpu 0'
check '^1 +idle '
exit $fail
