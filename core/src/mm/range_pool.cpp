#include <platypos/base/print.hpp>
#include <platypos/mm/range_pool.hpp>

namespace platypos {
namespace {

// The highest page-aligned address the pool represents; ranges reaching past it are cut there.
constexpr u64 kTop = ~u64{0} & ~(kPageSize - 1);

// A boot map entry adjusted to whole pages: free RAM shrinks inward, everything else grows outward.
struct Adjusted {
  u64 base;
  u64 end;  // exclusive, <= kTop
  MemoryType type;
  bool valid;
};

Adjusted adjust(const MemoryRange& r) {
  Adjusted a{0, 0, r.type, false};
  if (r.size == 0 || r.base >= kTop) return a;
  const u64 end = r.size > kTop - r.base ? kTop : r.base + r.size;  // saturate instead of wrapping
  if (r.type == MemoryType::free_ram) {
    u64 b = 0;
    if (!align_up_checked(r.base, kPageSize, &b)) return a;
    const u64 e = align_down(end, kPageSize);
    if (b >= e) return a;
    a.base = b;
    a.end = e;
  } else {
    a.base = align_down(r.base, kPageSize);
    u64 e = 0;
    a.end = align_up_checked(end, kPageSize, &e) && e <= kTop ? e : kTop;
  }
  a.valid = true;
  return a;
}

// Streams the normalized map of `in` in address order without any memory of its own: O(n) per boundary, O(n^2)
// overall, which is nothing for firmware maps of a few dozen entries.
class Normalizer {
 public:
  explicit Normalizer(std::span<const MemoryRange> in) : in_(in) {}

  // The next normalized range at or after pos_, or false at the end.
  bool next(MemoryRange* out) {
    u64 start = 0;
    if (!first_covered_at_or_after(pos_, &start)) return false;
    const MemoryType t = type_at(start);
    u64 end = next_boundary_after(start);
    MemoryType t2;
    while (end < kTop && covered(end, &t2) && t2 == t) end = next_boundary_after(end);
    *out = MemoryRange{start, end - start, t};
    pos_ = end;
    return true;
  }

 private:
  bool first_covered_at_or_after(u64 pos, u64* out) const {
    bool found = false;
    u64 best = 0;
    for (const MemoryRange& r : in_) {
      const Adjusted a = adjust(r);
      if (!a.valid || a.end <= pos) continue;
      const u64 s = a.base > pos ? a.base : pos;
      if (!found || s < best) best = s, found = true;
    }
    *out = best;
    return found;
  }
  bool covered(u64 addr, MemoryType* type) const {
    bool any = false;
    MemoryType best = MemoryType::free_ram;
    for (const MemoryRange& r : in_) {
      const Adjusted a = adjust(r);
      if (!a.valid || addr < a.base || addr >= a.end) continue;
      if (!any || static_cast<u8>(a.type) > static_cast<u8>(best)) best = a.type;
      any = true;
    }
    *type = best;
    return any;
  }
  MemoryType type_at(u64 addr) const {
    MemoryType t;
    covered(addr, &t);
    return t;
  }
  u64 next_boundary_after(u64 addr) const {
    u64 best = kTop;
    for (const MemoryRange& r : in_) {
      const Adjusted a = adjust(r);
      if (!a.valid) continue;
      if (a.base > addr && a.base < best) best = a.base;
      if (a.end > addr && a.end < best) best = a.end;
    }
    return best;
  }

