#include <platypos/mm/boot_memory.hpp>
#include <platypos/mm/range_pool.hpp>

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "mm/test_memory.hpp"
#include "test_support.hpp"

namespace platypos {
namespace {

using test::TestMemory;

std::vector<MemoryRange> ranges_of(const RangePool& pool) {
  std::vector<MemoryRange> out;
  pool.for_each([&](const MemoryRange& r) { out.push_back(r); });
  return out;
}

// Ranges of the pool other than its bookkeeping, merged again across the bookkeeping pages as if they were free:
// what the pool says about the map itself.
std::vector<MemoryRange> map_view(const RangePool& pool) {
  std::vector<MemoryRange> out;
  pool.for_each([&](MemoryRange r) {
    if (r.type == MemoryType::pool_bookkeeping) r.type = MemoryType::free_ram;
    if (!out.empty() && out.back().type == r.type && out.back().end() == r.base) {
      out.back().size += r.size;
    } else {
      out.push_back(r);
    }
  });
  return out;
}

bool same(const std::vector<MemoryRange>& a, const std::vector<MemoryRange>& b) {
  if (a.size() != b.size()) return false;
  for (usize i = 0; i < a.size(); ++i)
    if (a[i].base != b[i].base || a[i].size != b[i].size || a[i].type != b[i].type) return false;
  return true;
}

std::string dump(const std::vector<MemoryRange>& v) {
  std::string s;
  char buf[96];
  for (const auto& r : v) {
    std::snprintf(buf, sizeof buf, "[%#llx, %#llx) %s\n", static_cast<unsigned long long>(r.base),
                  static_cast<unsigned long long>(r.end()), memory_type_name(r.type));
    s += buf;
  }
  return s;
}

TEST(RangePool, NormalizesUnsortedOverlappingUnalignedMaps) {
  TestMemory mem(64 * MiB);
  RangePool pool(mem.map());
  const MemoryRange boot[] = {
      {0x100000, 0x3f00000, MemoryType::free_ram},  // 1 MiB .. 64 MiB
      {0x0, 0x9fc00, MemoryType::free_ram},         // low RAM, unaligned end
      {0x9fc00, 0x400, MemoryType::reserved},       // EBDA
      {0xf0000, 0x10000, MemoryType::reserved},
      {0x500000, 0, MemoryType::reserved},                 // zero length: ignored
      {0x200000, 0x100000, MemoryType::kernel_image},      // inside free RAM: more restrictive wins
      {0x280000, 0x1800, MemoryType::boot_module},         // overlaps the kernel image: kernel image wins there
      {0x2ff000, 0x2000, MemoryType::boot_module},         // straddles the kernel image's end
      {0x3ff0800, 0x10000, MemoryType::acpi_reclaimable},  // unaligned, overlaps the end of RAM
  };
  ASSERT_TRUE(pool.init(boot).has_value());
  EXPECT_TRUE(pool.check_invariants());
  const std::vector<MemoryRange> expected = {
      {0x0, 0x9f000, MemoryType::free_ram},           {0x9f000, 0x1000, MemoryType::reserved},
      {0xf0000, 0x10000, MemoryType::reserved},       {0x100000, 0x100000, MemoryType::free_ram},
      {0x200000, 0x100000, MemoryType::kernel_image}, {0x300000, 0x1000, MemoryType::boot_module},
      {0x301000, 0x3cef000, MemoryType::free_ram},    {0x3ff0000, 0x11000, MemoryType::acpi_reclaimable},
  };
  EXPECT_TRUE(same(map_view(pool), expected)) << dump(map_view(pool));
  EXPECT_EQ(pool.total_bytes(MemoryType::pool_bookkeeping), pool.bookkeeping_pages() * kPageSize);
  EXPECT_GE(pool.bookkeeping_pages(), 1u);
  // Bookkeeping went to the lowest free RAM at or above 1 MiB.
  EXPECT_EQ(ranges_of(pool)[3].type, MemoryType::pool_bookkeeping);
  EXPECT_EQ(ranges_of(pool)[3].base, 0x100000u);
}

TEST(RangePool, InitErrors) {
  TestMemory mem(16 * MiB);
  {
    RangePool pool(mem.map());
    const MemoryRange only_reserved[] = {{0, 16 * MiB, MemoryType::reserved}};
    EXPECT_EQ(pool.init(only_reserved).error(), Error::no_memory);
    EXPECT_FALSE(pool.initialized());
  }
  {
    RangePool pool(mem.map());
    const MemoryRange bad_type[] = {{0, 16 * MiB, MemoryType::buddy}};
    EXPECT_EQ(pool.init(bad_type).error(), Error::invalid_argument);
  }
  {
    RangePool pool(mem.map());
    const MemoryRange ok_map[] = {{0, 16 * MiB, MemoryType::free_ram}};
    ASSERT_TRUE(pool.init(ok_map).has_value());
    EXPECT_EQ(pool.init(ok_map).error(), Error::bad_state);
    RangePool fresh(mem.map());
    EXPECT_EQ(fresh.allocate(MemoryType::allocated, kPageSize).error(), Error::bad_state);
  }
}

TEST(RangePool, RangesNearTheTopOfTheAddressSpaceDoNotWrap) {
  TestMemory mem(16 * MiB);
  RangePool pool(mem.map());
  const MemoryRange boot[] = {{0x100000, 8 * MiB, MemoryType::free_ram},
                              {~u64{0} - 0x2fff, 0x10000, MemoryType::peripheral},  // wraps past 2^64
                              {~u64{0} - 0x800, 0x100, MemoryType::free_ram}};      // less than a page: dropped
  ASSERT_TRUE(pool.init(boot).has_value());
  EXPECT_TRUE(pool.check_invariants());
  const auto v = map_view(pool);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[1].type, MemoryType::peripheral);
  EXPECT_EQ(v[1].base, ~u64{0} - 0x2fff);  // already page-aligned
  EXPECT_EQ(v[1].end(), ~u64{0} - 0xfff);  // cut at the top page boundary
}

TEST(RangePool, AllocatesHighestFitWithAlignmentAndLimits) {
  TestMemory mem(64 * MiB);
  RangePool pool(mem.map());
  const MemoryRange boot[] = {{0x1000, 0x9e000, MemoryType::free_ram}, {0x100000, 63 * MiB, MemoryType::free_ram}};
  ASSERT_TRUE(pool.init(boot).has_value());
  // SMP trampoline: one page below 1 MiB.
  auto tramp = pool.allocate(MemoryType::smp_trampoline, kPageSize, kPageSize, 0xfffff);
  ASSERT_TRUE(tramp.has_value());
  EXPECT_EQ(*tramp, PhysAddr(0x9e000));
  // Highest fit overall, 2 MiB aligned.
  auto big = pool.allocate(MemoryType::page_tables, 3 * MiB, 2 * MiB);
  ASSERT_TRUE(big.has_value());
  EXPECT_EQ(*big, PhysAddr(60 * MiB));
  // Window between min and max.
  auto win = pool.allocate(MemoryType::kernel_data, 5000, kPageSize, 8 * MiB - 1, 4 * MiB);
  ASSERT_TRUE(win.has_value());
  EXPECT_EQ(*win, PhysAddr(8 * MiB - 2 * kPageSize));  // 5000 bytes -> 2 pages
  EXPECT_EQ(pool.total_bytes(MemoryType::kernel_data), 2 * kPageSize);
  EXPECT_TRUE(pool.check_invariants());
  // Errors.
  EXPECT_EQ(pool.allocate(MemoryType::allocated, 0).error(), Error::invalid_argument);
  EXPECT_EQ(pool.allocate(MemoryType::reserved, kPageSize).error(), Error::invalid_argument);
  EXPECT_EQ(pool.allocate(MemoryType::pool_bookkeeping, kPageSize).error(), Error::invalid_argument);
  EXPECT_EQ(pool.allocate(MemoryType::allocated, kPageSize, 3 * kPageSize).error(), Error::invalid_argument);
  EXPECT_EQ(pool.allocate(MemoryType::allocated, kPageSize, kPageSize, 0x1000, 0x2000).error(),
            Error::invalid_argument);
  EXPECT_EQ(pool.allocate(MemoryType::allocated, 1 * GiB).error(), Error::no_memory);
  EXPECT_EQ(pool.allocate(MemoryType::allocated, ~u64{0}).error(), Error::no_memory);
  EXPECT_EQ(pool.allocate(MemoryType::smp_trampoline, 1 * MiB, kPageSize, 0xfffff).error(), Error::no_memory);
}

TEST(RangePool, FreeAndRetag) {
  TestMemory mem(64 * MiB);
  RangePool pool(mem.map());
  const MemoryRange boot[] = {{0x100000, 31 * MiB, MemoryType::free_ram},
                              {32 * MiB, 1 * MiB, MemoryType::acpi_reclaimable},
                              {33 * MiB, 1 * MiB, MemoryType::reserved},
                              {34 * MiB, 2 * MiB, MemoryType::kernel_image}};
  ASSERT_TRUE(pool.init(boot).has_value());
  const usize ranges_before = pool.range_count();
  const PhysAddr a = pool.allocate(MemoryType::allocated, 16 * kPageSize).value();
  // Free the middle of it: splits the allocation in two.
  ASSERT_TRUE(pool.free(a + 4 * kPageSize, 4 * kPageSize).has_value());
  EXPECT_EQ(pool.total_bytes(MemoryType::allocated), 12 * kPageSize);
  EXPECT_EQ(pool.free(a + 4 * kPageSize, kPageSize).error(), Error::not_allocated);  // double free
  EXPECT_EQ(pool.free(a + 1, kPageSize).error(), Error::misaligned);
  EXPECT_EQ(pool.free(a, 0).error(), Error::invalid_argument);
  EXPECT_EQ(pool.free(a, 100).error(), Error::invalid_argument);
  EXPECT_EQ(pool.free(a, 8 * kPageSize).error(), Error::out_of_range);                // crosses into free RAM
  EXPECT_EQ(pool.free(PhysAddr(33 * MiB), kPageSize).error(), Error::access_denied);  // firmware reserved
  EXPECT_EQ(pool.free(PhysAddr(40 * MiB), kPageSize).error(), Error::out_of_range);   // not in the map
  ASSERT_TRUE(pool.free(a, 4 * kPageSize).has_value());
  ASSERT_TRUE(pool.free(a + 8 * kPageSize, 8 * kPageSize).has_value());
  EXPECT_EQ(pool.total_bytes(MemoryType::allocated), 0u);
  EXPECT_EQ(pool.range_count(), ranges_before);  // everything merged back
  // Re-tagging: ACPI tables parsed -> free RAM; reserved stays reserved.
  ASSERT_TRUE(pool.retag(PhysAddr(32 * MiB), 1 * MiB, MemoryType::free_ram).has_value());
  EXPECT_EQ(pool.total_bytes(MemoryType::acpi_reclaimable), 0u);
  EXPECT_EQ(pool.retag(PhysAddr(33 * MiB), kPageSize, MemoryType::free_ram).error(), Error::access_denied);
  EXPECT_EQ(pool.retag(PhysAddr(34 * MiB), kPageSize, MemoryType::reserved).error(), Error::invalid_argument);
  // Free the kernel's init section.
  ASSERT_TRUE(pool.retag(PhysAddr(35 * MiB), 1 * MiB, MemoryType::free_ram).has_value());
  EXPECT_EQ(pool.total_bytes(MemoryType::kernel_image), 1 * MiB);
  // Claim an exact range.
  ASSERT_TRUE(pool.allocate_at(PhysAddr(0x200000), 2 * kPageSize, MemoryType::page_tables).has_value());
  EXPECT_EQ(pool.allocate_at(PhysAddr(0x200000), kPageSize, MemoryType::page_tables).error(), Error::out_of_range);
  EXPECT_EQ(pool.allocate_at(PhysAddr(0x300000), kPageSize, MemoryType::free_ram).error(), Error::invalid_argument);
  // The pool's own pages cannot be freed or re-tagged.
  PhysAddr book;
  pool.for_each([&](const MemoryRange& r) {
    if (r.type == MemoryType::pool_bookkeeping) book = PhysAddr(r.base);
  });
  EXPECT_EQ(pool.free(book, kPageSize).error(), Error::access_denied);
  EXPECT_EQ(pool.retag(book, kPageSize, MemoryType::allocated).error(), Error::access_denied);
  EXPECT_TRUE(pool.check_invariants());
}

TEST(RangePool, GrowsItsBookkeepingFromItself) {
  TestMemory mem(64 * MiB);
  RangePool pool(mem.map());
  const MemoryRange boot[] = {{0x100000, 63 * MiB, MemoryType::free_ram}};
  ASSERT_TRUE(pool.init(boot).has_value());
  const u64 pages0 = pool.bookkeeping_pages();
  // Every other page allocated: each allocation creates ranges; the pool must take more bookkeeping pages.
  std::vector<PhysAddr> got;
  for (int i = 0; i < 2000; ++i) {
    auto a = pool.allocate(MemoryType::allocated, kPageSize, 2 * kPageSize, ~u64{0}, 0);
    ASSERT_TRUE(a.has_value());
    got.push_back(*a);
    // Alternating types keep neighbouring allocations from merging.
    ASSERT_TRUE(pool.retag(*a, kPageSize, i % 2 == 0 ? MemoryType::allocated : MemoryType::kernel_data).has_value());
  }
  EXPECT_GT(pool.bookkeeping_pages(), pages0);
  EXPECT_GT(pool.range_count(), 2000u);
  EXPECT_TRUE(pool.check_invariants());
}

TEST(RangePool, HandsFreeRamToTheBuddyAllocator) {
  TestMemory mem(64 * MiB);
  RangePool pool(mem.map());
  const MemoryRange boot[] = {{0x1000, 0x9e000, MemoryType::free_ram},
                              {0x100000, 15 * MiB, MemoryType::free_ram},
                              {0x200000, 0x100000, MemoryType::kernel_image}};
  ASSERT_TRUE(pool.init(boot).has_value());
  const u64 free_before = pool.total_bytes(MemoryType::free_ram);
  std::vector<PageRange> handed;
  auto total = pool.hand_over_free_ram(MemoryType::buddy, [&](PageRange r) { handed.push_back(r); });
  ASSERT_TRUE(total.has_value());
  EXPECT_EQ(*total, free_before);
  EXPECT_EQ(pool.total_bytes(MemoryType::free_ram), 0u);
  EXPECT_EQ(pool.total_bytes(MemoryType::buddy), free_before);
  ASSERT_EQ(handed.size(), 3u);  // below 1 MiB, 1 MiB..2 MiB minus bookkeeping, above the kernel
  for (usize i = 1; i < handed.size(); ++i) EXPECT_LT(handed[i - 1].last(), handed[i].base().value());
  EXPECT_TRUE(pool.check_invariants());
  EXPECT_EQ(pool.hand_over_free_ram(MemoryType::free_ram, [](PageRange) {}).error(), Error::invalid_argument);
}

// The real maps QEMU hands a multiboot kernel on this machine kind.
class RangePoolQemuMaps : public ::testing::TestWithParam<const char*> {};

TEST_P(RangePoolQemuMaps, NormalizeAndSummarize) {
  const auto boot = test::load_e820_fixture(GetParam());
  TestMemory mem(16 * MiB);  // only the bookkeeping pages are touched, near 1 MiB
  RangePool pool(mem.map());
  ASSERT_TRUE(pool.init(boot).has_value());
  EXPECT_TRUE(pool.check_invariants());
  // Free RAM per the raw map (whole pages only) equals free RAM + bookkeeping in the pool.
  u64 raw_free = 0;
  for (const auto& r : boot) {
    if (r.type != MemoryType::free_ram) continue;
    u64 b = 0;
    ASSERT_TRUE(align_up_checked(r.base, kPageSize, &b));
    raw_free += align_down(r.base + r.size, kPageSize) - b;
  }
  // The 0x9fc00 boundary costs the partial page under the EBDA.
  EXPECT_EQ(pool.total_bytes(MemoryType::free_ram) + pool.total_bytes(MemoryType::pool_bookkeeping), raw_free);
  // Reserved ranges far above RAM (q35: 0xfd00000000) survive.
  EXPECT_GE(pool.total_bytes(MemoryType::reserved), 0x300000000ull);
  // A trampoline below 1 MiB is always available on these machines.
  auto tramp = pool.allocate(MemoryType::smp_trampoline, kPageSize, kPageSize, 0xfffff);
  ASSERT_TRUE(tramp.has_value());
  EXPECT_LT(tramp->value(), 0x100000u);
  EXPECT_TRUE(pool.check_invariants());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, RangePoolQemuMaps,
                         ::testing::Values("qemu-7.2-pc-64M.txt", "qemu-7.2-pc-128M.txt", "qemu-7.2-pc-512M.txt",
                                           "qemu-7.2-pc-3G.txt", "qemu-7.2-pc-8G.txt", "qemu-7.2-q35-64M.txt",
                                           "qemu-7.2-q35-128M.txt", "qemu-7.2-q35-512M.txt", "qemu-7.2-q35-3G.txt",
                                           "qemu-7.2-q35-8G.txt"));

TEST(RangePool, Qemu3GOnQ35HasTheHoleBelow4GiB) {
  const auto boot = test::load_e820_fixture("qemu-7.2-q35-3G.txt");
  TestMemory mem(16 * MiB);
  RangePool pool(mem.map());
  ASSERT_TRUE(pool.init(boot).has_value());
  std::vector<MemoryRange> free;
  pool.for_each([&](const MemoryRange& r) {
    if (r.type == MemoryType::free_ram) free.push_back(r);
  });
  ASSERT_GE(free.size(), 3u);
  EXPECT_EQ(free.back().base, 0x100000000ull);  // RAM continues above 4 GiB
  EXPECT_EQ(free.back().end(), 0x100000000ull + 0x40000000ull);
  EXPECT_EQ(free[free.size() - 2].end(), 0x7ffdf000ull);  // below the hole
}

}  // namespace
}  // namespace platypos

