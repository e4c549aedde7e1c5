#pragma once
// BuddyAllocator: physical page frames in naturally aligned blocks of 2^order pages, order 0..kMaxOrder
// (4 KiB .. 4 MiB), over several disjoint regions with holes between them.
//
// Per-order free lists make every list operation O(1); alloc splits the smallest large-enough block, free merges a
// block with its buddy (the block at addr ^ block_size) for as long as the buddy is free, inside the same region.
//
// Bookkeeping is one state byte per page, in memory the caller provides (add_region) or carved from the region itself
// (add_region_self_hosted): 1/4096 of the managed memory, about 0.025%. The state byte of a block's first page says
// whether the block is free, allocated or reserved, and its order; every other page's byte is 0. Free-list links live
// inside the free blocks themselves (reached through the DirectMap), so the allocator writes to memory it manages
// only while that memory is free.
//
// Invariants (check_invariants() verifies them): every page of a region belongs to exactly one block; blocks are
// naturally aligned and inside their region; a free block is on the free list of its order exactly once; no free
// block has a free buddy of the same order (fully merged); the statistics match the blocks.
//
// Bad input never corrupts the state: every failing call leaves it exactly as it was, with a specific Error.
//
// Not thread-safe: callers serialize (the kernel wraps its allocator in a SpinLock; a process's reservation belongs to
// one process). Not copyable or movable: free lists point at sentinels inside the object.

#include <platypos/base/result.hpp>
#include <platypos/mm/addr.hpp>

#include <concepts>
#include <span>
#include <type_traits>

namespace platypos {

class BuddyAllocator {
 public:
  static constexpr u32 kMaxOrder = 14;
  static constexpr u32 kOrders = kMaxOrder + 1;

  struct Region {
    u64 base_pfn = 0;  // first page frame number
    u64 pages = 0;
    u8* state = nullptr;  // one byte per page
  };

  struct Stats {
    u64 free_blocks[kOrders] = {};
    u64 free_pages = 0;
    u64 managed_pages = 0;   // pages in regions, minus reserved ones
    u64 reserved_pages = 0;  // bookkeeping carved from regions
    u64 allocs = 0;
    u64 frees = 0;
    u64 failed_allocs = 0;
    u64 splits = 0;
    u64 merges = 0;
  };

  // `regions` is the storage for region descriptors (its size is the maximum number of regions).
  BuddyAllocator(DirectMap map, std::span<Region> regions);
  BuddyAllocator(const BuddyAllocator&) = delete;
  BuddyAllocator& operator=(const BuddyAllocator&) = delete;

  // Bytes of state add_region() needs for a range of `size` bytes.
  static constexpr u64 metadata_bytes(u64 size) { return size >> kPageShift; }

  // Adds `range` with its state bytes at `metadata` (metadata_bytes(range) of them). The first `reserved_pages`
  // pages stay reserved (never handed out, never freed); all others become free. Fails with invalid_argument
  // (metadata null, reserved_pages beyond the range), already_exists (overlaps a region), no_resources (region
  // table full).
  Result<void> add_region(PageRange range, u8* metadata, u64 reserved_pages = 0);
  // Same, with the state bytes in the region's own first pages (which become reserved). Fails like add_region, and
  // with invalid_argument if the region is too small to hold its own state and one more page.
  Result<void> add_region_self_hosted(PageRange range);

  // A block of 2^order pages, aligned to its size. Fails with invalid_argument (order > kMaxOrder) or no_memory.
  Result<PhysAddr> alloc(u32 order);
  // A block of at least n pages: 2^ceil(log2 n) pages; give it back with free_pages(addr, n) (or free with that
  // order). Fails with invalid_argument (n == 0 or more than 2^kMaxOrder pages) or no_memory.
  Result<PhysAddr> alloc_pages(u64 n);

