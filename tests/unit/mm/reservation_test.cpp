#include <platypos/mm/reservation.hpp>
#include <platypos/mm/slab.hpp>

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <vector>

#include "mm/buddy_fixture.hpp"
#include "test_support.hpp"

namespace platypos {
namespace {

TEST(MemoryReservation, TakesEverythingUpFrontAndGivesItAllBack) {
  test::BuddyFixture m(64 * MiB);
  const u64 free0 = m.buddy.stats().free_pages;
  MemoryReservation r;
  ASSERT_TRUE(r.reserve(m.source(), 10 * MiB + 1).has_value());
  EXPECT_EQ(r.capacity_bytes(), 10 * MiB + kPageSize);
  EXPECT_EQ(m.buddy.stats().free_pages, free0 - r.taken_pages());
  // Bookkeeping is small: 1 byte per page plus the block tables.
  EXPECT_LT(r.taken_pages() - r.capacity_bytes() / kPageSize, 16u);
  EXPECT_TRUE(r.check_invariants());
  // Every quota page can be allocated, one by one, and not one more.
  std::vector<PhysAddr> got;
  for (u64 i = 0; i < r.capacity_bytes() / kPageSize; ++i) {
    auto a = r.alloc(0);
    ASSERT_TRUE(a.has_value()) << "page " << i << " of the quota refused";
    got.push_back(*a);
  }
  EXPECT_EQ(r.alloc(0).error(), Error::no_memory);
  EXPECT_EQ(r.available_bytes(), 0u);
  EXPECT_TRUE(r.check_invariants());
  // The machine's allocator is untouched by all that.
  EXPECT_EQ(m.buddy.stats().free_pages, free0 - r.taken_pages());
  // Release with everything still allocated inside.
  r.release();
  EXPECT_FALSE(r.active());
  EXPECT_EQ(m.buddy.stats().free_pages, free0);
  EXPECT_TRUE(m.buddy.check_invariants());
}

TEST(MemoryReservation, AllOrNothing) {
  test::BuddyFixture m(16 * MiB);
  const u64 free0 = m.buddy.stats().free_pages;
  MemoryReservation big;
  EXPECT_EQ(big.reserve(m.source(), 17 * MiB).error(), Error::no_memory);
  EXPECT_EQ(m.buddy.stats().free_pages, free0);
  EXPECT_FALSE(big.active());
  // Fragment the machine: every other page taken. A reservation needing more than what is left fails whole.
  std::vector<PhysAddr> held;
  for (;;) {
    auto a = m.buddy.alloc(0);
    if (!a) break;
    held.push_back(*a);
  }
  for (usize i = 0; i < held.size(); i += 2) ASSERT_TRUE(m.buddy.free(held[i], 0).has_value());
  const u64 free_frag = m.buddy.stats().free_pages;
  MemoryReservation frag;
  EXPECT_EQ(frag.reserve(m.source(), 12 * MiB).error(), Error::no_memory);
  EXPECT_EQ(m.buddy.stats().free_pages, free_frag);
  // A small one works even from single pages.
  ASSERT_TRUE(frag.reserve(m.source(), 64 * kPageSize).has_value());
  EXPECT_GT(frag.block_count(), 60u);
  for (int i = 0; i < 64; ++i) ASSERT_TRUE(frag.alloc(0).has_value());
  frag.release();
  EXPECT_EQ(m.buddy.stats().free_pages, free_frag);
  for (usize i = 1; i < held.size(); i += 2) ASSERT_TRUE(m.buddy.free(held[i], 0).has_value());
  EXPECT_EQ(m.buddy.stats().free_pages, free0);
}

TEST(MemoryReservation, Errors) {
  test::BuddyFixture m(16 * MiB);
  MemoryReservation r;
  EXPECT_EQ(r.alloc(0).error(), Error::bad_state);
  EXPECT_EQ(r.reserve(m.source(), 0).error(), Error::invalid_argument);
  EXPECT_EQ(r.reserve(m.source(), MemoryReservation::kMaxBytes + 1).error(), Error::invalid_argument);
  ASSERT_TRUE(r.reserve(m.source(), 1 * MiB).has_value());
  EXPECT_EQ(r.reserve(m.source(), 1 * MiB).error(), Error::bad_state);
  EXPECT_EQ(r.alloc(BuddyAllocator::kMaxOrder + 1).error(), Error::invalid_argument);
  EXPECT_EQ(r.alloc(9).error(), Error::no_memory);  // 2 MiB > the 1 MiB quota
  const PhysAddr a = r.alloc(2).value();
  EXPECT_EQ(r.free(a, 1).error(), Error::invalid_argument);
  EXPECT_EQ(r.free(PhysAddr(a.value() + 1), 2).error(), Error::misaligned);
  ASSERT_TRUE(r.free(a, 2).has_value());
  EXPECT_EQ(r.free(a, 2).error(), Error::not_allocated);
  // Memory outside the reservation (another region of the machine) is not the reservation's.
  const PhysAddr outside = m.buddy.alloc(0).value();
  EXPECT_EQ(r.free(outside, 0).error(), Error::out_of_range);
  EXPECT_TRUE(r.check_invariants());
}

TEST(MemoryReservation, ProcessSlabOnItsOwnReservation) {
  test::BuddyFixture m(16 * MiB);
  MemoryReservation r;
  ASSERT_TRUE(r.reserve(m.source(), 64 * kPageSize).has_value());
  SlabCache cache("process objects", 128, 16, r.page_source());
  std::vector<void*> objs;
  for (;;) {
    auto o = cache.alloc();
    if (!o) {
      EXPECT_EQ(o.error(), Error::no_memory);
      break;
    }
    objs.push_back(*o);
  }
  // 64 pages of quota, about 30 objects per page: the process ran out of its own memory, not the machine's.
  EXPECT_EQ(objs.size(), 64 * cache.stats().objects_per_slab);
  EXPECT_GT(m.buddy.stats().free_pages, 3000u);
  for (void* o : objs) ASSERT_TRUE(cache.free(o).has_value());
  cache.reclaim();
  EXPECT_EQ(r.used_bytes(), 0u);
}

// Several reservations come and go at random on one machine, each allocating and freeing inside; failed reserves
// must leave the machine untouched, and at the end everything is back.
TEST(MemoryReservationDifferential, HundredThousandRandomOps) {
  test::BuddyFixture m(128 * MiB);
  const u64 free0 = m.buddy.stats().free_pages;
  std::mt19937_64 rng(0x5eed0004);
  constexpr int kSlots = 6;
  MemoryReservation res[kSlots];
  std::map<u64, u32> live[kSlots];
  std::set<u64> all_pages;  // pages allocated inside any reservation: never handed out twice
  u64 failed_reserves = 0, quota_hits = 0;
  for (u64 op = 0; op < 100'000; ++op) {
    const int s = static_cast<int>(rng() % kSlots);
    MemoryReservation& r = res[s];
    const u64 pick = rng() % 1000;
    if (!r.active() || pick < 3) {
      if (r.active()) {
        for (auto [p, o] : live[s])
          for (u64 q = p; q < p + (u64{1} << o); ++q) all_pages.erase(q);
        live[s].clear();
        r.release();
      }
      const u64 bytes = (1 + rng() % 48) * MiB - rng() % 4096;
      const u64 before = m.buddy.stats().free_pages;
      auto ok = r.reserve(m.source(), bytes);
      if (!ok) {
        ASSERT_EQ(ok.error(), Error::no_memory);
        ASSERT_EQ(m.buddy.stats().free_pages, before) << "failed reserve kept pages";
        ++failed_reserves;
      } else {
        ASSERT_EQ(m.buddy.stats().free_pages, before - r.taken_pages());
      }
      continue;
    }
    if (pick < 550 || live[s].empty()) {
      const u32 order = rng() % 8 == 0 ? static_cast<u32>(rng() % 6) : 0;
      auto a = r.alloc(order);
      if (!a) {
        ASSERT_EQ(a.error(), Error::no_memory);
        if (order == 0) {
          ASSERT_EQ(r.available_bytes(), 0u) << "page refused with quota left";
        }
        ++quota_hits;
        continue;
      }
      for (u64 q = a->page_number(); q < a->page_number() + (u64{1} << order); ++q) {
        ASSERT_TRUE(all_pages.insert(q).second) << "page allocated twice";
      }
      live[s][a->page_number()] = order;
    } else {
      auto it = live[s].begin();
      std::advance(it, static_cast<long>(rng() % live[s].size()));
      ASSERT_TRUE(r.free(PhysAddr(it->first * kPageSize), it->second).has_value());
      for (u64 q = it->first; q < it->first + (u64{1} << it->second); ++q) all_pages.erase(q);
      live[s].erase(it);
    }
    if (op % 9973 == 0) {
      for (auto& x : res) ASSERT_TRUE(x.check_invariants());
      ASSERT_TRUE(m.buddy.check_invariants());
    }
  }
  for (auto& x : res) x.release();
  EXPECT_EQ(m.buddy.stats().free_pages, free0);
  EXPECT_TRUE(m.buddy.check_invariants());
  EXPECT_GT(failed_reserves, 0u);
  EXPECT_GT(quota_hits, 0u);
}

}  // namespace
}  // namespace platypos