namespace platypos {
namespace {

TEST(BootMemory, QemuMapIntoTheBuddyAllocator) {
  const auto boot = test::load_e820_fixture("qemu-7.2-q35-3G.txt");
  test::TestMemory mem(5 * GiB);  // covers RAM up to 0x140000000
  RangePool pool(mem.map());
  ASSERT_TRUE(pool.init(boot).has_value());
  const u64 free_before = pool.total_bytes(MemoryType::free_ram);
  BuddyAllocator::Region regions[8];
  BuddyAllocator buddy(mem.map(), regions);
  auto h = hand_free_ram_to_buddy(pool, buddy, 8);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->regions, 3u);  // below 640 KiB, below the hole, above 4 GiB
  EXPECT_EQ(h->managed_bytes + h->metadata_bytes, free_before);
  EXPECT_EQ(buddy.free_bytes(), h->managed_bytes);
  EXPECT_EQ(pool.total_bytes(MemoryType::buddy), h->managed_bytes);
  EXPECT_EQ(pool.total_bytes(MemoryType::free_ram), 0u);
  // Bookkeeping overhead: pool nodes plus buddy state, against managed memory, below 0.2%.
  const double overhead = static_cast<double>(h->metadata_bytes + pool.bookkeeping_pages() * kPageSize) /
                          static_cast<double>(h->managed_bytes);
  EXPECT_LT(overhead, 0.002);
  EXPECT_TRUE(buddy.check_invariants());
  EXPECT_TRUE(pool.check_invariants());
  // Not enough region slots: refused before anything changes.
  RangePool pool2(mem.map());
  ASSERT_TRUE(pool2.init(boot).has_value());
  BuddyAllocator::Region two[2];
  BuddyAllocator small(mem.map(), two);
  EXPECT_EQ(hand_free_ram_to_buddy(pool2, small, 2).error(), Error::no_resources);
  EXPECT_EQ(pool2.total_bytes(MemoryType::buddy), 0u);
}

}  // namespace
}  // namespace platypos
