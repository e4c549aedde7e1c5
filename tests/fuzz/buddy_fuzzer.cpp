// libFuzzer target: the buddy allocator driven by a byte stream of operations. Up to 4 regions (random sizes and
// page offsets, with holes), then allocs, frees, and bad frees at random addresses and orders. Checks: allocations
// are naturally aligned, inside regions and never overlap (a page bitmap); bad frees fail and change nothing;
// invariants hold; freeing everything restores every page.

#include <platypos/mm/buddy.hpp>

#include <sys/mman.h>

#include <vector>

#include "fuzz_input.hpp"

using namespace platypos;

namespace {
constexpr u64 kMem = 64 * MiB;
constexpr u64 kPages = kMem / kPageSize;

std::byte* memory() {
  static std::byte* m = static_cast<std::byte*>(
      mmap(nullptr, kMem, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  return m;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const u8* data, size_t size) {
  fuzz::Input in(data, size);
  BuddyAllocator::Region regions[4];
  BuddyAllocator buddy(DirectMap(reinterpret_cast<uptr>(memory())), regions);
  static std::vector<u8> meta(kPages);
  std::vector<bool> region_page(kPages), used(kPages);

  const int nregions = 1 + in.byte() % 4;
  for (int i = 0; i < nregions; ++i) {
    const u64 base = in.take<u16>() % kPages;
    u64 pages = 1 + in.take<u16>() % 4096;
    if (base + pages > kPages) pages = kPages - base;
    const u64 reserved = in.byte() % 4 == 0 ? in.byte() % 4 : 0;
    auto r = buddy.add_region(PageRange::from_pages(PhysAddr(base * kPageSize), pages).value(), meta.data() + base,
                              reserved);
    if (r.is_error()) {
      PLATYPOS_FUZZ_CHECK(r.error() == Error::already_exists || r.error() == Error::invalid_argument);
      continue;
    }
    for (u64 p = base; p < base + pages; ++p) region_page[p] = true;
    for (u64 p = base; p < base + reserved; ++p) used[p] = true;
  }
  PLATYPOS_FUZZ_CHECK(buddy.check_invariants());
  const u64 free0 = buddy.stats().free_pages;

  struct Block {
    u64 page;
    u32 order;
  };
  std::vector<Block> live;
  int steps = 0;
  while (!in.done() && steps++ < 4096) {
    const u8 op = in.byte();
    if (op % 3 == 0) {
      const u32 order = in.byte() % 12;
      auto a = buddy.alloc(order);
      if (order > BuddyAllocator::kMaxOrder) {
        PLATYPOS_FUZZ_CHECK(a.is_error() && a.error() == Error::invalid_argument);
        continue;
      }
      if (a.is_error()) {
        PLATYPOS_FUZZ_CHECK(a.error() == Error::no_memory);
        continue;
      }
      const u64 p = a->page_number();
      PLATYPOS_FUZZ_CHECK(p % (u64{1} << order) == 0);
      for (u64 q = p; q < p + (u64{1} << order); ++q) {
        PLATYPOS_FUZZ_CHECK(q < kPages && region_page[q] && !used[q]);
        used[q] = true;
      }
      live.push_back({p, order});
    } else if (op % 3 == 1 && !live.empty()) {
      const size_t i = in.take<u16>() % live.size();
      PLATYPOS_FUZZ_CHECK(buddy.free(PhysAddr(live[i].page * kPageSize), live[i].order).has_value());
      for (u64 q = live[i].page; q < live[i].page + (u64{1} << live[i].order); ++q) used[q] = false;
      live[i] = live.back();
      live.pop_back();
    } else {
      // Bad input: any address, any order. Unless it names a live block exactly, it must fail and change nothing.
      const u64 addr = in.take<u32>() % (kMem + kMem / 2);
      const u32 order = in.byte() % 12;
      const auto before = buddy.stats();
      bool exact = false;
      size_t idx = 0;
      for (size_t i = 0; i < live.size(); ++i) {
        if (live[i].page * kPageSize == addr && live[i].order == order) exact = true, idx = i;
      }
      auto r = buddy.free(PhysAddr(addr), order);
      if (exact) {
        PLATYPOS_FUZZ_CHECK(r.has_value());
        for (u64 q = live[idx].page; q < live[idx].page + (u64{1} << order); ++q) used[q] = false;
        live[idx] = live.back();
        live.pop_back();
      } else {
        PLATYPOS_FUZZ_CHECK(r.is_error());
        PLATYPOS_FUZZ_CHECK(buddy.stats().free_pages == before.free_pages);
        PLATYPOS_FUZZ_CHECK(buddy.stats().frees == before.frees);
      }
    }
    if (steps % 64 == 0) PLATYPOS_FUZZ_CHECK(buddy.check_invariants());
  }
  PLATYPOS_FUZZ_CHECK(buddy.check_invariants());
  for (const Block& b : live) PLATYPOS_FUZZ_CHECK(buddy.free(PhysAddr(b.page * kPageSize), b.order).has_value());
  PLATYPOS_FUZZ_CHECK(buddy.stats().free_pages == free0);
  PLATYPOS_FUZZ_CHECK(buddy.check_invariants());
  return 0;
}
