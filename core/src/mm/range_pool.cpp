#include <platypos/base/print.hpp>
#include <platypos/mm/range_pool.hpp>

namespace platypos {
namespace {

// The highest page-aligned address the pool represents; ranges reaching past it are cut there.
constexpr u64 kTop = ~u64{0} & ~(kPageSize - 1);

// A boot map entry cut at kTop, as bytes [base, end), or not valid (empty, or entirely above kTop).
struct Extent {
  u64 base;
  u64 end;  // exclusive, <= kTop
  bool valid;
};

Extent clip(const MemoryRange& r) {
  if (r.size == 0 || r.base >= kTop) return Extent{0, 0, false};
  return Extent{r.base, r.size > kTop - r.base ? kTop : r.base + r.size, true};  // saturate instead of wrapping
}

// Streams the normalized map of `in` in address order without any memory of its own.
//
// A page is free RAM when the free RAM entries, merged, cover all of it (two entries meeting inside a page do not lose
// it: they are merged before rounding); it has another type when an entry of that type touches any byte of it, and
// the most restrictive such type wins over free RAM and each other. The type is constant between consecutive
// "boundaries": every other entry's base and end rounded outward, and every free RAM entry's base rounded up and end
// rounded down (a merged run of free RAM starts at one entry's base and ends at one entry's end, so its inward-rounded
// edges are among them). Each boundary is visited once, at O(n) for the next boundary and usually O(n) for the type
// (free RAM coverage is O(n^2) at worst, for a page pieced together from many entries): O(n^2) overall, nothing for
// firmware maps of a few dozen entries.
class Normalizer {
 public:
  explicit Normalizer(std::span<const MemoryRange> in) : in_(in) {}

  // The next normalized range at or after pos_, or false at the end.
  bool next(MemoryRange* out) {
    u64 start = 0;
    if (!first_covered_at_or_after(pos_, &start)) return false;
    MemoryType t = MemoryType::free_ram;
    covered(start, &t);
    u64 end = next_boundary_after(start);
    MemoryType t2;
    while (end < kTop && covered(end, &t2) && t2 == t) end = next_boundary_after(end);
    *out = MemoryRange{start, end - start, t};
    pos_ = end;
    return true;
  }

 private:
  static bool outward(const MemoryRange& r, u64* base, u64* end) {
    const Extent x = clip(r);
    if (!x.valid) return false;
    *base = align_down(x.base, kPageSize);
    u64 e = 0;
    *end = align_up_checked(x.end, kPageSize, &e) && e <= kTop ? e : kTop;
    return true;
  }

  // pos is page-aligned; the type is constant from pos to the next boundary, so checking pos is enough.
  bool first_covered_at_or_after(u64 pos, u64* out) const {
    MemoryType t;
    for (u64 s = pos; s < kTop; s = next_boundary_after(s)) {
      if (covered(s, &t)) {
        *out = s;
        return true;
      }
    }
    return false;
  }

  // The type of the page at `addr` (page-aligned, below kTop), or false if no entry covers it.
  bool covered(u64 addr, MemoryType* type) const {
    bool any = false;
    MemoryType best = MemoryType::free_ram;
    for (const MemoryRange& r : in_) {
      u64 b = 0, e = 0;
      if (r.type == MemoryType::free_ram || !outward(r, &b, &e) || addr < b || addr >= e) continue;
      if (!any || static_cast<u8>(r.type) > static_cast<u8>(best)) best = r.type;
      any = true;
    }
    if (!any) any = free_ram_covers_page(addr);
    *type = best;
    return any;
  }

  // Whether the union of the free RAM entries covers all of [addr, addr + kPageSize).
  bool free_ram_covers_page(u64 addr) const {
    const u64 goal = addr + kPageSize;  // addr < kTop: no overflow
    u64 covered_to = addr;              // [addr, covered_to) is covered
    for (bool progress = true; progress;) {
      progress = false;
      for (const MemoryRange& r : in_) {
        const Extent x = clip(r);
        if (r.type != MemoryType::free_ram || !x.valid || x.base > covered_to || x.end <= covered_to) continue;
        covered_to = x.end;
        if (covered_to >= goal) return true;
        progress = true;
      }
    }
    return false;
  }

