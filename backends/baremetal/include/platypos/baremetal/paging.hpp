#pragma once
// The kernel's address space (x86_64, 4-level paging):
//
//   0x0000000000000000 ..       user space: nothing in the kernel's tables; a process's own tables map its
//                               program there (user_abi.hpp); null and small pointers fault
//   0xffff800000000000 + phys   direct map of physical memory, 2 MiB pages, read/write, never executable:
//                               [0, max(4 GiB, end of the highest RAM range)) rounded up to 1 GiB, at most
//                               kDirectMapMaxBytes. 2 MiB pages that hold no RAM (MMIO holes: the local APIC, the
//                               PCI window) are mapped uncached.
//   0xffffffff80000000 + phys   the kernel image, 4 KiB pages: text read-only+executable, rodata read-only,
//                               data/bss read/write; the guard page under each static stack is left unmapped
//
// boot.S starts with simpler tables (identity map, 4 GiB direct map, the first GiB at -2 GiB, all 2 MiB pages);
// init() replaces them once the memory map is known.

#include <platypos/base/memory_map.hpp>
#include <platypos/base/result.hpp>
#include <platypos/base/units.hpp>

#include <span>

namespace platypos::baremetal::paging {

// Page-table entry bits (Intel SDM vol. 3, "4-Level Paging"), for every table the kernel builds: its own
// (paging.cpp), a process's (user.cpp), the SMP trampoline's (smp.cpp).
namespace pte {
inline constexpr u64 kPresent = 1u << 0;
inline constexpr u64 kWritable = 1u << 1;
inline constexpr u64 kUser = 1u << 2;
inline constexpr u64 kWriteThrough = 1u << 3;
inline constexpr u64 kCacheDisable = 1u << 4;
inline constexpr u64 kHuge = 1u << 7;  // a 2 MiB (PD) or 1 GiB (PDPT) page
inline constexpr u64 kNoExecute = u64{1} << 63;
inline constexpr u64 kAddressMask = 0x000ffffffffff000;
}  // namespace pte

inline constexpr uptr kDirectMapBase = 0xffff800000000000;
inline constexpr uptr kKernelVirtOffset = 0xffffffff80000000;
inline constexpr u64 kDirectMapMaxBytes = 64 * GiB;

// Builds the kernel's page tables from the boot memory map and switches to them. RAM beyond kDirectMapMaxBytes
// stays unmapped (with a warning); boot_memory_map() then reports it as reserved, so no allocator hands it out.
void init(std::span<const MemoryRange> map);

// The physical address of the kernel's PML4 (what CR3 holds outside processes). Its upper half (entries 256-511:
// the direct map and the image) never changes after init(): a process's tables share those entries (user.cpp).
u64 kernel_root();

// Whether no-execute page-table bits are on (EFER.NXE).
bool nx_enabled();

// Physical memory [0, direct_map_size()) is reachable through phys_to_virt().
u64 direct_map_size();

// Nonzero when RAM extends beyond kDirectMapMaxBytes: the address from which it is left unmapped.
u64 direct_map_clipped_at();

struct Mapping {
  u64 phys;
  u64 page_size;
  bool writable;
  bool executable;
};

// Walks the current page tables. Error::not_found when `va` is not mapped (or not canonical).
Result<Mapping> translate(uptr va);

// Whether pc lies in the kernel's code (the bounds checks of backtraces).
bool in_kernel_text(uptr pc);

// Bounds of the kernel image's sections (virtual addresses).
uptr text_start();
uptr text_end();
uptr rodata_start();
uptr rodata_end();
uptr data_start();
uptr image_end();

}  // namespace platypos::baremetal::paging
