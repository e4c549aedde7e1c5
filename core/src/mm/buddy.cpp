#include <platypos/base/print.hpp>
#include <platypos/mm/buddy.hpp>
#include <platypos/trace/trace.hpp>

namespace platypos {
namespace {
constexpr u64 pages_of(u32 order) { return u64{1} << order; }
}  // namespace

BuddyAllocator::BuddyAllocator(DirectMap map, std::span<Region> regions) : map_(map), regions_(regions) {
  for (FreeBlock& h : heads_) h.next = h.prev = &h;
}

const BuddyAllocator::Region* BuddyAllocator::find_region(u64 pfn) const {
  // Regions are sorted by base: binary search for the last region starting at or below pfn.
  usize lo = 0;
  usize hi = region_count_;
  while (lo < hi) {
    const usize mid = (lo + hi) / 2;
    if (regions_[mid].base_pfn <= pfn) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == 0) return nullptr;
  const Region& r = regions_[lo - 1];
  return pfn - r.base_pfn < r.pages ? &r : nullptr;
}

void BuddyAllocator::push_free(const Region& r, u64 pfn, u32 order) {
  r.state[pfn - r.base_pfn] = make_state(kFree, order);
  FreeBlock* b = block_at(pfn);
  FreeBlock& head = heads_[order];
  b->next = head.next;
  b->prev = &head;
  head.next->prev = b;
  head.next = b;
  ++stats_.free_blocks[order];
  stats_.free_pages += pages_of(order);
}

void BuddyAllocator::remove_free(u64 pfn, u32 order) {
  FreeBlock* b = block_at(pfn);
  b->prev->next = b->next;
  b->next->prev = b->prev;
  --stats_.free_blocks[order];
  stats_.free_pages -= pages_of(order);
}

void BuddyAllocator::free_span(const Region& r, u64 pfn, u64 end) {
  while (pfn < end) {
    u32 order = kMaxOrder;
    while (order > 0 && ((pfn & (pages_of(order) - 1)) != 0 || pages_of(order) > end - pfn)) --order;
    push_free(r, pfn, order);
    pfn += pages_of(order);
  }
}

Result<void> BuddyAllocator::add_region(PageRange range, u8* metadata, u64 reserved_pages) {
  if (metadata == nullptr || reserved_pages > range.pages()) return Error::invalid_argument;
  const u64 base = range.base().page_number();
  const u64 end = base + range.pages();
  usize pos = 0;
  while (pos < region_count_ && regions_[pos].base_pfn < base) ++pos;
  if (pos > 0 && regions_[pos - 1].base_pfn + regions_[pos - 1].pages > base) return Error::already_exists;
  if (pos < region_count_ && regions_[pos].base_pfn < end) return Error::already_exists;
  if (region_count_ == regions_.size()) return Error::no_resources;

  for (usize i = region_count_; i > pos; --i) regions_[i] = regions_[i - 1];
  regions_[pos] = Region{base, range.pages(), metadata};
  ++region_count_;
  const Region& r = regions_[pos];
  for (u64 i = 0; i < r.pages; ++i) r.state[i] = 0;
  for (u64 i = 0; i < reserved_pages; ++i) r.state[i] = make_state(kReserved, 0);
  stats_.reserved_pages += reserved_pages;
  stats_.managed_pages += r.pages - reserved_pages;
  free_span(r, base + reserved_pages, end);
  return ok();
}

Result<void> BuddyAllocator::add_region_self_hosted(PageRange range) {
  const u64 meta_pages = pages_for(metadata_bytes(range.size_bytes()));
  if (meta_pages + 1 > range.pages()) return Error::invalid_argument;
  return add_region(range, map_.to_virt<u8>(range.base()), meta_pages);
}

Result<PhysAddr> BuddyAllocator::alloc(u32 order) {
  if (order > kMaxOrder) return Error::invalid_argument;
  u32 j = order;
  while (j <= kMaxOrder && heads_[j].next == &heads_[j]) ++j;
  if (j > kMaxOrder) {
    ++stats_.failed_allocs;
    PLATYPOS_TRACE(buddy_alloc_failed, order);
    return Error::no_memory;
  }
  const u64 pfn = pfn_of(heads_[j].next);
  remove_free(pfn, j);
  const Region* r = find_region(pfn);
  PLATYPOS_ASSERT(r != nullptr, "free block {:#x} outside every region", pfn << kPageShift);
  // Split: keep the lower half, free the upper half, until the block has the requested order.
  while (j > order) {
    --j;
    push_free(*r, pfn + pages_of(j), j);
    ++stats_.splits;
  }
  r->state[pfn - r->base_pfn] = make_state(kAllocated, order);
  ++stats_.allocs;
  PLATYPOS_TRACE(buddy_alloc, pfn << kPageShift, order);
  return PhysAddr(pfn << kPageShift);
}

Result<PhysAddr> BuddyAllocator::alloc_pages(u64 n) {
  if (n == 0 || n > pages_of(kMaxOrder)) return Error::invalid_argument;
  return alloc(order_for_pages(n));
}

Result<void> BuddyAllocator::free(PhysAddr addr, u32 order) {
  if (!addr.is_page_aligned()) return Error::misaligned;
  if (order > kMaxOrder) return Error::invalid_argument;
  u64 pfn = addr.page_number();
  const Region* r = find_region(pfn);
  if (r == nullptr) return Error::out_of_range;
  if ((pfn & (pages_of(order) - 1)) != 0) return Error::misaligned;
  if (pages_of(order) > r->base_pfn + r->pages - pfn) return Error::out_of_range;
  const u8 s = r->state[pfn - r->base_pfn];
  if (kind_of(s) != kAllocated) return Error::not_allocated;
  if (order_of(s) != order) return Error::invalid_argument;
  PLATYPOS_TRACE(buddy_free, addr.value(), order);

  r->state[pfn - r->base_pfn] = 0;
  while (order < kMaxOrder) {
    const u64 buddy = pfn ^ pages_of(order);
    if (buddy < r->base_pfn || buddy - r->base_pfn >= r->pages) break;
    const u8 bs = r->state[buddy - r->base_pfn];
    if (bs != make_state(kFree, order)) break;
    remove_free(buddy, order);
    r->state[buddy - r->base_pfn] = 0;
    pfn = pfn < buddy ? pfn : buddy;
    ++order;
    ++stats_.merges;
  }
  push_free(*r, pfn, order);
  ++stats_.frees;
  return ok();
}

Result<void> BuddyAllocator::free_pages(PhysAddr addr, u64 n) {
  if (n == 0 || n > pages_of(kMaxOrder)) return Error::invalid_argument;
  return free(addr, order_for_pages(n));
}

bool BuddyAllocator::is_allocated(PhysAddr addr, u32 order) const {
  if (!addr.is_page_aligned() || order > kMaxOrder) return false;
  const Region* r = find_region(addr.page_number());
  return r != nullptr && r->state[addr.page_number() - r->base_pfn] == make_state(kAllocated, order);
}

bool BuddyAllocator::check_invariants() const {
  auto fail = [](const char* what, u64 a, u64 b) {
    print("BuddyAllocator invariant violated: {} ({:#x}, {:#x})\n", what, a, b);
    return false;
  };
  Stats counted;
  for (usize i = 0; i < region_count_; ++i) {
    const Region& r = regions_[i];
    if (r.pages == 0 || r.state == nullptr) return fail("empty region", r.base_pfn, r.pages);
    if (i > 0 && regions_[i - 1].base_pfn + regions_[i - 1].pages > r.base_pfn) {
      return fail("regions overlap or unsorted", regions_[i - 1].base_pfn, r.base_pfn);
    }
    u64 off = 0;
    while (off < r.pages) {
      const u64 pfn = r.base_pfn + off;
      const u8 s = r.state[off];
      const Kind k = kind_of(s);
      const u32 order = order_of(s);
      if (k == kTail) return fail("page belongs to no block", pfn << kPageShift, s);
      if (order > kMaxOrder) return fail("bad order", pfn << kPageShift, order);
      if ((pfn & (pages_of(order) - 1)) != 0) return fail("block not naturally aligned", pfn << kPageShift, order);
      if (pages_of(order) > r.pages - off) return fail("block past region end", pfn << kPageShift, order);
      for (u64 t = 1; t < pages_of(order); ++t) {
        if (r.state[off + t] != 0) return fail("head inside a block", (pfn + t) << kPageShift, order);
      }
      if (k == kFree) {
        ++counted.free_blocks[order];
        counted.free_pages += pages_of(order);
        const u64 buddy = pfn ^ pages_of(order);
        if (order < kMaxOrder && buddy >= r.base_pfn && buddy - r.base_pfn < r.pages &&
            r.state[buddy - r.base_pfn] == make_state(kFree, order)) {
          return fail("free buddies not merged", pfn << kPageShift, buddy << kPageShift);
        }
      } else if (k == kReserved) {
        counted.reserved_pages += pages_of(order);
      }
      off += pages_of(order);
    }
    counted.managed_pages += r.pages;
  }
  counted.managed_pages -= counted.reserved_pages;
  for (u32 o = 0; o < kOrders; ++o) {
    u64 n = 0;
    const FreeBlock* head = &heads_[o];
    for (const FreeBlock* b = head->next; b != head; b = b->next) {
      if (b->next->prev != b) return fail("broken free list link", o, n);
      const u64 pfn = pfn_of(b);
      const Region* r = find_region(pfn);
      if (r == nullptr || r->state[pfn - r->base_pfn] != make_state(kFree, o)) {
        return fail("free list entry is not a free block of its order", pfn << kPageShift, o);
      }
      if (++n > counted.free_blocks[o]) return fail("free list longer than the free blocks", o, n);
    }
    if (n != counted.free_blocks[o]) return fail("free block missing from its list", o, n);
    if (n != stats_.free_blocks[o]) return fail("free block count mismatch", o, stats_.free_blocks[o]);
  }
  if (counted.free_pages != stats_.free_pages)
    return fail("free pages mismatch", counted.free_pages, stats_.free_pages);
  if (counted.managed_pages != stats_.managed_pages || counted.reserved_pages != stats_.reserved_pages) {
    return fail("managed/reserved pages mismatch", counted.managed_pages, stats_.managed_pages);
  }
  return true;
}

}  // namespace platypos
