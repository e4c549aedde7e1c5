#!/usr/bin/env bash
# Proves on the built kernel that Platform::current_cpu() is one instruction, a load through GS from the CPU's
# per-CPU area (backends/baremetal/include/platypos/platform_impl.hpp):
#   1. platypos_current_cpu (the out-of-line copy for debuggers) is `mov %gs:0x0,%eax` and `ret`, nothing else;
#   2. core code gets it inlined: Scheduler::current() (core/src/sched/scheduler.cpp) loads %gs:0x0 and calls
#      nothing.
#
#   check_current_cpu.sh OBJDUMP kernel.elf
set -euo pipefail
(($# == 2)) || { echo "usage: check_current_cpu.sh OBJDUMP kernel.elf" >&2; exit 2; }
objdump=$1 elf=$2
[[ -f $elf ]] || { echo "check_current_cpu: no kernel at $elf (build the baremetal tree first)" >&2; exit 1; }
fail() { echo "check_current_cpu: $elf: $*" >&2; exit 1; }

disassembly=$("$objdump" -d -C --no-show-raw-insn "$elf")

# Instructions of one function (demangled name as objdump -C prints it), without addresses.
body() {
  awk -v name="<$1>:" '$2 == name || substr($0, index($0, "<")) == name {on = 1; next}
                         on && /^$/ {exit}
                         on {sub(/^ *[0-9a-f]+:\t/, ""); gsub(/ +/, " "); print}' <<<"$disassembly"
}

fn=$(body platypos_current_cpu)
[[ -n $fn ]] || fail "no function platypos_current_cpu"
echo "platypos_current_cpu:"
sed 's/^/    /' <<<"$fn"
# Frame-pointer set-up and the return are not part of the operation.
ops=$(grep -Ev '^(ret|push %rbp|mov %rsp,%rbp|pop %rbp|endbr64|nop.*)$' <<<"$fn" || true)
[[ $(wc -l <<<"$ops") == 1 && $ops =~ ^mov\ %gs:0x0,%eax$ ]] ||
  fail "platypos_current_cpu is not the single instruction 'mov %gs:0x0,%eax': $(tr '\n' ';' <<<"$ops")"

cur=$(body 'platypos::sched::Scheduler::current() const')
[[ -n $cur ]] || fail "no function platypos::sched::Scheduler::current() const"
echo "platypos::sched::Scheduler::current() const:"
sed 's/^/    /' <<<"$cur"
grep -Eq '^mov %gs:0x0,%e[a-z0-9]+$' <<<"$cur" || fail "Scheduler::current() does not load the cpu id from %gs:0x0"
! grep -Eq '^(call|jmp) ' <<<"$cur" || fail "Scheduler::current() calls or jumps out (current_cpu() not inlined)"
echo "check_current_cpu: OK: current_cpu() is one 'mov %gs:0x0' (out of line and inlined into core)"
