#include <platypos/base/memory_map.hpp>

namespace platypos {

const char* memory_type_name(MemoryType t) {
  switch (t) {
    case MemoryType::free_ram: return "free RAM";
    case MemoryType::acpi_reclaimable: return "ACPI reclaimable";
    case MemoryType::boot_module: return "boot module";
    case MemoryType::kernel_image: return "kernel image";
    case MemoryType::reserved: return "reserved";
    case MemoryType::acpi_nvs: return "ACPI NVS";
    case MemoryType::peripheral: return "peripheral";
    case MemoryType::bad_memory: return "bad memory";
    case MemoryType::pool_bookkeeping: return "pool bookkeeping";
    case MemoryType::buddy_metadata: return "buddy metadata";
    case MemoryType::buddy: return "buddy allocator";
    case MemoryType::page_tables: return "page tables";
    case MemoryType::smp_trampoline: return "SMP trampoline";
    case MemoryType::kernel_data: return "kernel data";
    case MemoryType::allocated: return "allocated";
  }
  return "unknown";
}

}  // namespace platypos