  u64 next_boundary_after(u64 addr) const {
    u64 best = kTop;
    auto consider = [&](u64 b) {
      if (b > addr && b < best) best = b;
    };
    for (const MemoryRange& r : in_) {
      u64 b = 0, e = 0;
      if (r.type != MemoryType::free_ram) {
        if (!outward(r, &b, &e)) continue;
        consider(b);
        consider(e);
        continue;
      }
      const Extent x = clip(r);
      if (!x.valid) continue;
      if (align_up_checked(x.base, kPageSize, &b)) consider(b);  // x.base < kTop: b <= kTop
      consider(align_down(x.end, kPageSize));
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
  const u64 pages = (count + kInitSpareNodes + kNodesPerPage) / kNodesPerPage;
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
  // Tag the bookkeeping pages: they lie inside one free RAM range, so this is one split (at most 2 of the spare nodes).
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
  const PhysAddr base = PLATYPOS_TRY(find_fit(rounded, alignment, min_addr, max_addr));
  Node* n = PLATYPOS_TRY(prepare(find(base.value()), base.value(), rounded, type));
  set_type(n, base.value(), rounded, type);
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

Result<RangePool::Node*> RangePool::locate(PhysAddr base, u64 size) const {
  if (!initialized()) return Error::bad_state;
  if (!base.is_page_aligned()) return Error::misaligned;
  if (size == 0 || (size & (kPageSize - 1)) != 0) return Error::invalid_argument;
  Node* n = find(base.value());
  if (n == nullptr || size > end_of(n) - base.value()) return Error::out_of_range;
  return n;
}

Result<void> RangePool::allocate_at(PhysAddr base, u64 size, MemoryType type) {
  if (!caller_type(type)) return Error::invalid_argument;
  Node* n = PLATYPOS_TRY(locate(base, size));
  if (n->type != MemoryType::free_ram) return Error::out_of_range;
  n = PLATYPOS_TRY(prepare(n, base.value(), size, type));
  set_type(n, base.value(), size, type);
  return ok();
}

Result<void> RangePool::free(PhysAddr base, u64 size) {
  Node* n = PLATYPOS_TRY(locate(base, size));
  if (n->type == MemoryType::free_ram) return Error::not_allocated;
  if (!is_allocation_type(n->type)) return Error::access_denied;
  if (n->type == MemoryType::pool_bookkeeping) return Error::access_denied;  // the pool's own nodes live there
  n = PLATYPOS_TRY(prepare(n, base.value(), size, MemoryType::free_ram));
  set_type(n, base.value(), size, MemoryType::free_ram);
  return ok();
}

Result<void> RangePool::retag(PhysAddr base, u64 size, MemoryType to) {
  if (!caller_type(to) && to != MemoryType::free_ram) return Error::invalid_argument;
  Node* n = PLATYPOS_TRY(locate(base, size));
  const MemoryType from = n->type;
  if (from == MemoryType::pool_bookkeeping) return Error::access_denied;
  if (!is_allocation_type(from) && from != MemoryType::free_ram && !reclaimable(from)) return Error::access_denied;
  n = PLATYPOS_TRY(prepare(n, base.value(), size, to));
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
  PLATYPOS_ASSERT(free_nodes_ != nullptr, "RangePool out of nodes (a change did not prepare() its nodes)");
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

usize RangePool::nodes_needed(const Node* n, u64 base, u64 size, MemoryType type) {
  if (n->type == type) return 0;
  return (base > n->base ? 1 : 0) + (base + size < end_of(n) ? 1 : 0);
}

Result<RangePool::Node*> RangePool::prepare(Node* n, u64 base, u64 size, MemoryType type) {
  PLATYPOS_ASSERT(n != nullptr && base >= n->base && size <= end_of(n) - base,
                  "prepare: [{:#x}, +{:#x}) not inside its node", base, size);
  if (free_count_ >= nodes_needed(n, base, size, type)) return n;
  // Too few nodes: one more page of them, from free RAM outside the range about to change (it may be free RAM
  // itself). The page's own nodes pay for tagging it, so this works with none spare, and it cannot fail after the
  // page is found. Carving the page may split n, but the range stays inside one piece of it, of the same type.
  const u64 page = PLATYPOS_TRY(find_bookkeeping_page(base, base + size));
  add_bookkeeping_page(PhysAddr(page));
  set_type(find(page), page, kPageSize, MemoryType::pool_bookkeeping);
  n = find(base);
  PLATYPOS_ASSERT(n != nullptr && size <= end_of(n) - base && free_count_ >= nodes_needed(n, base, size, type),
                  "prepare: growing the bookkeeping at {:#x} broke [{:#x}, +{:#x})", page, base, size);
  return n;
}

Result<u64> RangePool::find_bookkeeping_page(u64 avoid_base, u64 avoid_end) const {
  // The highest free page: at or above kBookkeepingMinAddr whenever there is free RAM up there.
  for (const Node* n = tail_; n != nullptr; n = n->prev) {
    if (n->type != MemoryType::free_ram) continue;
    u64 hi = end_of(n);
    if (avoid_base < hi && avoid_end > n->base) {
      // The range to avoid cuts n in two: the part above it, then the part below it.
      if (hi > avoid_end) return hi - kPageSize;
      hi = avoid_base > n->base ? avoid_base : n->base;
    }
    if (hi > n->base) return hi - kPageSize;
  }
  return Error::no_memory;
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
  return true;
}

}  // namespace platypos
