#pragma once
// RangePool: the boot-time map of all physical memory, as typed ranges, in the spirit of Fuchsia's memalloc::Pool.
//
// It is built from the boot memory map, which may be unsorted, overlapping, not page-aligned and full of zero-length
// entries, and normalizes it:
//
//   firmware:   [free RAM 0x0 ........ 0x9fc00)[reserved 0x9fc00 . 0xa0000)   [free RAM 0x100000 ...
//   normalized: [free RAM 0x0 ..... 0x9f000)[reserved 0x9f000 .... 0xa0000)   [free RAM 0x100000 ...
//
// - free RAM entries that touch or overlap are merged first, then free RAM shrinks inward to whole pages (a page is
//   free only if free RAM entries cover all of it, together if need be); everything else grows outward to whole pages
//   (a page that is partly reserved is reserved);
// - where ranges overlap, the more restrictive type wins (MemoryType's firmware order);
// - the result is sorted, non-overlapping, and adjacent ranges of the same type are merged.
//
// Invariants (check_invariants() verifies them all): ranges are sorted by address, page-aligned, non-empty, never
// overlap, and no two touching ranges have the same type. Every node is either on the range list or on the free
// node list. The pool's bookkeeping (the nodes) lives in pages it took from its own free RAM, tagged
// pool_bookkeeping: no heap. Addresses above 2^64 - 4 KiB are dropped.
//
// A failed call changes nothing: not the ranges, not the nodes, not the bookkeeping. Every call validates its
// arguments and finds its range first, then counts the nodes its change needs (0 when a whole range changes type or
// ranges merge, 1 or 2 when it splits one), and only when there are fewer spare nodes than that takes one more page
// of free RAM for nodes, outside the range it is about to change; if there is none it fails with no_memory before
// anything moved. No spare node is ever required, so freeing or re-tagging a whole range always works.
//
// Operations are O(number of ranges) (the map has tens of entries); this is a boot-time allocator. Once the buddy
// allocator takes over free RAM (hand_over_free_ram), the pool remains the record of what every range is.
//
// Not copyable or movable: nodes point into the pool. Not thread-safe: boot runs on one CPU.

#include <platypos/base/memory_map.hpp>
#include <platypos/base/result.hpp>
#include <platypos/mm/addr.hpp>

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
  //   no_memory         no free range satisfies the constraints, or the split needs a node and there is no free page
  //                     outside the allocation to hold more nodes
  Result<PhysAddr> allocate(MemoryType type, u64 size, u64 alignment = kPageSize, u64 max_addr = ~u64{0},
                            u64 min_addr = 0);

  // Claims the exact range [base, base + size) of free RAM as `type`. Fails with misaligned (base not page-aligned),
  // invalid_argument (size 0 or not whole pages, type not an allocation type), out_of_range (not inside one free RAM
  // range), no_memory (the split needs a node and there is no free page outside the range for more), bad_state
  // (before init).
  Result<void> allocate_at(PhysAddr base, u64 size, MemoryType type);

  // Returns an allocated range (any allocation type) to free RAM, merged with its free neighbours. The range may be
  // part of an allocation. Fails with misaligned, invalid_argument (size 0 or not whole pages), out_of_range (not
  // inside one range of the map), not_allocated (it is free RAM already: double free), access_denied (it is
  // firmware memory, not an allocation), no_memory (splitting needs a node, none is spare, and there is no free page
  // to hold more), bad_state. Freeing a whole range (or the rest of one next to free RAM) needs no node.
  Result<void> free(PhysAddr base, u64 size);

  // Changes the type of [base, base + size), which must lie inside one range. Allowed: from an allocation type,
  // free RAM, or reclaimable boot memory (ACPI reclaimable, boot modules, kernel image) to an allocation type or to
  // free RAM. Fails like free(), with access_denied for firmware memory that must stay as it is (reserved, ACPI NVS,
  // peripheral, bad), and invalid_argument when `to` is a firmware type other than free RAM.
  Result<void> retag(PhysAddr base, u64 size, MemoryType to);

  // Re-tags every free RAM range `to` and calls f(PageRange) for each, in address order: how the buddy allocator
  // takes over at boot. Returns the number of bytes handed over. Fails with bad_state (before init) or
  // invalid_argument (`to` not a caller's allocation type), changing nothing; needs no node.
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
  // init() sizes its first bookkeeping pages for the normalized ranges plus this many, so that the first splits do
  // not have to grow it. Nothing depends on spare nodes being there later (see prepare()).
  static constexpr usize kInitSpareNodes = 4;

  static u64 end_of(const Node* n) { return n->base + n->size; }

  Node* find(u64 addr) const;
  Node* take_node();
  void give_node(Node* n);
  void add_bookkeeping_page(PhysAddr page);
  // Nodes set_type(n, base, size, type) takes: one per side of n the range does not reach, none if n is `type`.
  static usize nodes_needed(const Node* n, u64 base, u64 size, MemoryType type);
  // The last step before a change that must not fail: makes sure set_type(n, base, size, type) has the nodes it
  // needs, taking one page of free RAM outside [base, base + size) for more if there are too few, and returns the
  // node that now holds the range (growing may split n). Fails with no_memory, changing nothing, when nodes are
  // needed and there is no such page.
  Result<Node*> prepare(Node* n, u64 base, u64 size, MemoryType type);
  // The highest free RAM page outside [avoid_base, avoid_end) (so above kBookkeepingMinAddr when there is one).
  Result<u64> find_bookkeeping_page(u64 avoid_base, u64 avoid_end) const;
  // Sets [base, base + size) inside node n to `type`, splitting n and merging with same-typed neighbours.
  // Returns the node now covering the range.
  Node* set_type(Node* n, u64 base, u64 size, MemoryType type);
  void insert_after(Node* pos, Node* n);
  void unlink(Node* n);
  Node* merge_with_neighbours(Node* n);
  // Validates [base, base + size) and returns the one node containing it. Changes nothing.
  Result<Node*> locate(PhysAddr base, u64 size) const;
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