  // Frees the block at `addr` allocated with `order`. Fails, changing nothing, with:
  //   misaligned        addr not page-aligned, or not aligned to the block size of `order`
  //   invalid_argument  order > kMaxOrder, or the block at addr was allocated with another order
  //   out_of_range      addr (or the block) outside every region
  //   not_allocated     no allocated block starts at addr: never allocated, already freed, inside another block,
  //                     or reserved bookkeeping
  Result<void> free(PhysAddr addr, u32 order);
  Result<void> free_pages(PhysAddr addr, u64 n);

  // True if an allocated block of exactly `order` starts at addr.
  bool is_allocated(PhysAddr addr, u32 order) const;
  bool contains(PhysAddr addr) const { return find_region(addr.page_number()) != nullptr; }

  const Stats& stats() const { return stats_; }
  u64 free_bytes() const { return stats_.free_pages << kPageShift; }
  std::span<const Region> regions() const { return {regions_.data(), region_count_}; }
  const DirectMap& direct_map() const { return map_; }

  // Verifies every invariant above (O(pages)); prints the first violation and returns false.
  bool check_invariants() const;

  static constexpr u32 order_for_pages(u64 n) {
    u32 order = 0;
    while ((u64{1} << order) < n) ++order;
    return order;
  }

 private:
  struct FreeBlock {
    FreeBlock* next;
    FreeBlock* prev;
  };

  // State byte: kind in bits 6-7, order in bits 0-5. Tail pages (not the first page of a block) are 0.
  static constexpr u8 kKindShift = 6;
  enum Kind : u8 { kTail = 0, kFree = 1, kAllocated = 2, kReserved = 3 };
  static constexpr u8 make_state(Kind k, u32 order) { return static_cast<u8>((k << kKindShift) | order); }
  static constexpr Kind kind_of(u8 s) { return static_cast<Kind>(s >> kKindShift); }
  static constexpr u32 order_of(u8 s) { return s & 0x3f; }

  const Region* find_region(u64 pfn) const;
  void push_free(const Region& r, u64 pfn, u32 order);
  void remove_free(u64 pfn, u32 order);
  FreeBlock* block_at(u64 pfn) const { return map_.to_virt<FreeBlock>(PhysAddr(pfn << kPageShift)); }
  u64 pfn_of(const FreeBlock* b) const { return map_.to_phys(b).page_number(); }
  // Hands [pfn, end) to the free lists as maximal naturally aligned blocks.
  void free_span(const Region& r, u64 pfn, u64 end);

  DirectMap map_;
  std::span<Region> regions_;
  usize region_count_ = 0;
  FreeBlock heads_[kOrders];  // circular list sentinels
  Stats stats_;
};

// Something that hands out naturally aligned blocks of 2^order pages: a BuddyAllocator, a MemoryReservation, a
// locked kernel allocator. A non-owning, type-erased reference (two function pointers): slab caches and
// reservations sit on top of any of them.
class PageSource {
 public:
  PageSource() = default;
  template <class T>
  requires(!std::is_same_v<std::remove_cv_t<T>, PageSource>) && requires(T& t, PhysAddr a, u32 o) {
    { t.alloc(o) } -> std::same_as<Result<PhysAddr>>;
    { t.free(a, o) } -> std::same_as<Result<void>>;
    { t.direct_map() } -> std::convertible_to<DirectMap>;
  }
  explicit PageSource(T& impl)
      : ctx_(&impl),
        alloc_([](void* c, u32 o) { return static_cast<T*>(c)->alloc(o); }),
        free_([](void* c, PhysAddr a, u32 o) { return static_cast<T*>(c)->free(a, o); }),
        map_(impl.direct_map()) {}

  Result<PhysAddr> alloc(u32 order) const { return alloc_(ctx_, order); }
  Result<void> free(PhysAddr a, u32 order) const { return free_(ctx_, a, order); }
  const DirectMap& direct_map() const { return map_; }
  bool valid() const { return ctx_ != nullptr; }

 private:
  void* ctx_ = nullptr;
  Result<PhysAddr> (*alloc_)(void*, u32) = nullptr;
  Result<void> (*free_)(void*, PhysAddr, u32) = nullptr;
  DirectMap map_;
};

}  // namespace platypos
