#include <platypos/mm/boot_memory.hpp>

namespace platypos {

Result<BuddyHandover> hand_free_ram_to_buddy(RangePool& pool, BuddyAllocator& buddy, usize region_slots) {
  if (!pool.initialized()) return Error::bad_state;
  usize free_ranges = 0;
  u64 free_pages = 0;
  pool.for_each([&](const MemoryRange& r) {
    if (r.type != MemoryType::free_ram) return;
    ++free_ranges;
    free_pages += r.size >> kPageShift;
  });
  if (free_ranges > region_slots - buddy.regions().size()) return Error::no_resources;
  if (free_ranges == 0) return Error::no_memory;
  // One state byte per free page, an upper bound: taking them shrinks (or removes) one free range.
  const u64 meta_bytes = BuddyAllocator::metadata_bytes(free_pages << kPageShift);
  const PhysAddr meta = PLATYPOS_TRY(pool.allocate(MemoryType::buddy_metadata, meta_bytes));
  u8* cursor = pool.direct_map().to_virt<u8>(meta);
  BuddyHandover out;
  out.metadata_bytes = pages_for(meta_bytes) << kPageShift;
  Error failed = Error::none;
  const u64 handed = PLATYPOS_TRY(pool.hand_over_free_ram(MemoryType::buddy, [&](PageRange r) {
    if (failed != Error::none) return;
    auto added = buddy.add_region(r, cursor);
    if (added.is_error()) {
      failed = added.error();
      return;
    }
    cursor += r.pages();
    ++out.regions;
  }));
  // The counts above make failure impossible short of a bug (overlapping regions added before, say).
  PLATYPOS_ASSERT(failed == Error::none, "buddy hand-over failed: {}", failed);
  out.managed_bytes = handed;
  return out;
}

}  // namespace platypos
