#include <platypos/base/print.hpp>
#include <platypos/mm/reservation.hpp>
#include <platypos/trace/trace.hpp>

#include <new>

namespace platypos {
namespace {
constexpr u64 pages_of(u32 order) { return u64{1} << order; }
u32 floor_log2(u64 v) { return 63 - static_cast<u32>(__builtin_clzll(v)); }
}  // namespace

MemoryReservation::~MemoryReservation() { release(); }

void MemoryReservation::give_back(Block* blocks, usize count) {
  // The block list lives in block 0: give it back last.
  for (usize i = count; i > 1; --i) {
    source_.free(blocks[i - 1].base, blocks[i - 1].order).expect("reservation block refused by its source");
  }
  if (count > 0) {
    const Block first = blocks[0];
    source_.free(first.base, first.order).expect("reservation block refused by its source");
  }
}

Result<void> MemoryReservation::reserve(PageSource source, u64 bytes) {
  if (active()) return Error::bad_state;
  if (bytes == 0 || bytes > kMaxBytes || !source.valid()) return Error::invalid_argument;
  const u64 quota = pages_for(bytes);
  // Room for this many blocks: one per page for small reservations (so even a source fragmented down to single
  // pages can serve them), 1/64 of the pages plus 256 for large ones; a source more fragmented than that makes
  // reserve() fail rather than spend unbounded bookkeeping.
  const u64 max_blocks = quota + 16 < 256 + quota / 64 ? quota + 16 : 256 + quota / 64;
  const u64 table_bytes = max_blocks * (sizeof(Block) + sizeof(BuddyAllocator::Region));
  // O bookkeeping pages hold the tables and one state byte per page taken. Pages taken <= max(total, 2^first
  // order) and the first block is smaller than 2*O pages, so quota + 2*O state bytes always suffice. Iterate to the
  // fixed point (it moves by 1/4096 of itself per step).
  u64 overhead = 0;
  for (;;) {
    const u64 next = pages_for(table_bytes + quota + 2 * overhead);
    if (next == overhead) break;
    overhead = next;
  }
  if (overhead > pages_of(BuddyAllocator::kMaxOrder)) return Error::invalid_argument;
  const u64 total = quota + overhead;

  // Block 0 must hold the bookkeeping; make it as large as the total allows.
  const u32 min_first = BuddyAllocator::order_for_pages(overhead);
  u32 first_order = floor_log2(total);
  if (first_order > BuddyAllocator::kMaxOrder) first_order = BuddyAllocator::kMaxOrder;
  if (first_order < min_first) first_order = min_first;
  Result<PhysAddr> first = source.alloc(first_order);
  while (first.is_error() && first_order > min_first) first = source.alloc(--first_order);
  if (first.is_error()) return Error::no_memory;

  source_ = source;
  const DirectMap& map = source.direct_map();
  auto* bookkeeping = map.to_virt<unsigned char>(*first);
  auto* blocks = reinterpret_cast<Block*>(bookkeeping);
  auto* regions = reinterpret_cast<BuddyAllocator::Region*>(bookkeeping + max_blocks * sizeof(Block));
  u8* states = bookkeeping + table_bytes;
  usize count = 0;
  blocks[count++] = Block{*first, first_order};
  u64 taken = pages_of(first_order);
  while (taken < total) {
    const u64 remaining = total - taken;
    u32 order = floor_log2(remaining);
    if (order > BuddyAllocator::kMaxOrder) order = BuddyAllocator::kMaxOrder;
    Result<PhysAddr> b = source.alloc(order);
    while (b.is_error() && order > 0) b = source.alloc(--order);
    if (b.is_error() || count == max_blocks) {
      if (b.has_value()) source.free(*b, order).expect("reservation block refused by its source");
      give_back(blocks, count);
      source_ = PageSource();
      return Error::no_memory;
    }
    blocks[count++] = Block{*b, order};
    taken += pages_of(order);
  }

  inner_ = new (inner_storage_) BuddyAllocator(map, std::span(regions, max_blocks));
  u8* cursor = states;
  for (usize i = 0; i < count; ++i) {
    const PageRange range = PageRange::from_pages(blocks[i].base, pages_of(blocks[i].order)).value();
    inner_->add_region(range, cursor, i == 0 ? overhead : 0).expect("reservation region");
    cursor += range.pages();
  }
  PLATYPOS_ASSERT(static_cast<u64>(cursor - bookkeeping) <= overhead * kPageSize, "reservation bookkeeping overflow");
  blocks_ = blocks;
  block_count_ = count;
  quota_pages_ = quota;
  used_pages_ = 0;
  taken_pages_ = taken;
  PLATYPOS_TRACE(reservation_reserve, bytes, taken);
  return ok();
}

void MemoryReservation::release() {
  if (!active()) return;
  PLATYPOS_TRACE(reservation_release, taken_pages_);
  inner_->~BuddyAllocator();
  inner_ = nullptr;
  give_back(blocks_, block_count_);
  blocks_ = nullptr;
  block_count_ = 0;
  quota_pages_ = used_pages_ = taken_pages_ = 0;
  source_ = PageSource();
}

Result<PhysAddr> MemoryReservation::alloc(u32 order) {
  if (!active()) return Error::bad_state;
  if (order > BuddyAllocator::kMaxOrder) return Error::invalid_argument;
  if (pages_of(order) > quota_pages_ - used_pages_) return Error::no_memory;
  const PhysAddr a = PLATYPOS_TRY(inner_->alloc(order));
  used_pages_ += pages_of(order);
  return a;
}

Result<void> MemoryReservation::free(PhysAddr addr, u32 order) {
  if (!active()) return Error::bad_state;
  PLATYPOS_TRY(inner_->free(addr, order));
  used_pages_ -= pages_of(order);
  return ok();
}

Result<PhysAddr> MemoryReservation::alloc_pages(u64 n) {
  if (n == 0 || n > pages_of(BuddyAllocator::kMaxOrder)) return Error::invalid_argument;
  return alloc(BuddyAllocator::order_for_pages(n));
}

Result<void> MemoryReservation::free_pages(PhysAddr addr, u64 n) {
  if (n == 0 || n > pages_of(BuddyAllocator::kMaxOrder)) return Error::invalid_argument;
  return free(addr, BuddyAllocator::order_for_pages(n));
}

bool MemoryReservation::check_invariants() const {
  if (!active()) return quota_pages_ == 0 && used_pages_ == 0 && block_count_ == 0;
  if (!inner_->check_invariants()) return false;
  const auto& st = inner_->stats();
  if (st.managed_pages - st.free_pages != used_pages_) {
    print("MemoryReservation invariant violated: {} pages allocated inside, {} counted\n",
          st.managed_pages - st.free_pages, used_pages_);
    return false;
  }
  if (used_pages_ > quota_pages_ || st.managed_pages < quota_pages_) {
    print("MemoryReservation invariant violated: quota {} used {} managed {}\n", quota_pages_, used_pages_,
          st.managed_pages);
    return false;
  }
  return true;
}

}  // namespace platypos
