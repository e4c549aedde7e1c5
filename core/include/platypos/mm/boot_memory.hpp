#pragma once
// Boot-time hand-over of physical memory, the same on both backends:
//
//   boot memory map --init--> RangePool --hand_free_ram_to_buddy--> BuddyAllocator (+ its state bytes, taken from
//                                                                   the pool as buddy_metadata)
//
// After it, the pool records every range (free RAM now tagged `buddy`), and the buddy allocator owns all of it.

#include <platypos/mm/buddy.hpp>
#include <platypos/mm/range_pool.hpp>

namespace platypos {

struct BuddyHandover {
  u64 regions = 0;
  u64 managed_bytes = 0;   // handed to the buddy allocator
  u64 metadata_bytes = 0;  // the buddy allocator's state bytes, in pages taken from the pool
};

// Takes the buddy allocator's state bytes from the pool (one allocation), then gives it every free RAM range.
// All or nothing: fails with no_resources (more free ranges than the allocator has region slots) or no_memory (no
// room for the state bytes) before changing anything except, possibly, the pool's own bookkeeping.
Result<BuddyHandover> hand_free_ram_to_buddy(RangePool& pool, BuddyAllocator& buddy, usize region_slots);

}  // namespace platypos
