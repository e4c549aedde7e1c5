#!/usr/bin/env bash
# Runs a command and checks how it ended: the harness of the ktest and QEMU tests in ctest.
#
#   expect_run.sh [--status N] [--match ERE]... [--no-match ERE]... -- command [args...]
#
# Shows the command's output (stdout and stderr together) as it comes, then passes (exit 0) only if the command
# exited with status N (default 0), every --match extended regular expression matches at least one line, and no
# --no-match one matches any line. Otherwise it says which check failed and exits 1.
set -uo pipefail

status=0
matches=()
no_matches=()
while (($#)); do
  case $1 in
    --status) status=$2; shift 2 ;;
    --match) matches+=("$2"); shift 2 ;;
    --no-match) no_matches+=("$2"); shift 2 ;;
    --) shift; break ;;
    *) echo "expect_run: unknown option $1" >&2; exit 2 ;;
  esac
done
(($#)) || { echo "usage: expect_run.sh [--status N] [--match ERE]... [--no-match ERE]... -- command..." >&2; exit 2; }

out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}

fail=0
if ((rc != status)); then
  echo "expect_run: FAILED: exit status $rc, expected $status"
  fail=1
fi
for re in "${matches[@]}"; do
  grep -Eq -- "$re" "$out" || { echo "expect_run: FAILED: no output line matches: $re"; fail=1; }
done
for re in "${no_matches[@]}"; do
  if grep -Eq -- "$re" "$out"; then
    echo "expect_run: FAILED: an output line matches what must not appear: $re"
    fail=1
  fi
done
((fail == 0)) && echo "expect_run: OK (exit status $rc, ${#matches[@]} patterns matched)"
exit $fail
