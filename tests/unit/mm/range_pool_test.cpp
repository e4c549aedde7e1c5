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

// Everything a caller can observe of the pool.
struct PoolState {
  std::vector<MemoryRange> ranges;
  usize range_count;
  usize free_nodes;
  u64 bookkeeping_pages;
  bool initialized;
};

PoolState state_of(const RangePool& pool) {
  return {ranges_of(pool), pool.range_count(), pool.free_node_count(), pool.bookkeeping_pages(), pool.initialized()};
}

std::string describe(const PoolState& s) {
  return dump(s.ranges) + std::to_string(s.range_count) + " ranges, " + std::to_string(s.free_nodes) +
         " spare nodes, " + std::to_string(s.bookkeeping_pages) + " bookkeeping pages" +
         (s.initialized ? "" : ", not initialized") + "\n";
}

// Calls `call` and checks it fails with `expected` and leaves the pool exactly as it was.
template <class F>
::testing::AssertionResult fails_unchanged(const RangePool& pool, Error expected, F&& call) {
  const PoolState before = state_of(pool);
  const auto r = call();
  if (!r.is_error()) return ::testing::AssertionFailure() << "succeeded, expected " << error_name(expected);
  if (r.error() != expected) {
    return ::testing::AssertionFailure() << "failed with " << error_name(r.error()) << ", expected "
                                         << error_name(expected);
  }
  const PoolState after = state_of(pool);
  if (!same(before.ranges, after.ranges) || before.range_count != after.range_count ||
      before.free_nodes != after.free_nodes || before.bookkeeping_pages != after.bookkeeping_pages ||
      before.initialized != after.initialized) {
    return ::testing::AssertionFailure() << "failed with " << error_name(expected) << " but changed the pool from\n"
                                         << describe(before) << "to\n"
                                         << describe(after);
  }
  if (!pool.check_invariants()) return ::testing::AssertionFailure() << "invariants broken";
  return ::testing::AssertionSuccess();
}

// Allocates single pages from the top of the highest free range until only `left` spare nodes remain: each
// allocation splits the free range once, taking one node. The type alternates with the spare count (allocated when
// it is odd), so neighbouring pages never merge, across calls too.
void use_up_spare_nodes(RangePool& pool, usize left) {
  while (pool.free_node_count() > left) {
    const usize spare = pool.free_node_count();
    const u64 pages = pool.bookkeeping_pages();
    ASSERT_TRUE(pool.allocate(spare % 2 == 1 ? MemoryType::allocated : MemoryType::kernel_data, kPageSize).has_value());
    ASSERT_EQ(pool.free_node_count(), spare - 1);
    ASSERT_EQ(pool.bookkeeping_pages(), pages);
  }
}

