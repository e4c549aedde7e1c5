#pragma once
// BuddyFixture: a BuddyAllocator over host test memory, for the allocator tests, the tests of what lives on pages
// (slab caches, reservations, trace rings), the slab loom test and the memory benchmarks.
//
// The allocator's state bytes are on the host heap, not in test memory, so test memory holds only the blocks the
// allocator hands out and the free-list links inside its free blocks. The fixture owns its TestMemory, or borrows
// one that outlives it (the loom test maps once and builds a fresh allocator on it for every schedule).
//
// Not copyable or movable: the allocator points at the region table and the state bytes inside the object.

#include <platypos/mm/buddy.hpp>

#include <optional>
#include <vector>

#include "mm/test_memory.hpp"

namespace platypos::test {

// Tag: a BuddyFixture whose allocator starts without a region (add() gives it some).
struct NoRegions {};
inline constexpr NoRegions kNoRegions{};

class BuddyFixture {
  // Declared before `mem`, which refers to it when the fixture owns its memory.
  std::optional<TestMemory> owned_;

 public:
  // More regions than any test adds; the allocator only looks at the ones it has.
  static constexpr usize kMaxRegions = 8;

  // `memory_bytes` of test memory, all of it one free region [0, memory_bytes).
  explicit BuddyFixture(u64 memory_bytes) : BuddyFixture(memory_bytes, kNoRegions) { add_all(); }
  // `memory_bytes` of test memory and an allocator without a region.
  BuddyFixture(u64 memory_bytes, NoRegions)
      : owned_(std::in_place, memory_bytes), mem(*owned_), buddy(mem.map(), regions) {}
  // Over `memory`, which must outlive the fixture: all of it one free region.
  explicit BuddyFixture(const TestMemory& memory) : mem(memory), buddy(mem.map(), regions) { add_all(); }

  BuddyFixture(const BuddyFixture&) = delete;
  BuddyFixture& operator=(const BuddyFixture&) = delete;

  // Adds [base, base + size) with its state bytes on the host; the first `reserved_pages` stay reserved. Fails like
  // BuddyAllocator::add_region (panics if the range itself is not page-aligned or is empty).
  Result<void> add(u64 base, u64 size, u64 reserved_pages = 0) {
    meta.emplace_back(BuddyAllocator::metadata_bytes(size));
    return buddy.add_region(PageRange::make(PhysAddr(base), size).value(), meta.back().data(), reserved_pages);
  }

  PageSource source() { return PageSource(buddy); }

  const TestMemory& mem;
  BuddyAllocator::Region regions[kMaxRegions];
  std::vector<std::vector<u8>> meta;  // one vector per region: growing `meta` moves them, their bytes stay put
  BuddyAllocator buddy;

 private:
  void add_all() { add(0, mem.size()).expect("test buddy region"); }
};

}  // namespace platypos::test
