#pragma once
// The boot memory map as firmware reports it: physical ranges tagged with what they hold. The Platform hands one to
// the kernel at boot (multiboot/e820 on bare metal, a synthetic map in hosted mode); the RangePool normalizes it.

#include <platypos/base/types.hpp>

namespace platypos {

// Firmware types (what a boot memory map may say) are ordered from least to most restrictive: where reported ranges
// overlap, the larger value wins. Allocation types are what the RangePool tags memory with when it hands it out;
// they never come from firmware.
enum class MemoryType : u8 {
  free_ram = 0,          // usable RAM
  acpi_reclaimable = 1,  // ACPI tables: usable once parsed
  boot_module = 2,       // a module the boot loader loaded (initial programs)
  kernel_image = 3,      // the kernel's own code and data
  reserved = 4,          // firmware-reserved, do not touch
  acpi_nvs = 5,          // ACPI non-volatile storage, must be preserved across sleep
  peripheral = 6,        // memory-mapped devices
  bad_memory = 7,        // reported defective

  pool_bookkeeping = 16,  // the RangePool's own nodes
  buddy_metadata = 17,    // the buddy allocator's per-page state
  buddy = 18,             // free RAM handed to the buddy allocator at boot
  page_tables = 19,       // early page tables
  smp_trampoline = 20,    // real-mode start-up code for application processors (below 1 MiB)
  kernel_data = 21,       // early kernel allocations that live forever (per-CPU areas, stacks)
  allocated = 22,         // anything else
};

inline constexpr bool is_firmware_type(MemoryType t) { return static_cast<u8>(t) <= 7; }
inline constexpr bool is_allocation_type(MemoryType t) { return static_cast<u8>(t) >= 16 && static_cast<u8>(t) <= 22; }

const char* memory_type_name(MemoryType t);

struct MemoryRange {
  u64 base = 0;
  u64 size = 0;
  MemoryType type = MemoryType::reserved;

  // One past the last byte; saturates at 2^64 - 1 for a range that would wrap.
  u64 end() const { return size > ~u64{0} - base ? ~u64{0} : base + size; }
};

}  // namespace platypos
