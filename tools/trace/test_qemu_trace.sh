#!/usr/bin/env bash
# The kernel emits a trace that the host decodes: the QEMU runner boots the kernel with --trace (COM2 into a file,
# `trace` on the command line), the kernel runs its traced workload and shuts down cleanly, and platypos-trace
# decodes the capture with the kernel's symbols: interrupts with the interrupted code named, preemption, wake-up
# flows, page allocations, every task; the Chrome JSON passes the JSON check.
#   test_qemu_trace.sh PLATYPOS_QEMU KERNEL_ELF PLATYPOS_TRACE JSON_CHECK
set -euo pipefail
runner=$1 kernel=$2 decode=$3 check=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$runner" --timeout 60 --trace "$tmp/kernel.trace" "$kernel" >"$tmp/console.txt" 2>&1 || {
  echo "FAIL: the traced boot did not succeed"
  cat "$tmp/console.txt"
  exit 1
}
cat "$tmp/console.txt"
grep -Eq '^trace: [1-9][0-9]* records, 0 dropped, 0 never committed, [0-9]+ bytes written to COM2' \
  "$tmp/console.txt" || { echo "FAIL: no trace summary from the kernel"; exit 1; }
# The console stayed text: no trace header on COM1.
if grep -q PLATYTRC "$tmp/console.txt"; then echo "FAIL: trace bytes on the console"; exit 1; fi

"$decode" "$tmp/kernel.trace" --elf "$kernel" >"$tmp/trace.txt"
head -40 "$tmp/trace.txt"
expect() {
  grep -Eq -- "$1" "$tmp/trace.txt" || { echo "FAIL: no decoded line matches: $1"; exit 1; }
}
expect '^producer: PlatypOS [0-9.]+ \(bare metal, x86_64\): the trace workload$'
expect '; complete \(end packet: [0-9]+ records, 0 dropped, 0 never committed\)$'
expect 'irq_enter vector=32 pc=0xffffffff8[0-9a-f]+ <platypos::'
expect 'irq_exit vector=32 \([0-9.]+ [num]?s\)$'
expect 'sched_preempt task=cruncher#[0-9]+ \(demo\) ran_ns=[0-9]+'
expect 'sched_switch from=player#[0-9]+ \(demo\) to=.* <- cpu 0 '
expect 'task_new task=player#[0-9]+ \(demo\) process=0x[0-9a-f]+ entry=0xffffffff8[0-9a-f]+ <.*player'
expect 'process_exit process=0x[0-9a-f]+ live_tasks=1'
expect 'buddy_alloc addr=0x[0-9a-f]+ order=3'
expect 'reservation_reserve bytes=2097152 pages=[0-9]+'
expect 'trace_drain_end records=[0-9]+ bytes=[0-9]+'
"$decode" "$tmp/kernel.trace" --elf "$kernel" --format perfetto -o "$tmp/kernel.json"
"$check" "$tmp/kernel.json" --min-slices 100 --min-flows 50 --slice player --slice cruncher --slice irq
echo "OK: the kernel's trace ($(wc -c <"$tmp/kernel.trace") bytes from COM2) decodes and checks"
