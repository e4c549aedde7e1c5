#!/usr/bin/env bash
# platypos-sim's command line: help works, every bad flag or value is refused with a message and exit code 2.
#   cli.sh PLATYPOS_SIM
set -uo pipefail
sim=$1
fail=0
expect() {
  local want=$1 pattern=$2
  shift 2
  local out rc
  out=$("$sim" "$@" 2>&1)
  rc=$?
  if [[ $rc -ne $want ]] || ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL: platypos-sim $* -> exit $rc (want $want), output:"
    echo "$out" | head -5
    fail=1
  else
    echo "ok: platypos-sim $* -> $rc"
  fi
}
expect 0 "--scenario" --help
expect 0 "^server " --list-scenarios
expect 0 "^programs " --list-scenarios
expect 2 "not expected: --bogus" --bogus
expect 2 "--policy" --policy fair
expect 2 "--mode" --mode fibers
expect 2 "--cpus" --cpus 0
expect 2 "--cpus" --cpus 300
expect 2 "not a duration" --duration 5
expect 2 "not expected: years" --duration 5 years
expect 2 "not a duration" --duration 5years
expect 2 "--load" --load 1.5
expect 2 "at least one app core" --cpus 4 --kernel-cores 4
expect 2 "unknown scenario 'nope'" --scenario nope
expect 2 "at least 3 app cores" --scenario server --cpus 4 --kernel-cores 2
expect 2 "needs 9 app cores" --cpus 8 --kernel-cores 2
expect 2 "--program-args: at most" --program-args "$(printf 'x%.0s' {1..200})"
expect 1 "demo: unknown argument .echo_cuont." --program-args "echo_cuont=10"
expect 2 "--seed" --seed minus-one
exit $fail
