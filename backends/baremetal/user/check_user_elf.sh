#!/usr/bin/env bash
# Checks a linked ring-3 program against what the kernel's loader relies on (platypos/baremetal/user_abi.hpp, user.ld):
# every PT_LOAD page-aligned inside [kUserImageBase, kUserImageLimit), none both writable and executable, the entry
# point is _start, and the platypos_programs bounds enclose at least one descriptor. Run after each link.
#
#   check_user_elf.sh --readelf readelf --nm nm program.elf
set -euo pipefail

readelf=readelf nm=nm file=""
while (($#)); do
  case $1 in
    --readelf) readelf=$2; shift 2 ;;
    --nm) nm=$2; shift 2 ;;
    -*) echo "check_user_elf: unknown option $1" >&2; exit 2 ;;
    *) file=$1; shift ;;
  esac
done
[[ -n $file ]] || { echo "check_user_elf: no file" >&2; exit 2; }

readonly base=$((0x400000)) limit=$((0x40000000))  # kUserImageBase, kUserImageLimit
fail() { echo "check_user_elf: $file: $*" >&2; exit 1; }

symbol() { "$nm" "$file" | awk -v s="$1" '$3 == s { print "0x" $1 }'; }

entry=$("$readelf" -hW "$file" | awk '/Entry point address/ { print $4 }')
start=$(symbol _start)
[[ -n $start ]] || fail "no _start"
((entry == start)) || fail "entry $entry is not _start ($start)"

programs_start=$(symbol __start_platypos_programs)
programs_stop=$(symbol __stop_platypos_programs)
[[ -n $programs_start && -n $programs_stop ]] || fail "no __start/__stop_platypos_programs"
((programs_stop > programs_start)) || fail "no PLATYPOS_PROGRAM in the image"

loads=0
# LOAD offset vaddr paddr filesz memsz flags... align (flags are one to three words: "R E", "RW", "R").
while read -r vaddr memsz flags; do
  loads=$((loads + 1))
  ((vaddr % 4096 == 0)) || fail "segment at $vaddr is not page-aligned"
  ((vaddr >= base && vaddr + memsz <= limit)) || fail "segment [$vaddr, +$memsz) is outside [0x400000, 0x40000000)"
  if [[ $flags == *W* && $flags == *E* ]]; then fail "segment at $vaddr is writable and executable ($flags)"; fi
done < <("$readelf" -lW "$file" | awk '$1 == "LOAD" {
  flags = ""; for (i = 7; i < NF; ++i) flags = flags $i
  print $3, $6, flags }')
((loads > 0)) || fail "no PT_LOAD segment"

echo "check_user_elf: OK: $(basename "$file"): $loads segments in [0x400000, 0x40000000), W^X, entry _start"
