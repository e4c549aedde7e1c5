// libFuzzer target: the RangePool built from a fuzzed boot memory map (any bases, sizes and types, including
// overlapping, unaligned, zero-length and wrapping entries), then fuzzed allocate / allocate_at / free / retag calls.
// Checks: invariants after every operation; a failed operation (init, allocate, allocate_at, free, retag,
// hand_over_free_ram) leaves the pool exactly as it was: every range, bookkeeping included, the spare node count and
// the bookkeeping page count; a successful allocation lies inside its constraints, is aligned and tagged as asked.

#include <platypos/mm/range_pool.hpp>

#include <sys/mman.h>

#include <vector>

#include "fuzz_input.hpp"

using namespace platypos;

namespace {
constexpr u64 kMem = 64 * MiB;  // bookkeeping pages must land in here: free RAM is confined to it

std::byte* memory() {
  static std::byte* m = static_cast<std::byte*>(
      mmap(nullptr, kMem, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  return m;
}

MemoryType firmware_type(u8 b) { return static_cast<MemoryType>(b % 8); }
MemoryType alloc_type(u8 b) { return static_cast<MemoryType>(16 + b % 8); }  // includes 23: not a type

// Everything a caller can observe of the pool.
struct Snapshot {
  std::vector<MemoryRange> ranges;
  usize range_count;
  usize free_nodes;
  u64 bookkeeping_pages;
  bool initialized;
};

Snapshot snapshot(const RangePool& pool) {
  Snapshot s{{}, pool.range_count(), pool.free_node_count(), pool.bookkeeping_pages(), pool.initialized()};
  pool.for_each([&](const MemoryRange& r) { s.ranges.push_back(r); });
  return s;
}

bool same(const Snapshot& a, const Snapshot& b) {
  if (a.range_count != b.range_count || a.free_nodes != b.free_nodes || a.bookkeeping_pages != b.bookkeeping_pages ||
      a.initialized != b.initialized || a.ranges.size() != b.ranges.size()) {
    return false;
  }
  for (size_t i = 0; i < a.ranges.size(); ++i) {
    const MemoryRange& x = a.ranges[i];
    const MemoryRange& y = b.ranges[i];
    if (x.base != y.base || x.size != y.size || x.type != y.type) return false;
  }
  return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const u8* data, size_t size) {
  fuzz::Input in(data, size);
  std::vector<MemoryRange> map;
  const int n = in.byte() % 40;
  for (int i = 0; i < n; ++i) {
    const u8 kind = in.byte();
    u64 base = in.take<u64>();
    u64 len = in.take<u64>();
    const MemoryType t = firmware_type(in.byte());
    if (kind % 4 != 0) {  // mostly within the backed window, so free RAM is usable
      base %= kMem;
      len %= kMem;
    } else if (t == MemoryType::free_ram) {
      continue;  // free RAM must stay inside the memory this test can write bookkeeping into
    }
    if (t == MemoryType::free_ram && base + len > kMem) len = kMem - base;
    map.push_back({base, len, t});
  }
  RangePool pool(DirectMap(reinterpret_cast<uptr>(memory())));
  const Snapshot empty = snapshot(pool);
  auto init = pool.init(map);
  if (init.is_error()) {
    PLATYPOS_FUZZ_CHECK(init.error() == Error::no_memory);
    PLATYPOS_FUZZ_CHECK(same(empty, snapshot(pool)));
    // Everything else fails before init, changing nothing.
    PLATYPOS_FUZZ_CHECK(pool.allocate(MemoryType::allocated, kPageSize).error() == Error::bad_state);
    PLATYPOS_FUZZ_CHECK(pool.free(PhysAddr(0), kPageSize).error() == Error::bad_state);
    PLATYPOS_FUZZ_CHECK(pool.allocate_at(PhysAddr(0), kPageSize, MemoryType::allocated).error() == Error::bad_state);
    PLATYPOS_FUZZ_CHECK(pool.retag(PhysAddr(0), kPageSize, MemoryType::free_ram).error() == Error::bad_state);
    PLATYPOS_FUZZ_CHECK(same(empty, snapshot(pool)));
    return 0;
  }
  PLATYPOS_FUZZ_CHECK(pool.check_invariants());
  {
    const Snapshot before = snapshot(pool);
    PLATYPOS_FUZZ_CHECK(pool.init(map).error() == Error::bad_state);
    PLATYPOS_FUZZ_CHECK(same(before, snapshot(pool)));
  }

  int steps = 0;
  while (!in.done() && steps++ < 512) {
    const u8 op = in.byte() % 5;
    const Snapshot before = snapshot(pool);
    const MemoryType t = alloc_type(in.byte());
    if (op == 0) {
      const u64 sz = in.take<u32>() % (2 * MiB);
      const u64 align = u64{1} << (in.byte() % 24);
      const u64 max_addr = in.byte() % 2 ? in.take<u32>() % kMem : ~u64{0};
      const u64 min_addr = in.byte() % 2 ? in.take<u32>() % kMem : 0;
      const u64 before_t = pool.total_bytes(t);
      auto r = pool.allocate(t, sz, align, max_addr, min_addr);
      if (r.has_value()) {
        const u64 rounded = (sz + kPageSize - 1) & ~(kPageSize - 1);
        PLATYPOS_FUZZ_CHECK(r->value() >= min_addr);
        PLATYPOS_FUZZ_CHECK(max_addr == ~u64{0} || r->value() + rounded - 1 <= max_addr);
        PLATYPOS_FUZZ_CHECK(r->is_aligned(align < kPageSize ? kPageSize : align));
        PLATYPOS_FUZZ_CHECK(pool.total_bytes(t) == before_t + rounded);
      } else {
        PLATYPOS_FUZZ_CHECK(same(before, snapshot(pool)));
      }
    } else if (op == 4) {
      // hand_over_free_ram to a type it refuses: nothing handed over, nothing changed.
      const MemoryType to = in.byte() % 2 ? firmware_type(in.byte()) : MemoryType::pool_bookkeeping;
      auto r = pool.hand_over_free_ram(to, [](PageRange) { PLATYPOS_FUZZ_CHECK(false); });
      PLATYPOS_FUZZ_CHECK(r.is_error() && r.error() == Error::invalid_argument);
      PLATYPOS_FUZZ_CHECK(same(before, snapshot(pool)));
    } else {
      const u64 base = in.byte() % 8 == 0 ? in.take<u64>() : (in.take<u32>() % (kMem / kPageSize)) * kPageSize;
      const u64 sz = in.byte() % 8 == 0 ? in.take<u64>() : (in.take<u16>() % 512) * kPageSize;
      Result<void> r = op == 1   ? pool.free(PhysAddr(base), sz)
                       : op == 2 ? pool.retag(PhysAddr(base), sz, in.byte() % 4 ? t : MemoryType::free_ram)
                                 : pool.allocate_at(PhysAddr(base), sz, t);
      if (r.is_error()) PLATYPOS_FUZZ_CHECK(same(before, snapshot(pool)));
    }
    PLATYPOS_FUZZ_CHECK(pool.check_invariants());
  }
  // Hand-over at the end: every free byte is reported once, in order.
  const u64 free_before = pool.total_bytes(MemoryType::free_ram);
  u64 handed = 0, last_end = 0;
  auto total = pool.hand_over_free_ram(MemoryType::buddy, [&](PageRange r) {
    PLATYPOS_FUZZ_CHECK(r.base().value() >= last_end);
    last_end = r.last() + 1;
    handed += r.size_bytes();
  });
  PLATYPOS_FUZZ_CHECK(total.has_value() && *total == free_before && handed == free_before);
  PLATYPOS_FUZZ_CHECK(pool.total_bytes(MemoryType::free_ram) == 0);
  PLATYPOS_FUZZ_CHECK(pool.check_invariants());
  return 0;
}
