#pragma once
// MemoryReservation: a process's dedicated memory. reserve(bytes) takes every page up front from a page source (the
// kernel's buddy allocator), all or nothing; from then on the process allocates inside its reservation, and nothing
// it does can take memory from anyone else. release() gives every page back at once, whatever is still allocated
// inside (that is how a process's memory goes away when it exits). This is how PlatypOS refuses to overcommit.
//
// Inside, the pages are managed by a private BuddyAllocator whose regions are the blocks taken from the source. Its
// bookkeeping (region table and page states) sits at the start of the first block and is charged to the
// reservation, not to the quota:
//
//   block 0: [ region table | page states | usable pages ... ]   block 1: [ usable ... ]   block 2: ...
//
// Quota: exactly pages_for(bytes) pages can be allocated at a time. Page allocations (order 0) never fail until the
// quota is used. Larger blocks come from the same pages and can fail earlier when the reservation is fragmented
// (no allocator can promise otherwise without moving memory); that is reported as no_memory with quota left
// (available_bytes() tells).
//
// Not thread-safe (a reservation belongs to one process; its user serializes). Not copyable or movable.

#include <platypos/base/result.hpp>
#include <platypos/mm/buddy.hpp>

namespace platypos {

class MemoryReservation {
 public:
  // Largest reservation: its page states must fit in one block of the source (2^kMaxOrder pages).
  static constexpr u64 kMaxBytes = 8 * GiB;

  MemoryReservation() = default;
  ~MemoryReservation();
  MemoryReservation(const MemoryReservation&) = delete;
  MemoryReservation& operator=(const MemoryReservation&) = delete;

  // Takes pages_for(bytes) pages (plus bookkeeping) from `source`. All or nothing: on failure every page taken so
  // far goes back and the reservation stays empty. Fails with bad_state (already holds a reservation),
  // invalid_argument (bytes == 0 or above kMaxBytes), no_memory (the source cannot provide them all).
  Result<void> reserve(PageSource source, u64 bytes);

  // Gives every page back to the source, including pages still allocated inside. Harmless on an empty reservation.
  void release();

  // Allocation inside the reservation, like BuddyAllocator's. Fail with no_memory when the quota is used (or, for
  // order > 0, when no contiguous block is left), bad_state on an empty reservation, and the BuddyAllocator errors.
  Result<PhysAddr> alloc(u32 order);
  Result<void> free(PhysAddr addr, u32 order);
  Result<PhysAddr> alloc_pages(u64 n);
  Result<void> free_pages(PhysAddr addr, u64 n);

  bool active() const { return inner_ != nullptr; }
  u64 capacity_bytes() const { return quota_pages_ << kPageShift; }
  u64 used_bytes() const { return used_pages_ << kPageShift; }
  u64 available_bytes() const { return (quota_pages_ - used_pages_) << kPageShift; }
  // Pages taken from the source, bookkeeping and rounding included.
  u64 taken_pages() const { return taken_pages_; }
  usize block_count() const { return block_count_; }
  const DirectMap& direct_map() const { return source_.direct_map(); }
  PageSource page_source() { return PageSource(*this); }

  bool check_invariants() const;

 private:
  struct Block {
    PhysAddr base;
    u32 order;
  };
  void give_back(Block* blocks, usize count);

  PageSource source_;
  BuddyAllocator* inner_ = nullptr;  // in inner_storage_ while active
  Block* blocks_ = nullptr;          // in the first block
  usize block_count_ = 0;
  u64 quota_pages_ = 0;
  u64 used_pages_ = 0;
  u64 taken_pages_ = 0;
  // Storage for the private allocator, constructed in place on reserve().
  alignas(BuddyAllocator) unsigned char inner_storage_[sizeof(BuddyAllocator)];
};

}  // namespace platypos
