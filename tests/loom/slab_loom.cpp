// Slab caches (core/src/mm/slab.cpp) as the kernel shares them: the real KernelHeap (size-class SlabCaches behind
// one IRQ-safe lock) over the real LockedBuddy (a BuddyAllocator behind its own lock), a fresh pair per schedule. A
// SlabCache alone is single-threaded by contract; this is the structure CPUs actually share.
//
// Both tests start the 2 KiB class next to a slab boundary, so that the interleavings decide which CPU takes the last
// slot, which one grows a slab (the buddy lock taken inside the heap lock), which free turns a slab empty (kept) and
// which one hands a second empty slab back to the buddy allocator. Explored: the order of the lock attempts (and the
// lock words' loads and stores); a whole alloc() or free() runs as one step once its CPU holds the lock.
//
// Checked: no slot handed out twice (a set of live pointers, and a stamp each CPU writes into its objects and reads
// back after its other operations), every operation succeeds, then the cache's own invariants, its counters, every
// buddy page accounted for (free + held by slabs), every freed slot reusable without a new slab, and at the end every
// page back in the buddy allocator.
#include "loom.hpp"

#include <platypos/mm/kernel_heap.hpp>
#include <platypos/mm/locked_buddy.hpp>

#include <memory>
#include <set>
#include <vector>

#include "mm/buddy_fixture.hpp"

namespace platypos::loom {
namespace {

constexpr u64 kMemoryBytes = 1 * MiB;
constexpr usize kBig = KernelHeap::kMaxClass;  // 2 KiB: the class with the fewest slots per slab
constexpr usize kBigAlign = KernelHeap::kMaxAlign;
constexpr usize kBigClass = KernelHeap::kClassCount - 1;

// One mapping for every schedule; each schedule builds a fresh buddy allocator (and heap) on it.
test::TestMemory& memory() {
  static test::TestMemory m(kMemoryBytes);
  return m;
}

struct HeapFixture : Instance {
  test::BuddyFixture unlocked{memory()};  // all of memory() one free region
  LockedBuddy pages{unlocked.buddy};
  std::unique_ptr<KernelHeap> heap;
  u64 free0 = 0;
  std::set<void*> live;     // every object a CPU holds now (updated between scheduling points: atomic here)
  std::set<void*> handed;   // every object a CPU ever got
  std::vector<void*> kept;  // objects the setup allocated and nobody frees during the run
  u64 ops_alloc = 0;
  u64 ops_free = 0;

  HeapFixture() {
    free0 = unlocked.buddy.stats().free_pages;
    heap = std::make_unique<KernelHeap>(PageSource(pages));
  }
  // A failed schedule can leave objects live; the heap's destructor would panic on them. Leak it instead (its pages
  // belong to this schedule's buddy allocator, which goes away anyway).
  ~HeapFixture() override {
    if (heap != nullptr && heap->live_objects() != 0) (void)heap.release();
  }

  const SlabCache& big() const { return heap->cache(kBigClass); }
  u64 slab_pages(const SlabCache& c) const { return c.stats().slabs << c.stats().slab_order; }

  void* take(CpuId cpu, u64 tag) {
    const Result<void*> r = heap->alloc(kBig, kBigAlign);
    LOOM_CHECK(r.has_value(), "alloc failed");
    if (!r) return nullptr;
    void* p = *r;
    LOOM_CHECK(live.insert(p).second, "an object handed out twice (already held by a CPU)");
    handed.insert(p);
    ++ops_alloc;
    *static_cast<u64*>(p) = stamp(cpu, tag);
    return p;
  }
  void give(void* p, CpuId cpu, u64 tag) {
    if (p == nullptr) return;
    LOOM_CHECK(*static_cast<u64*>(p) == stamp(cpu, tag), "an object's contents changed under its owner");
    live.erase(p);  // before free(): once freed, another CPU may get p at once
    ++ops_free;
    LOOM_CHECK(heap->free(p, kBig, kBigAlign).has_value(), "free failed");
  }
  static u64 stamp(CpuId cpu, u64 tag) { return (u64{0x51ab} << 32) | (u64{cpu} << 16) | tag; }