MemoryType type_at(const RangePool& pool, u64 addr) {
  MemoryType t = MemoryType::bad_memory;
  bool found = false;
  pool.for_each([&](const MemoryRange& r) {
    if (addr >= r.base && addr < r.end()) t = r.type, found = true;
  });
  EXPECT_TRUE(found) << std::hex << addr;
  return t;
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

// Free RAM reported in pieces that meet, overlap or chain inside a page: the pieces are merged before rounding, so
// the page stays free RAM. A gap inside a page, or another type touching it, still takes the page.
TEST(RangePool, FreeRamEntriesMeetingInsideAPageKeepThatPage) {
  TestMemory mem(16 * MiB);
  RangePool pool(mem.map());
  const MemoryRange boot[] = {
      {0x340200, 0x3fe00, MemoryType::free_ram},  // overlaps the previous piece inside page 0x340000
      {0x100000, 0x80800, MemoryType::free_ram},  // [0x100000, 0x180800)
      {0x400400, 0x600, MemoryType::free_ram},    // [0x400400, 0x400a00): three pieces cover page 0x400000
      {0x180800, 0x7f800, MemoryType::free_ram},  // [0x180800, 0x200000): meets the first inside page 0x180000
      {0x300000, 0x40400, MemoryType::free_ram},  // [0x300000, 0x340400)
      {0x3ff800, 0xc00, MemoryType::free_ram},    // [0x3ff800, 0x400400)
      {0x400a00, 0xff600, MemoryType::free_ram},  // [0x400a00, 0x500000)
      {0x600000, 0x40800, MemoryType::free_ram},  // [0x600000, 0x640800)
      {0x640900, 0x3f700, MemoryType::free_ram},  // [0x640900, 0x680000): a gap inside page 0x640000
      {0x700000, 0x40800, MemoryType::free_ram},  // [0x700000, 0x740800)
      {0x740800, 0x3f800, MemoryType::free_ram},  // [0x740800, 0x780000)
      {0x740100, 0x100, MemoryType::reserved},    // inside the merged page 0x740000: reserved wins
  };
  ASSERT_TRUE(pool.init(boot).has_value());
  EXPECT_TRUE(pool.check_invariants());
  const std::vector<MemoryRange> expected = {
      {0x100000, 0x100000, MemoryType::free_ram}, {0x300000, 0x80000, MemoryType::free_ram},
      {0x400000, 0x100000, MemoryType::free_ram}, {0x600000, 0x40000, MemoryType::free_ram},
      {0x641000, 0x3f000, MemoryType::free_ram},  {0x700000, 0x40000, MemoryType::free_ram},
      {0x740000, 0x1000, MemoryType::reserved},   {0x741000, 0x3f000, MemoryType::free_ram},
  };
  EXPECT_TRUE(same(map_view(pool), expected)) << dump(map_view(pool));
  EXPECT_EQ(type_at(pool, 0x100000), MemoryType::pool_bookkeeping);
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

// Every error path of every call, on a pool that is not initialized, then on one with plenty of spare nodes, three,
// one, and none: each fails with its error and leaves the ranges, the spare nodes and the bookkeeping as they were.
TEST(RangePool, FailedCallsChangeNothing) {
  TestMemory mem(64 * MiB);
  RangePool pool(mem.map());
  const MemoryRange boot[] = {{0x100000, 31 * MiB, MemoryType::free_ram},
                              {32 * MiB, 1 * MiB, MemoryType::acpi_reclaimable},
                              {33 * MiB, 1 * MiB, MemoryType::reserved},
                              {34 * MiB, 2 * MiB, MemoryType::kernel_image},
                              {36 * MiB, 1 * MiB, MemoryType::acpi_nvs}};
  const auto bogus = static_cast<MemoryType>(23);
  const PhysAddr a(8 * MiB);  // an allocation of 16 pages, free RAM below and above it
  const PhysAddr below_a(8 * MiB - kPageSize);
  const PhysAddr free_page(2 * MiB);
  const PhysAddr outside(40 * MiB);
  auto never = [](PageRange) { ADD_FAILURE() << "hand_over_free_ram called back after failing"; };

  // Before init.
  {
    const MemoryRange bad_type[] = {{0, 16 * MiB, MemoryType::buddy}};
    const MemoryRange only_reserved[] = {{0, 16 * MiB, MemoryType::reserved}};
    const MemoryRange only_partial_pages[] = {{0x100800, 0x800, MemoryType::free_ram},
                                              {0x101100, 0x800, MemoryType::free_ram}};  // a gap: no whole page
    EXPECT_TRUE(fails_unchanged(pool, Error::invalid_argument, [&] { return pool.init(bad_type); }));
    EXPECT_TRUE(fails_unchanged(pool, Error::no_memory, [&] { return pool.init(only_reserved); }));
    EXPECT_TRUE(fails_unchanged(pool, Error::no_memory, [&] { return pool.init(only_partial_pages); }));
    EXPECT_TRUE(fails_unchanged(pool, Error::no_memory, [&] { return pool.init({}); }));
    EXPECT_TRUE(fails_unchanged(pool, Error::bad_state, [&] { return pool.allocate(MemoryType::allocated, 4096); }));
    EXPECT_TRUE(fails_unchanged(pool, Error::bad_state,
                                [&] { return pool.allocate_at(free_page, kPageSize, MemoryType::allocated); }));
    EXPECT_TRUE(fails_unchanged(pool, Error::bad_state, [&] { return pool.free(a, kPageSize); }));
    EXPECT_TRUE(
        fails_unchanged(pool, Error::bad_state, [&] { return pool.retag(a, kPageSize, MemoryType::free_ram); }));
    EXPECT_TRUE(
        fails_unchanged(pool, Error::bad_state, [&] { return pool.hand_over_free_ram(MemoryType::buddy, never); }));
    EXPECT_EQ(pool.range_count(), 0u);
    EXPECT_EQ(pool.free_node_count(), 0u);
    EXPECT_EQ(pool.bookkeeping_pages(), 0u);
  }
  ASSERT_TRUE(pool.init(boot).has_value());
  ASSERT_TRUE(pool.allocate_at(a, 16 * kPageSize, MemoryType::allocated).has_value());
  PhysAddr book;
  pool.for_each([&](const MemoryRange& r) {
    if (r.type == MemoryType::pool_bookkeeping) book = PhysAddr(r.base);
  });

  auto every_error = [&](const char* when) {
    SCOPED_TRACE(when);
    const usize spare = pool.free_node_count();
    EXPECT_TRUE(fails_unchanged(pool, Error::bad_state, [&] { return pool.init(boot); }));
    // allocate
    for (MemoryType t : {MemoryType::reserved, MemoryType::free_ram, MemoryType::pool_bookkeeping, bogus}) {
      EXPECT_TRUE(fails_unchanged(pool, Error::invalid_argument, [&] { return pool.allocate(t, kPageSize); }));
    }
    EXPECT_TRUE(
        fails_unchanged(pool, Error::invalid_argument, [&] { return pool.allocate(MemoryType::allocated, 0); }));
    EXPECT_TRUE(fails_unchanged(pool, Error::invalid_argument,
                                [&] { return pool.allocate(MemoryType::allocated, kPageSize, 0); }));
    EXPECT_TRUE(fails_unchanged(pool, Error::invalid_argument,
                                [&] { return pool.allocate(MemoryType::allocated, kPageSize, 3 * kPageSize); }));
    EXPECT_TRUE(fails_unchanged(pool, Error::invalid_argument, [&] {
      return pool.allocate(MemoryType::allocated, kPageSize, kPageSize, 0x1000, 0x2000);
    }));
    EXPECT_TRUE(fails_unchanged(pool, Error::no_memory, [&] { return pool.allocate(MemoryType::allocated, ~u64{0}); }));
    EXPECT_TRUE(fails_unchanged(pool, Error::no_memory, [&] { return pool.allocate(MemoryType::allocated, 1 * GiB); }));
    EXPECT_TRUE(fails_unchanged(pool, Error::no_memory, [&] {
      return pool.allocate(MemoryType::smp_trampoline, kPageSize, kPageSize, 0xfffff);  // no RAM below 1 MiB
    }));
    // allocate_at
    for (MemoryType t : {MemoryType::reserved, MemoryType::free_ram, MemoryType::pool_bookkeeping, bogus}) {
      EXPECT_TRUE(fails_unchanged(pool, Error::invalid_argument, [&] { return pool.allocate_at(free_page, 4096, t); }));
    }
    const MemoryType at = MemoryType::page_tables;
    EXPECT_TRUE(fails_unchanged(pool, Error::misaligned, [&] { return pool.allocate_at(free_page + 1, 4096, at); }));
    EXPECT_TRUE(fails_unchanged(pool, Error::invalid_argument, [&] { return pool.allocate_at(free_page, 0, at); }));
    EXPECT_TRUE(fails_unchanged(pool, Error::invalid_argument, [&] { return pool.allocate_at(free_page, 100, at); }));
    EXPECT_TRUE(fails_unchanged(pool, Error::out_of_range, [&] { return pool.allocate_at(outside, 4096, at); }));
    EXPECT_TRUE(fails_unchanged(pool, Error::out_of_range, [&] { return pool.allocate_at(a, 4096, at); }));
    EXPECT_TRUE(fails_unchanged(pool, Error::out_of_range, [&] { return pool.allocate_at(below_a, 8192, at); }));
    EXPECT_TRUE(
        fails_unchanged(pool, Error::out_of_range, [&] { return pool.allocate_at(PhysAddr(33 * MiB), 4096, at); }));
    EXPECT_TRUE(fails_unchanged(pool, Error::out_of_range, [&] { return pool.allocate_at(book, 4096, at); }));
    // free
    EXPECT_TRUE(fails_unchanged(pool, Error::misaligned, [&] { return pool.free(a + 1, kPageSize); }));
    EXPECT_TRUE(fails_unchanged(pool, Error::invalid_argument, [&] { return pool.free(a, 0); }));
    EXPECT_TRUE(fails_unchanged(pool, Error::invalid_argument, [&] { return pool.free(a, 100); }));
    EXPECT_TRUE(fails_unchanged(pool, Error::out_of_range, [&] { return pool.free(outside, kPageSize); }));
    EXPECT_TRUE(fails_unchanged(pool, Error::out_of_range, [&] { return pool.free(a, 17 * kPageSize); }));
    EXPECT_TRUE(
        fails_unchanged(pool, Error::out_of_range, [&] { return pool.free(PhysAddr(~u64{0} & ~u64{0xfff}), 4096); }));
    EXPECT_TRUE(fails_unchanged(pool, Error::not_allocated, [&] { return pool.free(free_page, kPageSize); }));
    for (u64 firmware : {32 * MiB, 33 * MiB, 34 * MiB, 36 * MiB}) {
      EXPECT_TRUE(fails_unchanged(pool, Error::access_denied, [&] { return pool.free(PhysAddr(firmware), 4096); }));
    }
    EXPECT_TRUE(fails_unchanged(pool, Error::access_denied, [&] { return pool.free(book, kPageSize); }));
    // retag
    for (MemoryType t : {MemoryType::reserved, MemoryType::acpi_reclaimable, MemoryType::pool_bookkeeping, bogus}) {
      EXPECT_TRUE(fails_unchanged(pool, Error::invalid_argument, [&] { return pool.retag(a, kPageSize, t); }));
    }
    const MemoryType to = MemoryType::kernel_data;
    EXPECT_TRUE(fails_unchanged(pool, Error::misaligned, [&] { return pool.retag(a + 1, kPageSize, to); }));
    EXPECT_TRUE(fails_unchanged(pool, Error::invalid_argument, [&] { return pool.retag(a, 0, to); }));
    EXPECT_TRUE(fails_unchanged(pool, Error::invalid_argument, [&] { return pool.retag(a, 100, to); }));
    EXPECT_TRUE(fails_unchanged(pool, Error::out_of_range, [&] { return pool.retag(outside, kPageSize, to); }));
    EXPECT_TRUE(fails_unchanged(pool, Error::out_of_range, [&] { return pool.retag(below_a, 2 * kPageSize, to); }));
    for (u64 firmware : {33 * MiB, 36 * MiB}) {
      EXPECT_TRUE(fails_unchanged(pool, Error::access_denied,
                                  [&] { return pool.retag(PhysAddr(firmware), kPageSize, MemoryType::free_ram); }));
    }
    EXPECT_TRUE(fails_unchanged(pool, Error::access_denied, [&] { return pool.retag(book, kPageSize, to); }));
    // hand_over_free_ram
    for (MemoryType t : {MemoryType::free_ram, MemoryType::reserved, MemoryType::pool_bookkeeping, bogus}) {
      EXPECT_TRUE(fails_unchanged(pool, Error::invalid_argument, [&] { return pool.hand_over_free_ram(t, never); }));
    }
    EXPECT_EQ(pool.free_node_count(), spare);
  };

  every_error("plenty of spare nodes");
  use_up_spare_nodes(pool, 3);
  every_error("three spare nodes");
  use_up_spare_nodes(pool, 1);
  every_error("one spare node");
  use_up_spare_nodes(pool, 0);
  every_error("no spare node");
  EXPECT_TRUE(pool.check_invariants());
}

// With no spare node and no free RAM left, a change that needs a node fails and changes nothing; freeing or
// re-tagging a whole range (or merging) needs none and works, so the pool can always free again.
TEST(RangePool, NoSpareNodesStillFreesAndRetagsWholeRanges) {
  TestMemory mem(4 * MiB);
  RangePool pool(mem.map());
  const MemoryRange boot[] = {{0x100000, 0x100000, MemoryType::free_ram},
                              {0x200000, 0x100000, MemoryType::kernel_image}};
  ASSERT_TRUE(pool.init(boot).has_value());
  ASSERT_EQ(pool.bookkeeping_pages(), 1u);
  ASSERT_EQ(type_at(pool, 0x100000), MemoryType::pool_bookkeeping);
  // Single pages from 0x1ff000 down, of alternating types.
  use_up_spare_nodes(pool, 0);
  const MemoryType second = type_at(pool, 0x1fe000);
  ASSERT_NE(type_at(pool, 0x1ff000), second);
  std::vector<MemoryRange> free;
  pool.for_each([&](const MemoryRange& r) {
    if (r.type == MemoryType::free_ram) free.push_back(r);
  });
  ASSERT_EQ(free.size(), 1u);
  const u64 low = free[0].base, rest = free[0].size;
  ASSERT_EQ(low, 0x101000u);

  // The whole remaining free range: no split, no node, works with none spare.
  ASSERT_EQ(pool.allocate(MemoryType::page_tables, rest).value(), PhysAddr(low));
  EXPECT_EQ(pool.total_bytes(MemoryType::free_ram), 0u);
  EXPECT_EQ(pool.free_node_count(), 0u);

  // Splits need nodes, and there is no free page for more.
  EXPECT_TRUE(fails_unchanged(pool, Error::no_memory, [&] { return pool.free(PhysAddr(low + 4096), 4096); }));
  EXPECT_TRUE(fails_unchanged(pool, Error::no_memory, [&] { return pool.free(PhysAddr(low), 4096); }));
  EXPECT_TRUE(fails_unchanged(pool, Error::no_memory,
                              [&] { return pool.retag(PhysAddr(low + 4096), 4096, MemoryType::allocated); }));
  EXPECT_TRUE(fails_unchanged(pool, Error::no_memory, [&] { return pool.allocate(MemoryType::allocated, 4096); }));

  // Whole ranges: re-tag the top page (no merge), then re-tag it like its lower neighbour (merge: one node back).
  ASSERT_TRUE(pool.retag(PhysAddr(0x1ff000), kPageSize, MemoryType::page_tables).has_value());
  EXPECT_EQ(type_at(pool, 0x1ff000), MemoryType::page_tables);
  EXPECT_EQ(pool.free_node_count(), 0u);
  ASSERT_TRUE(pool.retag(PhysAddr(0x1ff000), kPageSize, second).has_value());
  EXPECT_EQ(pool.free_node_count(), 1u);

  // One spare node: a split on one side works, a split on both sides does not.
  EXPECT_TRUE(fails_unchanged(pool, Error::no_memory, [&] { return pool.free(PhysAddr(low + 4096), 4096); }));
  ASSERT_TRUE(pool.free(PhysAddr(low), kPageSize).has_value());
  EXPECT_EQ(pool.free_node_count(), 0u);

  // None spare again: freeing whole allocations works, with or without a free neighbour to merge with.
  ASSERT_TRUE(pool.free(PhysAddr(0x1fe000), 2 * kPageSize).has_value());  // the merged pair
  EXPECT_EQ(pool.free_node_count(), 0u);
  ASSERT_TRUE(pool.free(PhysAddr(low + 4096), rest - kPageSize).has_value());  // merges with the page at `low`
  EXPECT_EQ(pool.free_node_count(), 1u);
  EXPECT_EQ(pool.total_bytes(MemoryType::free_ram), rest + 2 * kPageSize);
  EXPECT_EQ(pool.total_bytes(MemoryType::page_tables), 0u);
  EXPECT_EQ(pool.bookkeeping_pages(), 1u);  // none of this needed a new page
  EXPECT_TRUE(pool.check_invariants());
}

// With too few spare nodes for a split, the pool takes one more page of free RAM for nodes: never from the range it
// is changing, even when that range is the only free RAM left but one page.
TEST(RangePool, NoSpareNodesGrowsOutsideTheRangeItChanges) {
  TestMemory mem(4 * MiB);
  const MemoryRange boot[] = {{0x100000, 0x100000, MemoryType::free_ram},
                              {0x200000, 0x100000, MemoryType::kernel_image}};
  {
    // allocate: the highest fit is the top of the free range; the new bookkeeping page goes just below it.
    RangePool pool(mem.map());
    ASSERT_TRUE(pool.init(boot).has_value());
    use_up_spare_nodes(pool, 0);
    u64 top = 0;
    pool.for_each([&](const MemoryRange& r) {
      if (r.type == MemoryType::free_ram) top = r.end();
    });
    ASSERT_EQ(pool.allocate(MemoryType::page_tables, 8 * kPageSize).value(), PhysAddr(top - 8 * kPageSize));
    EXPECT_EQ(pool.bookkeeping_pages(), 2u);
    EXPECT_EQ(type_at(pool, top - 9 * kPageSize), MemoryType::pool_bookkeeping);
    EXPECT_EQ(pool.total_bytes(MemoryType::page_tables), 8 * kPageSize);
    EXPECT_TRUE(pool.check_invariants());
  }
  {
    // allocate_at of all free RAM but its top page: that page is the only one the nodes can come from.
    RangePool pool(mem.map());
    ASSERT_TRUE(pool.init(boot).has_value());
    use_up_spare_nodes(pool, 0);
    u64 base = 0, end = 0;
    pool.for_each([&](const MemoryRange& r) {
      if (r.type == MemoryType::free_ram) base = r.base, end = r.end();
    });
    ASSERT_TRUE(pool.allocate_at(PhysAddr(base), end - base - kPageSize, MemoryType::kernel_data).has_value());
    EXPECT_EQ(type_at(pool, end - kPageSize), MemoryType::pool_bookkeeping);
    EXPECT_EQ(pool.total_bytes(MemoryType::free_ram), 0u);
    EXPECT_EQ(pool.bookkeeping_pages(), 2u);
    EXPECT_TRUE(pool.check_invariants());
  }
  {
    // allocate_at of all free RAM but its bottom page.
    RangePool pool(mem.map());
    ASSERT_TRUE(pool.init(boot).has_value());
    use_up_spare_nodes(pool, 0);
    u64 base = 0, end = 0;
    pool.for_each([&](const MemoryRange& r) {
      if (r.type == MemoryType::free_ram) base = r.base, end = r.end();
    });
    ASSERT_TRUE(
        pool.allocate_at(PhysAddr(base + kPageSize), end - base - kPageSize, MemoryType::page_tables).has_value());
    EXPECT_EQ(type_at(pool, base), MemoryType::pool_bookkeeping);
    EXPECT_EQ(pool.total_bytes(MemoryType::free_ram), 0u);
    EXPECT_TRUE(pool.check_invariants());
  }
  {
    // The whole free range needs no node: no growth, even with none spare.
    RangePool pool(mem.map());
    ASSERT_TRUE(pool.init(boot).has_value());
    use_up_spare_nodes(pool, 0);
    u64 base = 0, end = 0;
    pool.for_each([&](const MemoryRange& r) {
      if (r.type == MemoryType::free_ram) base = r.base, end = r.end();
    });
    ASSERT_TRUE(pool.allocate_at(PhysAddr(base), end - base, MemoryType::page_tables).has_value());
    EXPECT_EQ(pool.bookkeeping_pages(), 1u);
    EXPECT_EQ(pool.free_node_count(), 0u);
    EXPECT_TRUE(pool.check_invariants());
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
