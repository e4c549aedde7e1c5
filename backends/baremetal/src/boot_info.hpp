#pragma once
// What the kernel keeps of the multiboot information: the firmware memory map, the command line and the boot
// loader's name, copied into kernel memory at boot (the loader's structures sit in RAM the allocators will hand
// out). Read-only after capture().

#include <platypos/base/memory_map.hpp>

#include <span>
#include <string_view>

namespace platypos::baremetal::boot_info {

// One entry of the firmware map as the loader reported it (e820 types: 1 available, 2 reserved, 3 ACPI reclaimable,
// 4 ACPI NVS, 5 bad).
struct FirmwareRange {
  u64 base;
  u64 length;
  u32 type;
};

inline constexpr usize kMaxFirmwareRanges = 128;
inline constexpr usize kMaxModules = 16;
inline constexpr usize kMaxCommandLine = 1024;

// Copies the multiboot information at physical address info_phys (read through the boot direct map, which covers
// the low 4 GiB where multiboot v1 structures live). Panics when the loader gave no memory information at all.
// Warns (and keeps what fits) when the map or the command line exceed the limits above.
void capture(u32 magic, u32 info_phys);

// The map as the firmware reported it.
std::span<const FirmwareRange> firmware_map();

// The Platform's boot memory map: the firmware ranges as MemoryRange, plus the kernel image and any boot modules
// (overlapping the free RAM they sit in; the more restrictive type wins, see MemoryType).
std::span<const MemoryRange> memory_map();

// Marks [base, base + size) reserved in memory_map() (for memory the kernel cannot use, such as RAM beyond the
// direct map).
void reserve(u64 base, u64 size);

// Total bytes of type-1 (available) RAM in the firmware map.
u64 usable_bytes();

// The kernel's arguments: the loader's command line without its first word (QEMU and GRUB put the image path
// there).
std::string_view command_line();

std::string_view boot_loader_name();

// Physical range of the loaded kernel image, bss included.
u64 kernel_phys_start();
u64 kernel_phys_end();

}  // namespace platypos::baremetal::boot_info