  // Single-threaded, after the run: counters, pages, reuse of every freed slot, and everything back at the end.
  void check_heap(u64 setup_allocs, u64 setup_frees) {
    LOOM_CHECK(live.empty(), "a CPU still holds an object");
    LOOM_CHECK(heap->check_invariants(), "slab cache invariants violated");
    const SlabCache::Stats& s = big().stats();
    LOOM_CHECK(s.live_objects == kept.size(),
               "live objects " + std::to_string(s.live_objects) + " != kept " + std::to_string(kept.size()));
    LOOM_CHECK(s.allocs == setup_allocs + ops_alloc && s.frees == setup_frees + ops_free, "alloc/free counters off");
    LOOM_CHECK(heap->live_objects() == s.live_objects, "objects live in another class");
    LOOM_CHECK(pages.free_pages() + slab_pages(big()) == free0,
               "buddy pages not accounted for by slabs: a page leaked");

    // Every freed 2 KiB slot comes back before any new slab: allocate exactly the free slots.
    const u64 slabs = s.slabs;
    const u64 free_slots = s.slabs * s.objects_per_slab - s.live_objects;
    std::set<void*> again;
    std::vector<void*> all;
    for (u64 i = 0; i < free_slots; ++i) {
      void* p = heap->alloc(kBig, kBigAlign).value();
      LOOM_CHECK(again.insert(p).second, "the same slot handed out twice");
      all.push_back(p);
    }
    LOOM_CHECK(big().stats().slabs == slabs, "a free slot was lost: a new slab was needed");
    for (void* p : handed)
      if (heap->check_live(p, kBig, kBigAlign).has_value())
        LOOM_CHECK(again.count(p) == 1, "a freed slot was not handed out again");
    for (void* p : all) heap->free(p, kBig, kBigAlign).expect("free after reuse");
    for (void* p : kept) heap->free(p, kBig, kBigAlign).expect("free of setup object");
    kept.clear();
    heap->reclaim();
    LOOM_CHECK(heap->live_objects() == 0 && heap->check_invariants(), "heap not empty at the end");
    LOOM_CHECK(pages.free_pages() == free0 && pages.check_invariants(), "pages not all back in the buddy allocator");
  }
};

// 2 CPUs; the 2 KiB class has one free slot left. Each CPU: a = alloc, b = alloc, free a, free b. Who gets the last
// slot, who grows the second slab (buddy lock inside the heap lock), and which frees turn slabs partial or empty is
// up to the schedule.
struct BoundaryTest final : HeapFixture {
  u64 setup_allocs = 0;
  bool pair;  // two allocations per CPU (else one)
  explicit BoundaryTest(bool two) : pair(two) {
    const u64 n = big().stats().objects_per_slab;
    for (u64 i = 0; i + 1 < n; ++i) kept.push_back(heap->alloc(kBig, kBigAlign).value());
    setup_allocs = kept.size();
  }
  void run(CpuId cpu) override {
    void* a = take(cpu, 1);
    void* b = pair ? take(cpu, 2) : nullptr;
    give(a, cpu, 1);
    give(b, cpu, 2);
  }
  void check() override { check_heap(setup_allocs, 0); }
};

// 2 CPUs. The 2 KiB class has two slabs with one live object each, CPU 0 owning one and CPU 1 the other: each frees
// its object, then allocates and frees one. Whichever slab empties first is kept; the other goes back to the buddy
// allocator when it empties (the buddy lock inside the heap lock), at a point the schedule decides (an allocation in
// between refills a slab first).
struct ReleaseTest final : HeapFixture {
  void* owned[2] = {nullptr, nullptr};
  u64 setup_allocs = 0;
  u64 setup_frees = 0;
  ReleaseTest() {
    const u64 n = big().stats().objects_per_slab;
    std::vector<void*> objs;
    for (u64 i = 0; i < n + 1; ++i) objs.push_back(heap->alloc(kBig, kBigAlign).value());
    setup_allocs = objs.size();
    owned[0] = objs[0];  // the first slab's
    owned[1] = objs[n];  // the second slab's only object
    for (u64 i = 1; i < n; ++i) heap->free(objs[i], kBig, kBigAlign).expect("setup free");
    setup_frees = n - 1;
    for (int c = 0; c < 2; ++c) {
      *static_cast<u64*>(owned[c]) = stamp(static_cast<CpuId>(c), 0);
      live.insert(owned[c]);
      handed.insert(owned[c]);
    }
  }
  void run(CpuId cpu) override {
    give(owned[cpu], cpu, 0);
    void* a = take(cpu, 1);
    give(a, cpu, 1);
  }
  void check() override {
    LOOM_CHECK(big().stats().slabs == 1, "two empty 2 KiB slabs kept (one should have gone back)");
    check_heap(setup_allocs, setup_frees);
  }
};

const Register r1({"slab.boundary", "real KernelHeap over LockedBuddy: 2 cpus x 2 allocs + 2 frees at a slab boundary",
                   2, false, [] { return std::make_unique<BoundaryTest>(true); }});
const Register r3({"slab.boundary3", "real KernelHeap over LockedBuddy: 3 cpus x 1 alloc + 1 free at a slab boundary",
                   3, false, [] { return std::make_unique<BoundaryTest>(false); }});
const Register r2({"slab.release",
                   "real KernelHeap: 2 cpus empty a slab each (one goes back to the buddy), alloc + free", 2, false,
                   [] { return std::make_unique<ReleaseTest>(); }});

}  // namespace
}  // namespace platypos::loom
