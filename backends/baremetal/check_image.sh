#!/usr/bin/env bash
# Checks that a linked kernel ELF boots through QEMU's multiboot loader (a.out kludge), which ignores the ELF program
# headers and copies the file bytes [header offset - (header_addr - load_addr), + load_end_addr - load_addr) to
# load_addr, then zeroes up to bss_end_addr. That is only the ELF's own layout when:
#   - the multiboot header (magic 0x1BADB002, flags with bit 16) sits 4-byte aligned in the first 8 KiB of the file;
#   - every loaded segment has the same file offset - physical address, and only the last one has bss;
#   - the header's address fields agree with the segments.
#
#   check_image.sh [--readelf READELF] kernel.elf
set -euo pipefail

readelf=readelf
while (($#)); do
  case $1 in
    --readelf) readelf=$2; shift 2 ;;
    -*) echo "check_image: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
(($# == 1)) || { echo "usage: check_image.sh [--readelf READELF] kernel.elf" >&2; exit 2; }
elf=$1
fail() { echo "check_image: $elf: $*" >&2; exit 1; }

# PT_LOAD rows: offset vaddr paddr filesz memsz (hex).
mapfile -t loads < <("$readelf" -lW "$elf" | awk '$1 == "LOAD" {print $2, $3, $4, $5, $6}')
((${#loads[@]} > 0)) || fail "no loadable segments"

delta="" first_off="" first_paddr="" load_end=0 bss_end=0
for i in "${!loads[@]}"; do
  read -r off vaddr paddr filesz memsz <<<"${loads[$i]}"
  ((filesz == 0)) && continue
  d=$((paddr - off))
  [[ -z $delta ]] && { delta=$d; first_off=$((off)); first_paddr=$((paddr)); }
  ((d == delta)) || fail "segment $i: file offset - physical address differs from the first segment's (${loads[$i]})"
  ((memsz == filesz || i == ${#loads[@]} - 1)) || fail "segment $i has bss but is not the last loaded segment"
  load_end=$((paddr + filesz))
done
read -r _ _ paddr filesz memsz <<<"${loads[-1]}"
bss_end=$((paddr + memsz))

# The multiboot header: first match of the magic, 4-byte aligned, in the first 8 KiB (as QEMU scans).
words=($(od -A d -t u4 -v -N 8192 "$elf" | awk '{for (i = 2; i <= NF; ++i) print $i}'))
hdr=-1
for ((w = 0; w + 7 < ${#words[@]}; ++w)); do
  if ((words[w] == 0x1BADB002 && ((words[w] + words[w + 1] + words[w + 2]) & 0xffffffff) == 0)); then
    hdr=$w
    break
  fi
done
((hdr >= 0)) || fail "no multiboot header (magic + valid checksum) in the first 8 KiB"
flags=${words[hdr + 1]} header_addr=${words[hdr + 3]} load_addr=${words[hdr + 4]}
mb_load_end=${words[hdr + 5]} mb_bss_end=${words[hdr + 6]} entry=${words[hdr + 7]}
((flags & 0x10000)) || fail "multiboot flags $(printf %#x "$flags") lack bit 16 (a.out kludge): QEMU rejects ELF64"
text_offset=$((hdr * 4 - (header_addr - load_addr)))
((text_offset == first_off && load_addr == first_paddr)) ||
  fail "header says load_addr $(printf %#x "$load_addr") at file offset $text_offset, segments say $(printf %#x "$first_paddr") at $first_off"
((mb_load_end == load_end)) || fail "load_end_addr $(printf %#x "$mb_load_end") != end of file data $(printf %#x "$load_end")"
((mb_bss_end >= bss_end)) || fail "bss_end_addr $(printf %#x "$mb_bss_end") below the end of bss $(printf %#x "$bss_end")"
((entry >= load_addr && entry < load_end)) || fail "entry_addr $(printf %#x "$entry") outside the loaded image"
printf 'check_image: OK: multiboot header at file offset %d, load [%#x, %#x), bss to %#x, entry %#x\n' \
  $((hdr * 4)) "$load_addr" "$load_end" "$mb_bss_end" "$entry"
