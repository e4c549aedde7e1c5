#include <platypos/base/assert.hpp>
#include <platypos/hosted/phys_memory.hpp>

#include <sys/mman.h>

namespace platypos::hosted {

std::vector<MemoryRange> synthetic_memory_map(u64 bytes) {
  std::vector<MemoryRange> map;
  if (bytes == 0) return map;
  auto add = [&](u64 base, u64 end, MemoryType t) {
    if (end > bytes) end = bytes;
    if (base < end) map.push_back({base, end - base, t});
  };
  add(0, 0x1000, MemoryType::reserved);  // like a PC's real-mode IVT/BDA page: never hand out physical 0
  add(0x1000, 0x9f000, MemoryType::free_ram);
  add(0x9f000, 0x100000, MemoryType::reserved);  // EBDA, VGA, option ROMs, BIOS
  add(0x100000, bytes, MemoryType::free_ram);
  return map;
}

PhysicalMemory::PhysicalMemory(u64 bytes) : size_(bytes) {
  if (bytes == 0) return;
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  PLATYPOS_ASSERT(p != MAP_FAILED, "cannot map {} bytes of simulated memory", bytes);
  base_ = static_cast<std::byte*>(p);
  map_ = synthetic_memory_map(bytes);
}

PhysicalMemory::~PhysicalMemory() {
  if (base_ != nullptr) munmap(base_, size_);
}

void* PhysicalMemory::to_virt(u64 phys) const {
  PLATYPOS_ASSERT(base_ != nullptr, "phys_to_virt({:#x}): no simulated memory", phys);
  PLATYPOS_ASSERT(phys < size_, "phys_to_virt({:#x}): beyond the machine's {:#x} bytes", phys, size_);
  return base_ + phys;
}

}  // namespace platypos::hosted
