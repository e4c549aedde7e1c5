// Memory allocator benchmarks, side by side with glibc malloc in the same run.
//
//   just bench            (or: build/hosted-release/bench/platypos_bench_mm)
//
// The buddy allocator is measured in two states: "steady" (order-0/4 free blocks exist whose buddies are taken, so
// alloc+free touch one list; the common case once a system has run a while) and "fresh" (one huge free block, so
// every alloc splits down and every free merges back up: the worst case).

#include <platypos/mm/boot_memory.hpp>
#include <platypos/mm/buddy.hpp>
#include <platypos/mm/kernel_heap.hpp>
#include <platypos/mm/slab.hpp>

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>
#include <vector>

#include "bench_main.hpp"
#include "mm/buddy_fixture.hpp"

namespace platypos {
namespace {

// Takes every block of `order`, then frees every other one: free blocks of that order whose buddies are taken.
void fragment(BuddyAllocator& buddy, u32 order) {
  std::vector<PhysAddr> all;
  for (;;) {
    auto a = buddy.alloc(order);
    if (!a) break;
    all.push_back(*a);
  }
  for (usize i = 0; i < all.size(); i += 2) buddy.free(all[i], order).expect("free");
}

void BM_BuddyAllocFree(benchmark::State& state) {
  const u32 order = static_cast<u32>(state.range(0));
  const bool steady = state.range(1) != 0;
  test::BuddyFixture b(256 * MiB);
  if (steady) fragment(b.buddy, order);
  for (auto _ : state) {
    auto a = b.buddy.alloc(order);
    benchmark::DoNotOptimize(a);
    b.buddy.free(*a, order).expect("free");
  }
  state.SetLabel(steady ? "steady" : "fresh: split+merge");
}
BENCHMARK(BM_BuddyAllocFree)->ArgNames({"order", "steady"})->Args({0, 1})->Args({4, 1})->Args({0, 0})->Args({4, 0});

// A random mix: allocations of orders 0..3 and frees of random live blocks, around half of memory in use.
void BM_BuddyRandomMixed(benchmark::State& state) {
  test::BuddyFixture b(256 * MiB);
  std::mt19937_64 rng(42);
  std::vector<std::pair<PhysAddr, u32>> live;
  live.reserve(1 << 16);
  std::vector<u32> ops(1 << 16);
  for (u32& o : ops) o = static_cast<u32>(rng());
  usize i = 0;
  for (auto _ : state) {
    const u32 r = ops[i++ & (ops.size() - 1)];
    if ((r & 1) || live.empty()) {
      const u32 order = (r >> 1) % 4;
      auto a = b.buddy.alloc(order);
      if (a) live.push_back({*a, order});
    } else {
      const usize k = (r >> 1) % live.size();
      b.buddy.free(live[k].first, live[k].second).expect("free");
      live[k] = live.back();
      live.pop_back();
    }
  }
  state.counters["live_blocks"] = static_cast<double>(live.size());
}
BENCHMARK(BM_BuddyRandomMixed);

void BM_SlabAllocFree64(benchmark::State& state) {
  test::BuddyFixture b(64 * MiB);
  SlabCache cache("bench64", 64, 16, PageSource(b.buddy));
  // Some live objects, so the slab is partial, as in a running kernel.
  std::vector<void*> keep;
  for (int i = 0; i < 1000; ++i) keep.push_back(cache.alloc().value());
  for (auto _ : state) {
    void* p = cache.alloc().value();
    benchmark::DoNotOptimize(p);
    cache.free(p).expect("free");
  }
  for (void* p : keep) cache.free(p).expect("free");
  state.SetLabel("one cache, no lock");
}
BENCHMARK(BM_SlabAllocFree64);

struct Obj64 {
  u64 words[8];
};

void BM_KernelHeapMakeDestroy64(benchmark::State& state) {
  test::BuddyFixture b(64 * MiB);
  KernelHeap heap{PageSource(b.buddy)};
  install_kernel_heap(&heap);
  for (auto _ : state) {
    Obj64* p = make<Obj64>().value();
    benchmark::DoNotOptimize(p);
    destroy(p).expect("destroy");
  }
  install_kernel_heap(nullptr);
  state.SetLabel("size classes, IRQ-safe spin lock, validated destroy");
}
BENCHMARK(BM_KernelHeapMakeDestroy64);

void BM_MallocFree(benchmark::State& state) {
  const auto size = static_cast<usize>(state.range(0));
  for (auto _ : state) {
    void* p = std::malloc(size);
    benchmark::DoNotOptimize(p);
    std::free(p);
  }
  state.SetLabel("glibc");
}
BENCHMARK(BM_MallocFree)->Arg(4096)->Arg(64);

// Boot-time set-up over 16 GiB of simulated memory shaped like a QEMU machine: RangePool from the memory map, then
// the hand-over of all free RAM (state bytes and free lists) to the buddy allocator.
//   cold: a fresh mapping each iteration, so the host's page faults on first touch (about 5,000 of them: the 4 MiB
//         of state bytes and the first page of every free 4 MiB block) are included; bare metal has none.
//   warm: the same mapping every iteration (pages already faulted in): the allocators' own work.
void BM_InitAllocators16GiB(benchmark::State& state) {
  const bool cold = state.range(0) != 0;
  const MemoryRange map[] = {{0x0, 0x9fc00, MemoryType::free_ram},
                             {0x9fc00, 0x400, MemoryType::reserved},
                             {0xf0000, 0x10000, MemoryType::reserved},
                             {0x100000, 0xbfee0000, MemoryType::free_ram},
                             {0xbffe0000, 0x20000, MemoryType::reserved},
                             {0xfffc0000, 0x40000, MemoryType::reserved},
                             {0x100000000, 0x340000000, MemoryType::free_ram}};  // 3 GiB + 13 GiB = 16 GiB
  constexpr u64 kSpan = 0x440000000;
  double overhead = 0;
  u64 managed = 0;
  auto* warm_mem = cold ? nullptr : new test::TestMemory(kSpan);
  for (auto _ : state) {
    test::TestMemory* mem = warm_mem;
    if (cold) {
      state.PauseTiming();
      mem = new test::TestMemory(kSpan);
      state.ResumeTiming();
    }
    RangePool pool(mem->map());
    pool.init(map).expect("pool");
    BuddyAllocator::Region regions[8];
    BuddyAllocator buddy(mem->map(), regions);
    const BuddyHandover h = hand_free_ram_to_buddy(pool, buddy, 8).expect("hand-over");
    benchmark::DoNotOptimize(buddy.stats().free_pages);
    managed = h.managed_bytes;
    overhead = static_cast<double>(h.metadata_bytes + pool.bookkeeping_pages() * kPageSize) /
               static_cast<double>(h.managed_bytes);
    if (cold) {
      state.PauseTiming();
      delete mem;
      state.ResumeTiming();
    }
  }
  delete warm_mem;
  state.counters["managed_GiB"] = static_cast<double>(managed) / static_cast<double>(GiB);
  state.counters["bookkeeping_pct"] = overhead * 100;
  state.SetLabel(cold ? "cold: includes host page faults" : "warm: allocator work");
}
BENCHMARK(BM_InitAllocators16GiB)->ArgName("cold")->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->Iterations(5);

PLATYPOS_BENCH_RATIO("buddy order-0 alloc+free (steady) / malloc 4 KiB", "BM_BuddyAllocFree/order:0/steady:1",
                     "BM_MallocFree/4096");
PLATYPOS_BENCH_RATIO("buddy order-4 alloc+free (steady) / malloc 4 KiB", "BM_BuddyAllocFree/order:4/steady:1",
                     "BM_MallocFree/4096");
PLATYPOS_BENCH_RATIO("buddy order-0 alloc+free (fresh) / malloc 4 KiB", "BM_BuddyAllocFree/order:0/steady:0",
                     "BM_MallocFree/4096");
PLATYPOS_BENCH_RATIO("slab 64 B alloc+free / malloc 64 B", "BM_SlabAllocFree64", "BM_MallocFree/64");
PLATYPOS_BENCH_RATIO("kernel heap make+destroy 64 B / malloc 64 B", "BM_KernelHeapMakeDestroy64", "BM_MallocFree/64");

}  // namespace
}  // namespace platypos
