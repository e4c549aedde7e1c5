#!/usr/bin/env bash
# Two runs of the same seed must print the same bytes (stdout and the kernel log on stderr, with debug logging on);
# a different seed must give a different schedule (digest).
#   determinism.sh PLATYPOS_SIM [extra flags...]
set -euo pipefail
sim=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$sim" --seed 7 --log-level debug "$@" >"$tmp/a" 2>&1
"$sim" --seed 7 --log-level debug "$@" >"$tmp/b" 2>&1
"$sim" --seed 8 --log-level debug "$@" >"$tmp/c" 2>&1
if ! cmp -s "$tmp/a" "$tmp/b"; then
  echo "FAIL: two runs of seed 7 differ:"
  diff "$tmp/a" "$tmp/b" | head -20
  exit 1
fi
da=$(grep -o 'digest [0-9a-f]*' "$tmp/a")
dc=$(grep -o 'digest [0-9a-f]*' "$tmp/c")
[[ -n $da ]] || { echo "FAIL: no digest in the output"; cat "$tmp/a"; exit 1; }
if [[ $da == "$dc" ]]; then
  echo "FAIL: seeds 7 and 8 gave the same schedule ($da)"
  exit 1
fi
echo "OK: seed 7 twice: $(wc -c <"$tmp/a") identical bytes ($da); seed 8: $dc"
