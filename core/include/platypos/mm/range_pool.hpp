#pragma once
// RangePool: the boot-time map of all physical memory, as typed ranges, in the spirit of Fuchsia's memalloc::Pool.
//
// It is built from the boot memory map, which may be unsorted, overlapping, not page-aligned and full of zero-length
// entries, and normalizes it:
//
//   firmware:   [free RAM 0x0 ........ 0x9fc00)[reserved 0x9fc00 . 0xa0000)   [free RAM 0x100000 ...
//   normalized: [free RAM 0x0 ..... 0x9f000)[reserved 0x9f000 .... 0xa0000)   [free RAM 0x100000 ...
//
// - free RAM shrinks inward to whole pages, everything else grows outward to whole pages (a page that is partly
//   reserved is reserved);
// - where ranges overlap, the more restrictive type wins (MemoryType's firmware order);
// - the result is sorted, non-overlapping, and adjacent ranges of the same type are merged.
//
// Invariants (check_invariants() verifies them all): ranges are sorted by address, page-aligned, non-empty, never
// overlap, and no two touching ranges have the same type. Every node is either on the range list or on the free
// node list. The pool's bookkeeping (the nodes) lives in pages it took from its own free RAM, tagged
// pool_bookkeeping: no heap. Addresses above 2^64 - 4 KiB are dropped.
//
// Operations are O(number of ranges) (the map has tens of entries); this is a boot-time allocator. Once the buddy
// allocator takes over free RAM (hand_over_free_ram), the pool remains the record of what every range is.
//
// Not copyable or movable: nodes point into the pool. Not thread-safe: boot runs on one CPU.

#include <platypos/base/result.hpp>
#include <platypos/mm/addr.hpp>
#include <platypos/mm/memory_map.hpp>

#include <span>

namespace platypos {

class RangePool {
 public:
  // Bookkeeping is placed at or above this address when possible, keeping low memory for trampolines and DMA.
  static constexpr u64 kBookkeepingMinAddr = 1 * MiB;

  explicit RangePool(DirectMap map) : map_(map) {}
  RangePool(const RangePool&) = delete;
  RangePool& operator=(const RangePool&) = delete;

  // Builds the pool from a boot memory map. Fails with:
  //   bad_state         init() already succeeded
  //   invalid_argument  an entry has an allocation type (firmware maps only carry firmware types)
  //   no_memory         no free RAM page to hold the bookkeeping
  Result<void> init(std::span<const MemoryRange> boot_map);

  // Allocates `size` bytes (rounded up to pages) of free RAM, tags it `type` and returns its base. The range is
  // aligned to `alignment` (a power of two; below a page means a page), lies within [min_addr, max_addr] (max_addr
  // inclusive: "below 1 MiB" is max_addr = 0xfffff), and is the highest such range (low memory is scarce).
  // Fails with:
  //   bad_state         before init()
  //   invalid_argument  size 0, type not an allocation type, alignment not a power of two, min_addr > max_addr
  //   no_memory         no free range satisfies the constraints (or no node for the split)
  Result<PhysAddr> allocate(MemoryType type, u64 size, u64 alignment = kPageSize, u64 max_addr = ~u64{0},
                            u64 min_addr = 0);

  // Claims the exact range [base, base + size) of free RAM as `type`. Fails with misaligned (base not page-aligned),
  // invalid_argument (size 0 or not whole pages, type not an allocation type), out_of_range (not inside one free RAM
  // range), no_memory (no node), bad_state (before init).
  Result<void> allocate_at(PhysAddr base, u64 size, MemoryType type);

  // Returns an allocated range (any allocation type) to free RAM, merged with its free neighbours. The range may be
  // part of an allocation. Fails with misaligned, invalid_argument (size 0 or not whole pages), out_of_range (not
  // inside one range of the map), not_allocated (it is free RAM already: double free), access_denied (it is
  // firmware memory, not an allocation), no_memory (splitting needs a node and none is left), bad_state.
  Result<void> free(PhysAddr base, u64 size);

