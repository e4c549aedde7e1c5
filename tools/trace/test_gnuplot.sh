#!/usr/bin/env bash
# The README picture's pipeline: a simulator trace, platypos-trace --format gnuplot for a window, gnuplot renders a
# PNG (checked by its signature and size).
#   test_gnuplot.sh PLATYPOS_SIM PLATYPOS_TRACE GNUPLOT
set -euo pipefail
sim=$1 decode=$2 gnuplot=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$sim" --scenario server --duration 30ms --trace "$tmp/a.trace" >/dev/null
"$decode" "$tmp/a.trace" --format gnuplot --from 20ms --to 21ms --png "$tmp/a.png" -o "$tmp/a.gp"
"$gnuplot" "$tmp/a.gp"
[[ $(head -c 8 "$tmp/a.png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || { echo "FAIL: not a PNG"; exit 1; }
size=$(wc -c <"$tmp/a.png")
((size > 10000)) || { echo "FAIL: a $size-byte PNG is too small to hold the timeline"; exit 1; }
echo "OK: rendered a $size-byte timeline"
