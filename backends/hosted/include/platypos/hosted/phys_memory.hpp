#pragma once
// The "physical memory" of a hosted machine: one lazily backed mapping (MAP_NORESERVE: untouched pages cost
// nothing) that plays physical addresses [0, size), and its synthetic memory map.

#include <platypos/base/memory_map.hpp>

#include <span>
#include <vector>

namespace platypos::hosted {

class PhysicalMemory {
 public:
  PhysicalMemory() = default;
  explicit PhysicalMemory(u64 bytes);
  ~PhysicalMemory();
  PhysicalMemory(const PhysicalMemory&) = delete;
  PhysicalMemory& operator=(const PhysicalMemory&) = delete;

  u64 size() const { return size_; }
  std::byte* base() const { return base_; }
  std::span<const MemoryRange> map() const { return map_; }
  // phys_to_virt with the checks the Platform promises (panics outside).
  void* to_virt(u64 phys) const;

 private:
  std::byte* base_ = nullptr;
  u64 size_ = 0;
  std::vector<MemoryRange> map_;
};

// The synthetic memory map of a hosted machine with `bytes` of RAM, shaped like a PC's: the first page and the
// legacy hole 0x9f000-0x100000 reserved, the rest free RAM.
std::vector<MemoryRange> synthetic_memory_map(u64 bytes);

}  // namespace platypos::hosted
