#pragma once
// The boot memory map as firmware reports it: physical ranges tagged with what they hold. The Platform hands one to
// the kernel at boot (multiboot/e820 on bare metal, a synthetic map in hosted mode); the RangePool normalizes it.

#include <platypos/base/types.hpp>

namespace platypos {

// Ordered from least to most restrictive: where ranges overlap, the larger value wins.
enum class MemoryType : u8 {
  free_ram = 0,          // usable RAM
  acpi_reclaimable = 1,  // ACPI tables: usable once parsed
  boot_module = 2,       // a module the boot loader loaded (initial programs)
  kernel_image = 3,      // the kernel's own code and data
  reserved = 4,          // firmware-reserved, do not touch
  acpi_nvs = 5,          // ACPI non-volatile storage, must be preserved across sleep
  peripheral = 6,        // memory-mapped devices
  bad_memory = 7,        // reported defective
};

inline constexpr u8 kMemoryTypeCount = 8;

const char* memory_type_name(MemoryType t);

struct MemoryRange {
  u64 base = 0;
  u64 size = 0;
  MemoryType type = MemoryType::reserved;

  // One past the last byte; saturates at 2^64 - 1 for a range that would wrap.
  u64 end() const { return size > ~u64{0} - base ? ~u64{0} : base + size; }
};

}  // namespace platypos
