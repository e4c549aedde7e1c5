#include <platypos/mm/buddy.hpp>

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <vector>

#include "mm/buddy_fixture.hpp"
#include "mm/test_memory.hpp"
#include "test_support.hpp"

namespace platypos {
namespace {

using test::BuddyFixture;
using test::kNoRegions;
using test::TestMemory;

PageRange range(u64 base, u64 size) { return PageRange::make(PhysAddr(base), size).value(); }

TEST(Buddy, SingleRegionSplitsAndMerges) {
  BuddyFixture f(8 * MiB, kNoRegions);
  ASSERT_TRUE(f.add(4 * MiB, 4 * MiB).has_value());  // one naturally aligned order-10 block
  EXPECT_EQ(f.buddy.stats().free_pages, 1024u);
  EXPECT_EQ(f.buddy.stats().free_blocks[10], 1u);
  auto a = f.buddy.alloc(0);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(*a, PhysAddr(4 * MiB));
  // Splitting one order-10 block for an order-0 page leaves one free block at each order 0..9.
  for (u32 o = 0; o < 10; ++o) EXPECT_EQ(f.buddy.stats().free_blocks[o], 1u) << "order " << o;
  EXPECT_EQ(f.buddy.stats().splits, 10u);
  EXPECT_TRUE(f.buddy.check_invariants());
  ASSERT_TRUE(f.buddy.free(*a, 0).has_value());
  EXPECT_EQ(f.buddy.stats().free_blocks[10], 1u);
  EXPECT_EQ(f.buddy.stats().merges, 10u);
  EXPECT_TRUE(f.buddy.check_invariants());
}

TEST(Buddy, BlocksAreNaturallyAligned) {
  // Room for one block of every order up to kMaxOrder (2^14 pages: 64 MiB), starting at an odd page: the edges get
  // small blocks.
  constexpr u64 kRegion = (kPageSize << (BuddyAllocator::kMaxOrder + 1)) + 12 * MiB;
  BuddyFixture f(kRegion + 4 * MiB, kNoRegions);
  ASSERT_TRUE(f.add(0x101000, kRegion).has_value());
  EXPECT_TRUE(f.buddy.check_invariants());
  std::vector<std::pair<PhysAddr, u32>> got;
  for (u32 o = 0; o <= BuddyAllocator::kMaxOrder; ++o) {
    auto a = f.buddy.alloc(o);
    ASSERT_TRUE(a.has_value()) << "order " << o;
    EXPECT_TRUE(a->is_aligned(kPageSize << o)) << "order " << o << " at " << std::hex << a->value();
    EXPECT_TRUE(f.buddy.is_allocated(*a, o));
    got.push_back({*a, o});
  }
  for (auto [a, o] : got) ASSERT_TRUE(f.buddy.free(a, o).has_value());
  EXPECT_EQ(f.buddy.stats().free_pages, kRegion / kPageSize);
  EXPECT_TRUE(f.buddy.check_invariants());
}

TEST(Buddy, SeveralRegionsWithHoles) {
  BuddyFixture f(64 * MiB, kNoRegions);
  ASSERT_TRUE(f.add(1 * MiB, 2 * MiB).has_value());
  ASSERT_TRUE(f.add(16 * MiB, 8 * MiB).has_value());
  ASSERT_TRUE(f.add(40 * MiB, 64 * kPageSize).has_value());
  EXPECT_EQ(f.buddy.regions().size(), 3u);
  EXPECT_EQ(f.buddy.stats().free_pages, (2 * MiB + 8 * MiB) / kPageSize + 64);
  // Everything can be allocated page by page, and every page is inside a region.
  std::set<u64> pages;
  for (;;) {
    auto a = f.buddy.alloc(0);
    if (!a) {
      EXPECT_EQ(a.error(), Error::no_memory);
      break;
    }
    EXPECT_TRUE(f.buddy.contains(*a));
    EXPECT_TRUE(pages.insert(a->value()).second) << "page handed out twice";
  }
  EXPECT_EQ(pages.size(), (2 * MiB + 8 * MiB) / kPageSize + 64);
  EXPECT_EQ(f.buddy.stats().failed_allocs, 1u);
  for (u64 p : pages) ASSERT_TRUE(f.buddy.free(PhysAddr(p), 0).has_value());
  EXPECT_TRUE(f.buddy.check_invariants());
  // Merging never crosses a region boundary: the 64-page region ends as one order-6 block.
  EXPECT_EQ(f.buddy.stats().free_blocks[6], 1u);
}

TEST(Buddy, AddRegionErrors) {
  BuddyFixture f(64 * MiB, kNoRegions);
  ASSERT_TRUE(f.add(4 * MiB, 4 * MiB).has_value());
  std::vector<u8> meta(4096);
  EXPECT_EQ(f.buddy.add_region(range(6 * MiB, 4 * MiB), meta.data()).error(), Error::already_exists);
  EXPECT_EQ(f.buddy.add_region(range(2 * MiB, 4 * MiB), meta.data()).error(), Error::already_exists);
  EXPECT_EQ(f.buddy.add_region(range(16 * MiB, 4 * MiB), nullptr).error(), Error::invalid_argument);
  EXPECT_EQ(f.buddy.add_region(range(16 * MiB, kPageSize), meta.data(), 2).error(), Error::invalid_argument);
  BuddyAllocator::Region one[1];
  BuddyAllocator small(f.mem.map(), one);
  ASSERT_TRUE(small.add_region(range(0, kPageSize), meta.data()).has_value());
  EXPECT_EQ(small.add_region(range(kPageSize, kPageSize), meta.data() + 1).error(), Error::no_resources);
}

TEST(Buddy, SelfHostedRegionKeepsItsStateInside) {
  TestMemory mem(64 * MiB);
  BuddyAllocator::Region regions[2];
  BuddyAllocator b(mem.map(), regions);
  ASSERT_TRUE(b.add_region_self_hosted(range(8 * MiB, 32 * MiB)).has_value());
  // 32 MiB = 8192 pages -> 8192 state bytes = 2 pages reserved.
  EXPECT_EQ(b.stats().reserved_pages, 2u);
  EXPECT_EQ(b.stats().free_pages, 8190u);
  EXPECT_EQ(b.free(PhysAddr(8 * MiB), 0).error(), Error::not_allocated);  // bookkeeping is not allocatable
  EXPECT_TRUE(b.check_invariants());
  EXPECT_EQ(b.add_region_self_hosted(range(48 * MiB, kPageSize)).error(), Error::invalid_argument);
}

TEST(Buddy, AllocErrors) {
  BuddyFixture f(8 * MiB, kNoRegions);
  ASSERT_TRUE(f.add(0, 8 * MiB).has_value());
  EXPECT_EQ(f.buddy.alloc(BuddyAllocator::kMaxOrder + 1).error(), Error::invalid_argument);
  EXPECT_EQ(f.buddy.alloc_pages(0).error(), Error::invalid_argument);
  EXPECT_EQ(f.buddy.alloc_pages((1u << BuddyAllocator::kMaxOrder) + 1).error(), Error::invalid_argument);
  auto a = f.buddy.alloc_pages(3);  // rounds up to 4 pages
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE(f.buddy.is_allocated(*a, 2));
  EXPECT_TRUE(f.buddy.free_pages(*a, 3).has_value());
  // Exhaustion.
  ASSERT_TRUE(f.buddy.alloc(10).has_value());
  ASSERT_TRUE(f.buddy.alloc(10).has_value());
  EXPECT_EQ(f.buddy.alloc(0).error(), Error::no_memory);
}

// Every bad free returns its specific error and leaves the allocator exactly as it was.
TEST(Buddy, BadFreesChangeNothing) {
  BuddyFixture f(16 * MiB, kNoRegions);
  ASSERT_TRUE(f.add(4 * MiB, 4 * MiB).has_value());
  ASSERT_TRUE(f.add(12 * MiB, 1 * MiB).has_value());
  const PhysAddr a = f.buddy.alloc(2).value();  // 4 pages
  const PhysAddr b = f.buddy.alloc(0).value();
  const auto before = f.buddy.stats();
  struct Case {
    PhysAddr addr;
    u32 order;
    Error expected;
  };
  const Case cases[] = {
      {PhysAddr(a.value() + 1), 2, Error::misaligned},              // not page-aligned
      {a, BuddyAllocator::kMaxOrder + 1, Error::invalid_argument},  // absurd order
      {a, 1, Error::invalid_argument},                              // wrong order
      {a, 3, Error::invalid_argument},                              // order-3 aligned, but allocated as order 2
      {PhysAddr(a.value() + kPageSize), 1, Error::misaligned},      // not aligned to an order-1 block
      {PhysAddr(a.value() + kPageSize), 0, Error::not_allocated},   // inside an allocated block
      {PhysAddr(9 * MiB), 0, Error::out_of_range},                  // in the hole between regions
      {PhysAddr(64 * MiB), 0, Error::out_of_range},                 // beyond every region
      {PhysAddr(12 * MiB + 256 * kPageSize - kPageSize), 1, Error::misaligned},
      {PhysAddr(12 * MiB), 9, Error::out_of_range},  // block larger than the region
      {PhysAddr(7 * MiB), 0, Error::not_allocated},  // free memory, never allocated
  };
  ASSERT_TRUE(a.is_aligned(kPageSize << 3));  // the lowest block of the region
  for (const Case& c : cases) {
    const auto r = f.buddy.free(c.addr, c.order);
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error(), c.expected) << std::hex << c.addr.value() << " order " << std::dec << c.order;
    EXPECT_EQ(f.buddy.stats().free_pages, before.free_pages);
  }
  EXPECT_TRUE(f.buddy.check_invariants());
  ASSERT_TRUE(f.buddy.free(b, 0).has_value());
  EXPECT_EQ(f.buddy.free(b, 0).error(), Error::not_allocated);  // double free
  ASSERT_TRUE(f.buddy.free(a, 2).has_value());
  EXPECT_EQ(f.buddy.stats().free_pages, before.free_pages + 5);
  EXPECT_TRUE(f.buddy.check_invariants());
}

// Randomized differential test against a page-set model. Checks after every operation that allocations never
// overlap and sit inside regions, that free-page counts agree, and, for every failed allocation, that the model
// has no naturally aligned free run of that order either (the allocator is fully merged, so it must find one if
// it exists).
TEST(BuddyDifferential, HundredThousandRandomOps) {
  constexpr u64 kMem = 64 * MiB;
  BuddyFixture f(kMem, kNoRegions);
  struct R {
    u64 base, size;
  };
  const R regions[] = {{0x3000, 0x1fd000}, {4 * MiB, 3 * MiB + 0x5000}, {12 * MiB, 4 * MiB}, {20 * MiB, 0x13000}};
  std::set<u64> free_pages;  // page numbers
  std::set<u64> region_pages;
  for (const R& r : regions) {
    ASSERT_TRUE(f.add(r.base, r.size).has_value());
    for (u64 p = r.base / kPageSize; p < (r.base + r.size) / kPageSize; ++p) {
      free_pages.insert(p);
      region_pages.insert(p);
    }
  }
  std::map<u64, u32> live;  // first page -> order
  std::mt19937_64 rng(0x5eed0001);
  u64 ops = 0, failed = 0, bad = 0;
  auto aligned_free_run_exists = [&](u32 order) {
    const u64 n = u64{1} << order;
    for (u64 p : free_pages) {
      if (p % n != 0) continue;
      bool all = true;
      for (u64 q = p; q < p + n && all; ++q) all = free_pages.count(q) != 0;
      // The run must also lie in one region: regions here are separated by holes, so contiguity in free_pages
      // implies one region.
      if (all) return true;
    }
    return false;
  };
  for (; ops < 100'000; ++ops) {
    const u64 pick = rng() % 100;
    if (pick < 50 || live.empty()) {
      const u32 order =
          rng() % 4 == 0 ? static_cast<u32>(rng() % (BuddyAllocator::kMaxOrder + 1)) : static_cast<u32>(rng() % 3);
      auto a = f.buddy.alloc(order);
      if (!a) {
        ASSERT_EQ(a.error(), Error::no_memory);
        ASSERT_FALSE(aligned_free_run_exists(order)) << "allocator failed order " << order << " with room left";
        ++failed;
        continue;
      }
      const u64 first = a->page_number();
      ASSERT_EQ(first % (u64{1} << order), 0u);
      for (u64 p = first; p < first + (u64{1} << order); ++p) {
        ASSERT_EQ(free_pages.erase(p), 1u) << "page " << std::hex << p << " handed out while not free";
      }
      live[first] = order;
    } else if (pick < 90) {
      auto it = live.begin();
      std::advance(it, static_cast<long>(rng() % live.size()));
      ASSERT_TRUE(f.buddy.free(PhysAddr(it->first * kPageSize), it->second).has_value());
      for (u64 p = it->first; p < it->first + (u64{1} << it->second); ++p) free_pages.insert(p);
      live.erase(it);
    } else {
      // A bad free: a random page with a random order. The model predicts the exact error.
      const u64 page = rng() % (kMem / kPageSize);
      const u32 order = static_cast<u32>(rng() % 12);
      const auto before = f.buddy.stats().free_pages;
      auto r = f.buddy.free(PhysAddr(page * kPageSize), order);
      const auto it = live.find(page);
      const bool in_region = region_pages.count(page) != 0;
      Error expected;
      if (order > BuddyAllocator::kMaxOrder) {
        expected = Error::invalid_argument;
      } else if (!in_region) {
        expected = Error::out_of_range;
      } else if (page % (u64{1} << order) != 0) {
        expected = Error::misaligned;
      } else if (region_pages.count(page + (u64{1} << order) - 1) == 0) {
        expected = Error::out_of_range;
      } else if (it == live.end()) {
        expected = Error::not_allocated;
      } else if (it->second != order) {
        expected = Error::invalid_argument;
      } else {
        // A correct free by chance: apply it to the model too.
        ASSERT_TRUE(r.has_value());
        for (u64 p = page; p < page + (u64{1} << order); ++p) free_pages.insert(p);
        live.erase(it);
        continue;
      }
      ASSERT_TRUE(r.is_error()) << "bad free accepted";
      ASSERT_EQ(r.error(), expected) << "page " << std::hex << page << " order " << std::dec << order;
      ASSERT_EQ(f.buddy.stats().free_pages, before);
      ++bad;
    }
    ASSERT_EQ(f.buddy.stats().free_pages, free_pages.size());
    if (ops % 5000 == 0) {
      ASSERT_TRUE(f.buddy.check_invariants()) << "after op " << ops;
    }
  }
  for (auto [first, order] : live) ASSERT_TRUE(f.buddy.free(PhysAddr(first * kPageSize), order).has_value());
  EXPECT_TRUE(f.buddy.check_invariants());
  EXPECT_EQ(f.buddy.stats().free_pages, region_pages.size());
  EXPECT_GT(failed, 100u) << "the test should drive the allocator into exhaustion regularly";
  EXPECT_GT(bad, 5000u);
}

}  // namespace
}  // namespace platypos
