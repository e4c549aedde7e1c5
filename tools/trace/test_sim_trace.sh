#!/usr/bin/env bash
# platypos-sim --trace end to end: the same seed gives the same trace file byte for byte (and another seed another
# one), the file decodes completely (text, summary), its Chrome JSON passes the JSON check, and the decoder names
# the simulator's code addresses.
#   test_sim_trace.sh PLATYPOS_SIM PLATYPOS_TRACE JSON_CHECK [extra platypos-sim flags...]
set -euo pipefail
sim=$1 decode=$2 check=$3
shift 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$sim" --seed 7 --trace "$tmp/a.trace" "$@" >"$tmp/a.out" 2>&1
"$sim" --seed 7 --trace "$tmp/b.trace" "$@" >"$tmp/b.out" 2>&1
"$sim" --seed 8 --trace "$tmp/c.trace" "$@" >"$tmp/c.out" 2>&1
grep -q '^trace: [1-9][0-9]* records, 0 dropped' "$tmp/a.out" || { echo "FAIL: no trace line"; cat "$tmp/a.out"; exit 1; }
if ! cmp -s "$tmp/a.trace" "$tmp/b.trace"; then
  echo "FAIL: two traced runs of seed 7 wrote different files"
  cmp "$tmp/a.trace" "$tmp/b.trace" || true
  exit 1
fi
if cmp -s "$tmp/a.trace" "$tmp/c.trace"; then
  echo "FAIL: seeds 7 and 8 wrote the same trace"
  exit 1
fi
# The printed output (which names the file) is the same apart from the file name.
if ! diff <(sed "s|$tmp/a.trace|FILE|g" "$tmp/a.out") <(sed "s|$tmp/b.trace|FILE|g" "$tmp/b.out") >/dev/null; then
  echo "FAIL: two traced runs of seed 7 printed different output"
  exit 1
fi

"$decode" "$tmp/a.trace" >"$tmp/a.txt"
grep -q '; complete (end packet: ' "$tmp/a.txt" || { echo "FAIL: trace not complete"; head -20 "$tmp/a.txt"; exit 1; }
grep -Eq '^=== cpu 2: [1-9][0-9]* records, 0 dropped ===$' "$tmp/a.txt" || { echo "FAIL: no cpu 2 section"; exit 1; }
grep -Eq 'sched_switch from=.* to=worker#[0-9]+ \(web\) flow=0x[0-9a-f]+ <- cpu [0-9]+ ' "$tmp/a.txt" ||
  { echo "FAIL: no switch-in naming its wake-up"; exit 1; }
grep -Eq 'irq_exit vector=32 \(' "$tmp/a.txt" || { echo "FAIL: no interrupt span"; exit 1; }
grep -Eq 'task_new task=worker#[0-9]+ \(web\) .*entry=0x[0-9a-f]+ <.*worker' "$tmp/a.txt" ||
  { echo "FAIL: task entry not symbolized"; grep -m3 task_new "$tmp/a.txt"; exit 1; }
"$decode" "$tmp/a.trace" --format perfetto -o "$tmp/a.json"
"$check" "$tmp/a.json" --min-slices 200 --min-flows 50 --slice worker --slice loadgen --slice irq
# A window of one CPU is valid JSON too.
"$decode" "$tmp/a.trace" --format perfetto --cpu 2 --from 10ms --to 12ms -o "$tmp/w.json"
"$check" "$tmp/w.json" --min-slices 1
echo "OK: $(wc -c <"$tmp/a.trace") identical trace bytes for seed 7, decoded and checked"
