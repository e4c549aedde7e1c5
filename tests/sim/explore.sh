#!/usr/bin/env bash
# platypos-sim --faults / --explore: seeded fault injection and the checks after each run.
#   explore.sh PLATYPOS_SIM
# - a few seeds of the default scenario (shortened) under faults pass every check, and of the hostile scenario;
# - a faulted run is deterministic: the same seed gives the same output, byte for byte;
# - planted bugs (a leak, a stuck task) are found by exploration, which names the seed and a replay command, and
#   that command reproduces the failure;
# - the option checks refuse what cannot work.
set -uo pipefail
sim=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
ok() { echo "ok: $*"; }
bad() {
  echo "FAIL: $*"
  fail=1
}
short=(--program-args 'echo_count=100')

# 1. Clean seeds pass.
out=$("$sim" --explore 8 --jobs 2 "${short[@]}" --explore-logs "$work/clean" 2>"$work/clean.err")
rc=$?
if [[ $rc -eq 0 ]] && grep -q "explore: 8 of 8 seeds run, 0 failed" <<<"$out"; then ok "8 seeds with faults pass"; else
  bad "explore 8 -> $rc"
  echo "$out" | tail -30
fi

# 1a. kv-server on the modelled network explores too (resetting clients, injected faults).
out=$("$sim" --explore 4 --jobs 2 --scenario kv --mode sim --duration 10ms --kv-resets 5000 \
  --explore-logs "$work/kv" 2>"$work/kv.err") && rc=0 || rc=$?
if [[ $rc -eq 0 ]] && grep -q "explore: 4 of 4 seeds run, 0 failed" <<<"$out"; then ok "4 kv seeds pass"; else
  bad "explore 4 --scenario kv -> $rc"
fi

# 1b. The hostile scenario explores too (its hostile programs are its faults).
out=$("$sim" --explore 4 --jobs 2 --scenario hostile --program-args 'count=200' --explore-logs "$work/hostile" \
  2>"$work/hostile.err")
rc=$?
if [[ $rc -eq 0 ]] && grep -q "explore: 4 of 4 seeds run, 0 failed" <<<"$out"; then ok "4 hostile seeds pass"; else
  bad "explore 4 --scenario hostile -> $rc"
  echo "$out" | tail -30
fi

# 2. Deterministic under faults (seed 2 draws completion delays, CQ back-pressure and spurious wake-ups).
"$sim" --faults --seed 2 "${short[@]}" >"$work/a.out" 2>"$work/a.err"
ra=$?
"$sim" --faults --seed 2 "${short[@]}" >"$work/b.out" 2>"$work/b.err"
rb=$?
if [[ $ra -eq 0 && $rb -eq 0 ]] && cmp -s "$work/a.out" "$work/b.out" && cmp -s "$work/a.err" "$work/b.err" &&
  grep -q "^faults fired: " "$work/a.out"; then ok "--faults --seed 2 twice: identical output"; else
  bad "--faults --seed 2 twice: exit $ra/$rb or outputs differ"
  diff "$work/a.out" "$work/b.out" | head -10
fi

# 3. Planted bugs: found, reported with a replay command that reproduces them.
for plant in leak-on-kill stuck-on-kill; do
  out=$("$sim" --explore 40 --jobs 2 --plant "$plant" "${short[@]}" --explore-logs "$work/$plant" 2>/dev/null)
  rc=$?
  replay=$(grep -m1 "^  replay: " <<<"$out" | sed 's/^  replay: platypos-sim //')
  if [[ $rc -ne 1 || -z $replay ]] || ! grep -q "^FAILED seed " <<<"$out"; then
    bad "--plant $plant: exploration did not report it (exit $rc)"
    echo "$out" | tail -20
    continue
  fi
  want='LEAK: [1-9][0-9]* kernel heap objects live'  # one per process killed in the failing seed
  [[ $plant == stuck-on-kill ]] && want='INVARIANT: kernel tasks stuck .*: chaos'
  if ! grep -qE "$want" <<<"$out"; then bad "--plant $plant: the report does not say '$want'"; fi
  eval "\"$sim\" $replay" >"$work/replay.out" 2>&1
  rr=$?
  if [[ $rr -ne 0 ]] && grep -qE "$want" "$work/replay.out"; then ok "--plant $plant: found, replay reproduces it"; else
    bad "--plant $plant: replay '$replay' -> exit $rr without '$want'"
  fi
done

# 4. Refused combinations.
expect2() {
  local pattern=$1
  shift
  local out rc
  out=$("$sim" "$@" 2>&1)
  rc=$?
  if [[ $rc -eq 2 ]] && grep -qE -- "$pattern" <<<"$out"; then ok "platypos-sim $* -> 2"; else
    bad "platypos-sim $* -> $rc (want 2 and '$pattern')"
  fi
}
expect2 "hostile or kv scenario in sim mode" --faults --mode threads
expect2 "hostile or kv scenario in sim mode" --explore 3 --scenario server
expect2 "--plant needs --faults" --plant leak-on-kill
expect2 "--plant" --faults --plant nope
expect2 "cannot --trace" --explore 2 --trace "$work/t.trace"
exit $fail
