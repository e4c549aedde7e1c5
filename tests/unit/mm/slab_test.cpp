#include <platypos/mm/kernel_heap.hpp>
#include <platypos/mm/slab.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "mm/buddy_fixture.hpp"
#include "test_support.hpp"

namespace platypos {
namespace {

TEST(Slab, GeometryAndSlabReuse) {
  test::BuddyFixture pages(4 * MiB);
  const u64 free0 = pages.buddy.stats().free_pages;
  {
    SlabCache cache("obj64", 64, 64, pages.source());
    EXPECT_EQ(cache.stats().slab_order, 0u);
    EXPECT_GE(cache.stats().objects_per_slab, 60u);  // a page minus the header
    std::vector<void*> objs;
    for (usize i = 0; i < cache.stats().objects_per_slab + 1; ++i) {
      void* p = cache.alloc().value();
      EXPECT_EQ(reinterpret_cast<uptr>(p) % 64, 0u);
      objs.push_back(p);
    }
    EXPECT_EQ(cache.stats().slabs, 2u);
    EXPECT_EQ(cache.stats().full_slabs, 1u);
    EXPECT_EQ(cache.stats().partial_slabs, 1u);
    EXPECT_EQ(pages.buddy.stats().free_pages, free0 - 2);
    EXPECT_TRUE(cache.check_invariants());
    for (void* p : objs) ASSERT_TRUE(cache.free(p).has_value());
    // One empty slab is kept for churn, the other went back.
    EXPECT_EQ(cache.stats().slabs, 1u);
    EXPECT_EQ(cache.stats().empty_slabs, 1u);
    EXPECT_EQ(pages.buddy.stats().free_pages, free0 - 1);
    EXPECT_TRUE(cache.check_invariants());
  }
  // The destructor returned everything.
  EXPECT_EQ(pages.buddy.stats().free_pages, free0);
  EXPECT_TRUE(pages.buddy.check_invariants());
}

TEST(Slab, LargeObjectsUseLargerSlabs) {
  test::BuddyFixture pages(4 * MiB);
  SlabCache cache("obj1500", 1500, 8, pages.source());
  EXPECT_GE(cache.stats().objects_per_slab, 8u);
  EXPECT_EQ(cache.stats().slab_order, 2u);  // 16 KiB holds 10
  void* p = cache.alloc().value();
  void* q = cache.alloc().value();
  EXPECT_GE(static_cast<char*>(q) - static_cast<char*>(p), 1500);
  ASSERT_TRUE(cache.free(q).has_value());
  ASSERT_TRUE(cache.free(p).has_value());
  EXPECT_TRUE(cache.check_invariants());
}

TEST(Slab, BadFreesAreRejectedAndChangeNothing) {
  test::BuddyFixture pages(4 * MiB);
  SlabCache a("a", 48, 16, pages.source());
  SlabCache b("b", 48, 16, pages.source());
  void* x = a.alloc().value();
  void* y = a.alloc().value();
  void* z = b.alloc().value();
  const auto before = a.stats();
  EXPECT_EQ(a.free(nullptr).error(), Error::invalid_argument);
  EXPECT_EQ(a.free(z).error(), Error::invalid_argument);                    // another cache's object
  EXPECT_EQ(a.free(static_cast<char*>(x) + 8).error(), Error::misaligned);  // inside an object
  ASSERT_TRUE(a.free(y).has_value());
  EXPECT_EQ(a.free(y).error(), Error::not_allocated);  // double free
  EXPECT_EQ(a.stats().live_objects, before.live_objects - 1);
  // A page that is not a slab at all (allocated straight from the buddy allocator, zeroed).
  const PhysAddr raw = pages.buddy.alloc(0).value();
  auto* rp = pages.mem.map().to_virt<char>(raw);
  for (usize i = 0; i < kPageSize; ++i) rp[i] = 0;
  EXPECT_EQ(a.free(rp + 128).error(), Error::invalid_argument);
  EXPECT_TRUE(a.check_invariants());
  ASSERT_TRUE(a.free(x).has_value());
  ASSERT_TRUE(b.free(z).has_value());
  ASSERT_TRUE(pages.buddy.free(raw, 0).has_value());
}

TEST(Slab, ExhaustionIsNoMemory) {
  test::BuddyFixture pages(64 * kPageSize);
  SlabCache cache("hog", 256, 8, pages.source());
  std::vector<void*> objs;
  for (;;) {
    auto r = cache.alloc();
    if (!r) {
      EXPECT_EQ(r.error(), Error::no_memory);
      break;
    }
    objs.push_back(*r);
  }
  EXPECT_EQ(objs.size(), 64 * cache.stats().objects_per_slab);
  for (void* p : objs) ASSERT_TRUE(cache.free(p).has_value());
}

struct Tracked {
  static inline int alive = 0;
  explicit Tracked(std::string n) : name(std::move(n)) { ++alive; }
  ~Tracked() { --alive; }
  std::string name;
};

TEST(ObjectCache, MakeAndDestroyRunConstructorsAndDestructors) {
  test::BuddyFixture pages(4 * MiB);
  ObjectCache<Tracked> cache("tracked", pages.source());
  Tracked* t = cache.make("channel").value();
  EXPECT_EQ(t->name, "channel");
  EXPECT_EQ(Tracked::alive, 1);
  ASSERT_TRUE(cache.destroy(t).has_value());
  EXPECT_EQ(Tracked::alive, 0);
  // Destroying twice: rejected before the destructor runs again.
  EXPECT_EQ(cache.destroy(t).error(), Error::not_allocated);
  EXPECT_EQ(Tracked::alive, 0);
}

struct Big {
  u64 words[40];
};

TEST(KernelHeap, MakeDestroyThroughSizeClasses) {
  test::BuddyFixture pages(8 * MiB);
  KernelHeap heap(pages.source());
  install_kernel_heap(&heap);
  auto* a = make<u64>(7).value();
  auto* b = make<Big>().value();
  auto* c = make<Tracked>("log namespace").value();
  EXPECT_EQ(*a, 7u);
  EXPECT_EQ(heap.live_objects(), 3u);
  EXPECT_EQ(heap.cache(0).stats().live_objects, 1u);  // 8 bytes -> 16-byte class
  EXPECT_EQ(heap.cache(5).stats().live_objects, 1u);  // 320 bytes -> 512-byte class
  ASSERT_TRUE(destroy(c).has_value());
  EXPECT_EQ(Tracked::alive, 0);
  ASSERT_TRUE(destroy(b).has_value());
  ASSERT_TRUE(destroy(a).has_value());
  EXPECT_EQ(destroy(a).error(), Error::not_allocated);
  EXPECT_EQ(heap.live_objects(), 0u);
  EXPECT_TRUE(heap.check_invariants());
  EXPECT_EQ(heap.alloc(0, 8).error(), Error::invalid_argument);
  EXPECT_EQ(heap.alloc(4096, 8).error(), Error::invalid_argument);
  EXPECT_EQ(heap.alloc(64, 128).error(), Error::invalid_argument);
  EXPECT_EQ(heap.alloc(64, 3).error(), Error::invalid_argument);
  heap.reclaim();
  install_kernel_heap(nullptr);
}

// Random alloc/free/bad-free sequences against a set of live objects: objects never overlap, stay inside their
// slabs' pages, keep their contents while live, and the statistics and invariants agree throughout.
TEST(SlabDifferential, HundredThousandRandomOps) {
  test::BuddyFixture pages(32 * MiB);
  const u64 free0 = pages.buddy.stats().free_pages;
  std::mt19937_64 rng(0x5eed0003);
  const usize sizes[] = {8, 24, 64, 200, 1000, 3000};
  std::vector<std::unique_ptr<SlabCache>> caches;
  for (usize s : sizes) caches.push_back(std::make_unique<SlabCache>("diff", s, 8, pages.source()));
  std::vector<std::map<char*, u64>> live(caches.size());  // object -> stamp written into it
  u64 bad = 0;
  for (u64 op = 0; op < 100'000; ++op) {
    const usize c = rng() % caches.size();
    SlabCache& cache = *caches[c];
    const usize size = sizes[c];
    const u64 pick = rng() % 100;
    if (pick < 55 || live[c].empty()) {
      auto r = cache.alloc();
      ASSERT_TRUE(r.has_value());
      char* p = static_cast<char*>(*r);
      // No overlap with any live object of this cache.
      auto next = live[c].lower_bound(p);
      if (next != live[c].end()) {
        ASSERT_GE(next->first - p, static_cast<long>(size));
      }
      if (next != live[c].begin()) {
        ASSERT_GE(p - std::prev(next)->first, static_cast<long>(size));
      }
      const u64 stamp = rng();
      std::memcpy(p, &stamp, std::min<usize>(size, 8));
      std::memset(p + std::min<usize>(size, 8), 0x5a, size - std::min<usize>(size, 8));
      live[c][p] = stamp;
    } else if (pick < 92) {
      auto it = live[c].begin();
      std::advance(it, static_cast<long>(rng() % live[c].size()));
      u64 got = 0;
      std::memcpy(&got, it->first, std::min<usize>(size, 8));
      const u64 mask = size >= 8 ? ~u64{0} : (u64{1} << (8 * size)) - 1;
      ASSERT_EQ(got & mask, it->second & mask) << "object contents changed while live";
      ASSERT_TRUE(cache.free(it->first).has_value());
      live[c].erase(it);
    } else {
      // Double free of a freed slot, or a pointer into the middle of a live object.
      auto it = live[c].begin();
      std::advance(it, static_cast<long>(rng() % live[c].size()));
      if (rng() % 2 == 0 && size > 8) {
        ASSERT_EQ(cache.free(it->first + 8).error(), Error::misaligned);
      } else {
        char* p = it->first;
        ASSERT_TRUE(cache.free(p).has_value());
        live[c].erase(it);
        ASSERT_EQ(cache.free(p).error(), Error::not_allocated);
      }
      ++bad;
    }
    ASSERT_EQ(cache.stats().live_objects, live[c].size());
    if (op % 4999 == 0) {
      for (auto& k : caches) ASSERT_TRUE(k->check_invariants());
    }
  }
  for (usize c = 0; c < caches.size(); ++c) {
    for (auto& [p, stamp] : live[c]) ASSERT_TRUE(caches[c]->free(p).has_value());
    ASSERT_TRUE(caches[c]->check_invariants());
  }
  caches.clear();
  EXPECT_EQ(pages.buddy.stats().free_pages, free0) << "slab pages leaked";
  EXPECT_GT(bad, 3000u);
}

}  // namespace
}  // namespace platypos
