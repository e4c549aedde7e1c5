#!/usr/bin/env bash
# platypos-trace's command line: exit 2 for usage errors, 1 for input that is not a trace (or corrupt), 0 with a
# warning for a cut trace, and the formats on a small real trace.
#   test_cli.sh PLATYPOS_SIM PLATYPOS_TRACE
set -uo pipefail
sim=$1 decode=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
status() { "$@" >"$tmp/out" 2>&1; echo $?; }

[[ $(status "$decode") == 2 ]] || fail "no argument should be a usage error"
[[ $(status "$decode" x --format nope) == 2 ]] || fail "a bad format should be a usage error"
echo "hello" >"$tmp/not.trace"
[[ $(status "$decode" "$tmp/not.trace") == 1 ]] || fail "a non-trace should fail with 1"
grep -q "not a PlatypOS trace" "$tmp/out" || fail "no reason given for a non-trace"
[[ $(status "$decode" "$tmp/missing.trace") == 1 ]] || fail "a missing file should fail with 1"

"$sim" --scenario admission --trace "$tmp/a.trace" >/dev/null 2>&1 || fail "platypos-sim --trace failed"
[[ $(status "$decode" "$tmp/a.trace" --format summary) == 0 ]] || fail "summary failed"
grep -q "process_spawn" "$tmp/out" || fail "summary lists no process_spawn"
[[ $(status "$decode" "$tmp/a.trace" --from 1ms --to nonsense) == 2 ]] || fail "a bad time should be a usage error"
head -c $(($(wc -c <"$tmp/a.trace") - 3)) "$tmp/a.trace" >"$tmp/cut.trace"
[[ $(status "$decode" "$tmp/cut.trace") == 0 ]] || fail "a cut trace should still decode"
grep -q "warning: truncated trace" "$tmp/out" || fail "no warning for a cut trace"
grep -q "TRUNCATED" "$tmp/out" || fail "the summary does not say the trace is cut"
[[ $(status "$decode" "$tmp/a.trace" --format gnuplot --png "$tmp/a.png" -o "$tmp/a.gp") == 0 ]] || fail "gnuplot"
grep -q "^plot " "$tmp/a.gp" || fail "no plot command in the gnuplot script"
[[ $(status "$sim" --trace /nonexistent-dir/x.trace) == 2 ]] || fail "an unwritable trace file should be a usage error"
grep -q "cannot create trace file" "$tmp/out" || fail "no reason for an unwritable trace file"
echo "OK: platypos-trace command line"
