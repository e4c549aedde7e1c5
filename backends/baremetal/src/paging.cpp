#include <platypos/baremetal/cpu.hpp>
#include <platypos/baremetal/paging.hpp>
#include <platypos/base/assert.hpp>
#include <platypos/base/log.hpp>
#include <platypos/platform.hpp>

#include "stacks.hpp"

extern "C" char __kernel_virt_start[];
extern "C" char __kernel_virt_end[];
extern "C" char __text_start[];
extern "C" char __text_end[];
extern "C" char __rodata_start[];
extern "C" char __rodata_end[];
extern "C" char __data_start[];

namespace platypos::baremetal::paging {
namespace {

using namespace pte;

constexpr u64 kHugePage = 2 * MiB;
constexpr usize kEntries = 512;
constexpr usize kKernelPageTables = 8;  // 16 MiB of kernel image
constexpr usize kDirectMapMaxGiB = kDirectMapMaxBytes / GiB;
constexpr usize kPml4DirectMap = (kDirectMapBase >> 39) & 511;
constexpr usize kPml4Kernel = (kKernelVirtOffset >> 39) & 511;
constexpr usize kPdptKernel = (kKernelVirtOffset >> 30) & 511;

struct alignas(kPageSize) Table {
  u64 entries[kEntries];
};

constinit Table g_pml4 = {};
constinit Table g_direct_pdpt = {};
constinit Table g_direct_pds[kDirectMapMaxGiB] = {};
constinit Table g_kernel_pdpt = {};
constinit Table g_kernel_pd = {};
constinit Table g_kernel_pts[kKernelPageTables] = {};

// The boot tables already map the first 4 GiB at kDirectMapBase.
constinit u64 g_direct_map_size = 4 * GiB;
constinit u64 g_direct_map_clipped_at = 0;  // nonzero: RAM from here on is not mapped

u64 image_phys(const void* p) { return reinterpret_cast<uptr>(p) - kKernelVirtOffset; }

bool holds_memory(MemoryType t) {
  return t == MemoryType::free_ram || t == MemoryType::acpi_reclaimable || t == MemoryType::acpi_nvs ||
         t == MemoryType::kernel_image || t == MemoryType::boot_module || t == MemoryType::bad_memory;
}

bool overlaps_memory(u64 base, u64 size, std::span<const MemoryRange> map) {
  for (const MemoryRange& r : map) {
    if (holds_memory(r.type) && r.base < base + size && base < r.end()) return true;
  }
  return false;
}

u64 kernel_page_flags(uptr va, std::span<const uptr> guards, u64 nx) {
  for (uptr g : guards) {
    if (va == g) return 0;
  }
  if (va >= text_start() && va < text_end()) return kPresent;
  if (va >= rodata_start() && va < data_start()) return kPresent | nx;
  return kPresent | kWritable | nx;
}

}  // namespace

void init(std::span<const MemoryRange> map) {
  const u64 nx = (rdmsr(kMsrEfer) & kEferNxe) != 0 ? kNoExecute : 0;

  // The direct map: at least the low 4 GiB (MMIO lives there), up to the end of the highest RAM, in whole GiB.
  u64 top = 4 * GiB;
  for (const MemoryRange& r : map) {
    if (holds_memory(r.type) && r.end() > top) top = r.end();
  }
  u64 size = 0;
  PLATYPOS_ASSERT(align_up_checked(top, GiB, &size), "memory map reaches the top of the address space");
  if (size > kDirectMapMaxBytes) {
    log_warn("paging: RAM up to {:#x}, but the direct map stops at {} GiB; the rest is left unused", top,
             kDirectMapMaxGiB);
    size = kDirectMapMaxBytes;
    g_direct_map_clipped_at = size;
  }
  for (usize gib = 0; gib < size / GiB; ++gib) {
    Table& pd = g_direct_pds[gib];
    for (usize i = 0; i < kEntries; ++i) {
      const u64 phys = gib * GiB + i * kHugePage;
      u64 flags = kPresent | kWritable | kHuge | nx;
      if (!overlaps_memory(phys, kHugePage, map)) flags |= kCacheDisable | kWriteThrough;
      pd.entries[i] = phys | flags;
    }
    g_direct_pdpt.entries[gib] = image_phys(&pd) | kPresent | kWritable;
  }
  g_pml4.entries[kPml4DirectMap] = image_phys(&g_direct_pdpt) | kPresent | kWritable;

  // The kernel image, page by page.
  const uptr start = reinterpret_cast<uptr>(__kernel_virt_start);
  const uptr end = image_end();
  const uptr first_pd_slot = align_down(start, kHugePage);
  PLATYPOS_ASSERT(end - first_pd_slot <= kKernelPageTables * kHugePage, "kernel image of {} bytes is too large",
                  end - start);
  const std::span<const uptr> guards = stack_guard_pages();
  for (uptr va = start; va < end; va += kPageSize) {
    Table& pt = g_kernel_pts[(va - first_pd_slot) / kHugePage];
    const u64 flags = kernel_page_flags(va, guards, nx);
    pt.entries[(va >> 12) & 511] = flags != 0 ? image_phys(reinterpret_cast<void*>(va)) | flags : 0;
  }
  for (uptr slot = first_pd_slot; slot < end; slot += kHugePage) {
    g_kernel_pd.entries[(slot >> 21) & 511] =
        image_phys(&g_kernel_pts[(slot - first_pd_slot) / kHugePage]) | kPresent | kWritable;
  }
  g_kernel_pdpt.entries[kPdptKernel] = image_phys(&g_kernel_pd) | kPresent | kWritable;
  g_pml4.entries[kPml4Kernel] = image_phys(&g_kernel_pdpt) | kPresent | kWritable;

  // Everything the CPU is using right now (this code, the stack, the GDT/IDT/TSS in .bss) is in the image, mapped
  // at the same virtual addresses in the new tables: the switch is seamless. The boot identity map is gone after it.
  write_cr3(image_phys(&g_pml4));
  g_direct_map_size = size;
}

u64 direct_map_size() { return g_direct_map_size; }

u64 kernel_root() { return image_phys(&g_pml4); }

bool nx_enabled() { return (rdmsr(kMsrEfer) & kEferNxe) != 0; }

u64 direct_map_clipped_at() { return g_direct_map_clipped_at; }

Result<Mapping> translate(uptr va) {
  // Canonical: bits 63..47 all equal.
  const u64 high = va >> 47;
  if (high != 0 && high != 0x1ffff) return Error::not_found;
  u64 table = read_cr3() & kAddressMask;
  bool writable = true;
  bool executable = true;
  for (int level = 3; level >= 0; --level) {
    const u64 e = static_cast<const u64*>(Platform::phys_to_virt(table))[(va >> (12 + 9 * level)) & 511];
    if ((e & kPresent) == 0) return Error::not_found;
    writable = writable && (e & kWritable) != 0;
    executable = executable && (e & kNoExecute) == 0;
    if (level == 0 || (level <= 2 && (e & kHuge) != 0)) {
      const u64 page = u64{1} << (12 + 9 * level);
      return Mapping{(e & kAddressMask & ~(page - 1)) + (va & (page - 1)), page, writable, executable};
    }
    table = e & kAddressMask;
  }
  return Error::not_found;
}

bool in_kernel_text(uptr pc) { return pc >= text_start() && pc < text_end(); }

uptr text_start() { return reinterpret_cast<uptr>(__text_start); }
uptr text_end() { return reinterpret_cast<uptr>(__text_end); }
uptr rodata_start() { return reinterpret_cast<uptr>(__rodata_start); }
uptr rodata_end() { return reinterpret_cast<uptr>(__rodata_end); }
uptr data_start() { return reinterpret_cast<uptr>(__data_start); }
uptr image_end() { return reinterpret_cast<uptr>(__kernel_virt_end); }

}  // namespace platypos::baremetal::paging
