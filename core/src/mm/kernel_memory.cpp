#include <platypos/mm/kernel_memory.hpp>

namespace platypos {
namespace {
constinit KernelMemory* g_kernel_memory = nullptr;
}

KernelMemory::KernelMemory(DirectMap map)
    : map_(map), pool_(map), buddy_(map, regions_), pages_(buddy_), heap_(PageSource(pages_)) {}

KernelMemory::~KernelMemory() {
  if (g_kernel_memory == this) {
    g_kernel_memory = nullptr;
    install_kernel_heap(nullptr);
  }
}

Result<BuddyHandover> KernelMemory::init(std::span<const MemoryRange> boot_map,
                                         std::span<const EarlyAllocation> early) {
  PLATYPOS_TRY(pool_.init(boot_map));
  for (const EarlyAllocation& e : early) {
    const Result<PhysAddr> r = pool_.allocate(e.type, e.bytes, kPageSize, e.max_addr, e.min_addr);
    *e.base = r.has_value() ? *r : PhysAddr(0);
  }
  handover_ = PLATYPOS_TRY(hand_free_ram_to_buddy(pool_, buddy_, kRegionSlots));
  boot_free_pages_ = pages_.free_pages();
  install_kernel_heap(&heap_);
  g_kernel_memory = this;
  return handover_;
}

KernelMemory* KernelMemory::instance() { return g_kernel_memory; }

}  // namespace platypos
