#pragma once
// KernelMemory: the kernel's physical memory management, set up the same way on every backend:
//
//   boot memory map --> RangePool --> BuddyAllocator (all free RAM) --> LockedBuddy (the shared page source)
//                                                                   --> KernelHeap (slab size classes; make/destroy)
//
// The bare-metal kernel constructs it in static storage at boot; the hosted Kernel on its simulated memory. init()
// installs the heap for make<T>()/destroy() and makes this the instance() that ktest suites and debuggers reach.
// Not copyable or movable.

#include <platypos/mm/boot_memory.hpp>
#include <platypos/mm/kernel_heap.hpp>
#include <platypos/mm/locked_buddy.hpp>

#include <span>

namespace platypos {

// A range a backend needs from the boot memory map before the buddy allocator takes all free RAM: taken from the
// RangePool (RangePool::allocate: the highest fit at or below max_addr, tagged `type`), so it shows in the pool's
// map as what it is. *base is the range's start, or 0 when nothing fits (the backend decides whether it can do
// without: init() does not fail for it).
struct EarlyAllocation {
  MemoryType type;
  u64 bytes;
  u64 max_addr;  // inclusive: below 1 MiB is 0xfffff
  u64 min_addr;
  PhysAddr* base;
};

class KernelMemory {
 public:
  static constexpr usize kRegionSlots = 64;

  explicit KernelMemory(DirectMap map);
  ~KernelMemory();
  KernelMemory(const KernelMemory&) = delete;
  KernelMemory& operator=(const KernelMemory&) = delete;

  // Builds the pool from `boot_map`, takes the `early` ranges from it, hands all other free RAM to the buddy
  // allocator, installs the kernel heap and this instance. Fails like RangePool::init and hand_free_ram_to_buddy
  // (nothing is installed then).
  Result<BuddyHandover> init(std::span<const MemoryRange> boot_map, std::span<const EarlyAllocation> early = {});

  RangePool& pool() { return pool_; }
  LockedBuddy& pages() { return pages_; }
  PageSource page_source() { return PageSource(pages_); }
  KernelHeap& heap() { return heap_; }
  const BuddyHandover& handover() const { return handover_; }
  const DirectMap& direct_map() const { return map_; }
  // Free pages right after init: a workload that leaked nothing gets back to this (after heap().reclaim()).
  u64 boot_free_pages() const { return boot_free_pages_; }

  // The installed instance (nullptr before init()).
  static KernelMemory* instance();

 private:
  DirectMap map_;
  RangePool pool_;
  BuddyAllocator::Region regions_[kRegionSlots];
  BuddyAllocator buddy_;
  LockedBuddy pages_;
  KernelHeap heap_;
  BuddyHandover handover_;
  u64 boot_free_pages_ = 0;
};

}  // namespace platypos