  // Changes the type of [base, base + size), which must lie inside one range. Allowed: from an allocation type,
  // free RAM, or reclaimable boot memory (ACPI reclaimable, boot modules, kernel image) to an allocation type or to
  // free RAM. Fails like free(), with access_denied for firmware memory that must stay as it is (reserved, ACPI NVS,
  // peripheral, bad), and invalid_argument when `to` is a firmware type other than free RAM.
  Result<void> retag(PhysAddr base, u64 size, MemoryType to);

  // Re-tags every free RAM range `to` and calls f(PageRange) for each, in address order: how the buddy allocator
  // takes over at boot. Returns the number of bytes handed over.
  template <class F>
  Result<u64> hand_over_free_ram(MemoryType to, F&& f);

  // Calls f(const MemoryRange&) for every range in address order.
  template <class F>
  void for_each(F&& f) const {
    for (const Node* n = head_; n != nullptr; n = n->next) f(MemoryRange{n->base, n->size, n->type});
  }

  u64 total_bytes(MemoryType t) const;
  usize range_count() const { return range_count_; }
  usize free_node_count() const { return free_count_; }
  u64 bookkeeping_pages() const { return bookkeeping_pages_; }
  bool initialized() const { return head_ != nullptr; }
  const DirectMap& direct_map() const { return map_; }

  // Verifies every invariant above; prints the first violation on the console and returns false.
  bool check_invariants() const;

 private:
  struct Node {
    u64 base;
    u64 size;
    MemoryType type;
    Node* prev;
    Node* next;
  };
  static constexpr usize kNodesPerPage = kPageSize / sizeof(Node);
  // Each mutation needs at most 2 new nodes, and growing needs at most 2: keep 4 spare before any mutation.
  static constexpr usize kSpareNodes = 4;

  static u64 end_of(const Node* n) { return n->base + n->size; }

  Node* find(u64 addr) const;
  Node* take_node();
  void give_node(Node* n);
  void add_bookkeeping_page(PhysAddr page);
  Result<void> ensure_spare_nodes();
  // Sets [base, base + size) inside node n to `type`, splitting n and merging with same-typed neighbours.
  // Returns the node now covering the range.
  Node* set_type(Node* n, u64 base, u64 size, MemoryType type);
  void insert_after(Node* pos, Node* n);
  void unlink(Node* n);
  Node* merge_with_neighbours(Node* n);
  // Validates [base, base + size), grows the bookkeeping if needed, and returns the one node containing the range.
  Result<Node*> locate(PhysAddr base, u64 size);
  Result<PhysAddr> find_fit(u64 size, u64 alignment, u64 min_addr, u64 max_addr) const;

  DirectMap map_;
  Node* head_ = nullptr;
  Node* tail_ = nullptr;
  Node* free_nodes_ = nullptr;  // singly linked through next
  usize range_count_ = 0;
  usize free_count_ = 0;
  u64 bookkeeping_pages_ = 0;
};

template <class F>
Result<u64> RangePool::hand_over_free_ram(MemoryType to, F&& f) {
  if (!initialized()) return Error::bad_state;
  if (!is_allocation_type(to) || to == MemoryType::pool_bookkeeping) return Error::invalid_argument;
  u64 total = 0;
  Node* n = head_;
  while (n != nullptr) {
    if (n->type != MemoryType::free_ram) {
      n = n->next;
      continue;
    }
    const u64 base = n->base;
    const u64 size = n->size;
    // The whole node changes type: no split, so no new node is needed. Merging may absorb the next node, but
    // never a free RAM one (free RAM ranges are never adjacent to each other).
    Node* covered = set_type(n, base, size, to);
    total += size;
    f(PageRange::make(PhysAddr(base), size).value());
    n = covered->next;
  }
  return total;
}

}  // namespace platypos