  std::span<const MemoryRange> in_;
  u64 pos_ = 0;
};

// Types callers may allocate or re-tag to: allocation types except the pool's own bookkeeping.
bool caller_type(MemoryType t) { return is_allocation_type(t) && t != MemoryType::pool_bookkeeping; }

bool reclaimable(MemoryType t) {
  return t == MemoryType::acpi_reclaimable || t == MemoryType::boot_module || t == MemoryType::kernel_image;
}

}  // namespace

Result<void> RangePool::init(std::span<const MemoryRange> boot_map) {
  if (initialized()) return Error::bad_state;
  for (const MemoryRange& r : boot_map) {
    if (!is_firmware_type(r.type)) return Error::invalid_argument;
  }
  // Pass 1: count the normalized ranges and find a home for the first bookkeeping pages: the lowest free RAM at or
  // above kBookkeepingMinAddr that fits them, else the highest free RAM that does.
  usize count = 0;
  MemoryRange r;
  Normalizer counter(boot_map);
  while (counter.next(&r)) ++count;
  const u64 pages = (count + kSpareNodes + kNodesPerPage) / kNodesPerPage;
  const u64 need = pages * kPageSize;
  bool found = false;
  u64 home = 0;
  Normalizer finder(boot_map);
  while (finder.next(&r)) {
    if (r.type != MemoryType::free_ram) continue;
    const u64 lo = r.base > kBookkeepingMinAddr ? r.base : kBookkeepingMinAddr;
    if (r.end() > lo && r.end() - lo >= need) {
      home = lo;
      found = true;
      break;
    }
    if (r.size >= need) {
      home = r.base + r.size - need;  // below 1 MiB: keep looking for something higher, remember this one
      found = true;
    }
  }
  if (!found) return Error::no_memory;

  for (u64 i = 0; i < pages; ++i) add_bookkeeping_page(PhysAddr(home + i * kPageSize));

  // Pass 2: the ranges themselves.
  Normalizer emitter(boot_map);
  while (emitter.next(&r)) {
    Node* n = take_node();
    *n = Node{r.base, r.size, r.type, nullptr, nullptr};
    insert_after(tail_, n);
  }
  // Tag the bookkeeping pages: they lie inside one free RAM range, so this is one split (nodes are spare).
  Node* holder = find(home);
  PLATYPOS_ASSERT(holder != nullptr && holder->type == MemoryType::free_ram, "bookkeeping home {:#x} lost", home);
  set_type(holder, home, need, MemoryType::pool_bookkeeping);
  return ok();
}

Result<PhysAddr> RangePool::allocate(MemoryType type, u64 size, u64 alignment, u64 max_addr, u64 min_addr) {
  if (!initialized()) return Error::bad_state;
  if (size == 0 || !caller_type(type) || min_addr > max_addr) return Error::invalid_argument;
  if (alignment == 0 || !is_power_of_two(alignment)) return Error::invalid_argument;
  if (alignment < kPageSize) alignment = kPageSize;
  u64 rounded = 0;
  if (!align_up_checked(size, kPageSize, &rounded)) return Error::no_memory;
  PLATYPOS_TRY(ensure_spare_nodes());
  const PhysAddr base = PLATYPOS_TRY(find_fit(rounded, alignment, min_addr, max_addr));
  set_type(find(base.value()), base.value(), rounded, type);
  return base;
}

Result<PhysAddr> RangePool::find_fit(u64 size, u64 alignment, u64 min_addr, u64 max_addr) const {
  // Highest fit: walk down from the top.
  for (const Node* n = tail_; n != nullptr; n = n->prev) {
    if (n->type != MemoryType::free_ram) continue;
    const u64 lo = n->base > min_addr ? n->base : min_addr;
    // Window end (exclusive), limited by max_addr (inclusive).
    u64 hi = end_of(n);
    if (max_addr < kTop && hi > max_addr + 1) hi = max_addr + 1;
    if (hi <= lo || hi - lo < size) continue;
    const u64 cand = align_down(hi - size, alignment);
    if (cand >= lo) return PhysAddr(cand);
  }
  return Error::no_memory;
}

Result<RangePool::Node*> RangePool::locate(PhysAddr base, u64 size) {
  if (!initialized()) return Error::bad_state;
  if (!base.is_page_aligned()) return Error::misaligned;
  if (size == 0 || (size & (kPageSize - 1)) != 0) return Error::invalid_argument;
  // Grow first: growing takes a free page, which may lie inside [base, base + size), so the range is looked up
  // after it, and the change that follows needs at most the 2 nodes left spare.
  PLATYPOS_TRY(ensure_spare_nodes());
  Node* n = find(base.value());
  if (n == nullptr || size > end_of(n) - base.value()) return Error::out_of_range;
  return n;
}

Result<void> RangePool::allocate_at(PhysAddr base, u64 size, MemoryType type) {
  if (!caller_type(type)) return Error::invalid_argument;
  Node* n = PLATYPOS_TRY(locate(base, size));
  if (n->type != MemoryType::free_ram) return Error::out_of_range;
  set_type(n, base.value(), size, type);
  return ok();
}

Result<void> RangePool::free(PhysAddr base, u64 size) {
  Node* n = PLATYPOS_TRY(locate(base, size));
  if (n->type == MemoryType::free_ram) return Error::not_allocated;
  if (!is_allocation_type(n->type)) return Error::access_denied;
  if (n->type == MemoryType::pool_bookkeeping) return Error::access_denied;  // the pool's own nodes live there
  set_type(n, base.value(), size, MemoryType::free_ram);
  return ok();
}

Result<void> RangePool::retag(PhysAddr base, u64 size, MemoryType to) {
  if (!caller_type(to) && to != MemoryType::free_ram) return Error::invalid_argument;
  Node* n = PLATYPOS_TRY(locate(base, size));
  const MemoryType from = n->type;
  if (from == MemoryType::pool_bookkeeping) return Error::access_denied;
  if (!is_allocation_type(from) && from != MemoryType::free_ram && !reclaimable(from)) return Error::access_denied;
  set_type(n, base.value(), size, to);
  return ok();
}

u64 RangePool::total_bytes(MemoryType t) const {
  u64 total = 0;
  for (const Node* n = head_; n != nullptr; n = n->next)
    if (n->type == t) total += n->size;
  return total;
}

RangePool::Node* RangePool::find(u64 addr) const {
  for (Node* n = head_; n != nullptr && n->base <= addr; n = n->next)
    if (addr < end_of(n)) return n;
  return nullptr;
}

RangePool::Node* RangePool::take_node() {
  PLATYPOS_ASSERT(free_nodes_ != nullptr, "RangePool out of nodes (spare-node invariant broken)");
  Node* n = free_nodes_;
  free_nodes_ = n->next;
  --free_count_;
  return n;
}

void RangePool::give_node(Node* n) {
  n->next = free_nodes_;
  n->prev = nullptr;
  free_nodes_ = n;
  ++free_count_;
}

void RangePool::add_bookkeeping_page(PhysAddr page) {
  auto* nodes = map_.to_virt<Node>(page);
  for (usize i = 0; i < kNodesPerPage; ++i) give_node(&nodes[i]);
  ++bookkeeping_pages_;
}

Result<void> RangePool::ensure_spare_nodes() {
  if (free_count_ >= kSpareNodes) return ok();
  // Take one more page of free RAM for nodes. Tagging it uses at most 2 of the (at least 2) spare nodes.
  Result<PhysAddr> page = find_fit(kPageSize, kPageSize, kBookkeepingMinAddr, ~u64{0});
  if (page.is_error()) page = find_fit(kPageSize, kPageSize, 0, ~u64{0});
  if (page.is_error()) return Error::no_memory;
  set_type(find(page->value()), page->value(), kPageSize, MemoryType::pool_bookkeeping);
  add_bookkeeping_page(*page);
  return ok();
}

void RangePool::insert_after(Node* pos, Node* n) {
  n->prev = pos;
  n->next = pos != nullptr ? pos->next : head_;
  if (n->next != nullptr) {
    n->next->prev = n;
  } else {
    tail_ = n;
  }
  if (pos != nullptr) {
    pos->next = n;
  } else {
    head_ = n;
  }
  ++range_count_;
}

void RangePool::unlink(Node* n) {
  if (n->prev != nullptr) {
    n->prev->next = n->next;
  } else {
    head_ = n->next;
  }
  if (n->next != nullptr) {
    n->next->prev = n->prev;
  } else {
    tail_ = n->prev;
  }
  --range_count_;
  give_node(n);
}

RangePool::Node* RangePool::merge_with_neighbours(Node* n) {
  if (Node* p = n->prev; p != nullptr && p->type == n->type && end_of(p) == n->base) {
    p->size += n->size;
    unlink(n);
    n = p;
  }
  if (Node* q = n->next; q != nullptr && q->type == n->type && end_of(n) == q->base) {
    n->size += q->size;
    unlink(q);
  }
  return n;
}

//   before:  [ n.base ............................... end(n) )
//   after:   [ left (n.type) )[ mid (type) )[ right (n.type) )
RangePool::Node* RangePool::set_type(Node* n, u64 base, u64 size, MemoryType type) {
  PLATYPOS_ASSERT(n != nullptr && base >= n->base && size <= end_of(n) - base, "set_type outside its node");
  if (n->type == type) return n;
  const u64 end = base + size;
  if (end < end_of(n)) {
    Node* right = take_node();
    *right = Node{end, end_of(n) - end, n->type, nullptr, nullptr};
    n->size = end - n->base;
    insert_after(n, right);
  }
  if (base > n->base) {
    Node* mid = take_node();
    *mid = Node{base, size, type, nullptr, nullptr};
    n->size = base - n->base;
    insert_after(n, mid);
    return merge_with_neighbours(mid);
  }
  n->type = type;
  return merge_with_neighbours(n);
}

bool RangePool::check_invariants() const {
  auto fail = [](const char* what, u64 a, u64 b) {
    print("RangePool invariant violated: {} ({:#x}, {:#x})\n", what, a, b);
    return false;
  };
  usize count = 0;
  u64 bookkeeping = 0;
  const Node* prev = nullptr;
  for (const Node* n = head_; n != nullptr; prev = n, n = n->next) {
    ++count;
    if (n->prev != prev) return fail("broken back link", n->base, 0);
    if (n->size == 0) return fail("empty range", n->base, 0);
    if (!is_aligned(n->base, kPageSize) || !is_aligned(n->size, kPageSize)) return fail("unaligned", n->base, n->size);
    if (n->base > kTop - n->size) return fail("range past the top", n->base, n->size);
    if (prev != nullptr) {
      if (end_of(prev) > n->base) return fail("overlap or unsorted", prev->base, n->base);
      if (end_of(prev) == n->base && prev->type == n->type) return fail("unmerged neighbours", prev->base, n->base);
    }
    if (n->type == MemoryType::pool_bookkeeping) bookkeeping += n->size;
  }
  if (prev != tail_) return fail("tail mismatch", 0, 0);
  if (count != range_count_) return fail("range count mismatch", count, range_count_);
  usize spare = 0;
  for (const Node* n = free_nodes_; n != nullptr; n = n->next) ++spare;
  if (spare != free_count_) return fail("free node count mismatch", spare, free_count_);
  if (count + spare != bookkeeping_pages_ * kNodesPerPage) {
    return fail("nodes lost", count + spare, bookkeeping_pages_ * kNodesPerPage);
  }
  if (bookkeeping != bookkeeping_pages_ * kPageSize) {
    return fail("bookkeeping pages mis-tagged", bookkeeping, bookkeeping_pages_ * kPageSize);
  }
  if (initialized() && free_count_ < 2) return fail("fewer than 2 spare nodes", free_count_, 0);
  return true;
}

}  // namespace platypos
