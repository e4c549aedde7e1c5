// libFuzzer target: the RangePool built from a fuzzed boot memory map (any bases, sizes and types, including
// overlapping, unaligned, zero-length and wrapping entries), then fuzzed allocate / allocate_at / free / retag calls.
// Checks: invariants after every operation; a failed operation leaves the map exactly as it was (bookkeeping growth
// aside); a successful allocation lies inside its constraints, is aligned and tagged as asked.

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

std::vector<MemoryRange> snapshot(const RangePool& pool) {
  std::vector<MemoryRange> v;
  pool.for_each([&](const MemoryRange& r) {
    if (r.type != MemoryType::pool_bookkeeping) v.push_back(r);
  });
  return v;
}

bool same_ignoring_bookkeeping(const std::vector<MemoryRange>& a, const std::vector<MemoryRange>& b) {
  // Growth may turn one free page into bookkeeping, splitting a free range: compare free RAM totals and every
  // non-free range exactly.
  u64 fa = 0, fb = 0;
  std::vector<MemoryRange> na, nb;
  for (const auto& r : a) r.type == MemoryType::free_ram ? fa += r.size : (na.push_back(r), 0);
  for (const auto& r : b) r.type == MemoryType::free_ram ? fb += r.size : (nb.push_back(r), 0);
  if (na.size() != nb.size()) return false;
  for (size_t i = 0; i < na.size(); ++i) {
    if (na[i].base != nb[i].base || na[i].size != nb[i].size || na[i].type != nb[i].type) return false;
  }
  return fa == fb || fa == fb + kPageSize;
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
  auto init = pool.init(map);
  if (init.is_error()) {
    PLATYPOS_FUZZ_CHECK(init.error() == Error::no_memory);
    return 0;
  }
  PLATYPOS_FUZZ_CHECK(pool.check_invariants());

  int steps = 0;
  while (!in.done() && steps++ < 512) {
    const u8 op = in.byte() % 4;
    const auto before = snapshot(pool);
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
        PLATYPOS_FUZZ_CHECK(same_ignoring_bookkeeping(before, snapshot(pool)));
      }
    } else {
      const u64 base = in.byte() % 8 == 0 ? in.take<u64>() : (in.take<u32>() % (kMem / kPageSize)) * kPageSize;
      const u64 sz = in.byte() % 8 == 0 ? in.take<u64>() : (in.take<u16>() % 512) * kPageSize;
      Result<void> r = op == 1   ? pool.free(PhysAddr(base), sz)
                       : op == 2 ? pool.retag(PhysAddr(base), sz, in.byte() % 4 ? t : MemoryType::free_ram)
                                 : pool.allocate_at(PhysAddr(base), sz, t);
      if (r.is_error()) PLATYPOS_FUZZ_CHECK(same_ignoring_bookkeeping(before, snapshot(pool)));
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
