#include <platypos/mm/addr.hpp>

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace platypos {
namespace {

TEST(PhysAddr, AlignmentAndArithmetic) {
  PhysAddr a(0x12345);
  EXPECT_FALSE(a.is_page_aligned());
  EXPECT_EQ(a.page_down(), PhysAddr(0x12000));
  EXPECT_EQ(a.page_number(), 0x12u);
  EXPECT_EQ((a + 0x1000).value(), 0x13345u);
  EXPECT_EQ(PhysAddr(0x3000) - PhysAddr(0x1000), 0x2000u);
  EXPECT_TRUE(PhysAddr(0x200000).is_aligned(2 * MiB));
  EXPECT_LT(PhysAddr(1), PhysAddr(2));
}

TEST(PhysAddr, CheckedAddReportsWrapAround) {
  EXPECT_EQ(PhysAddr(~u64{0} - 1).checked_add(1).value(), PhysAddr(~u64{0}));
  EXPECT_EQ(PhysAddr(~u64{0}).checked_add(1).error(), Error::out_of_range);
  EXPECT_EQ(VirtAddr(~u64{0}).checked_add(2).error(), Error::out_of_range);
}

TEST(PageRange, ValidatesEverything) {
  EXPECT_EQ(PageRange::make(PhysAddr(0x1001), kPageSize).error(), Error::misaligned);
  EXPECT_EQ(PageRange::make(PhysAddr(0x1000), 0).error(), Error::invalid_argument);
  EXPECT_EQ(PageRange::make(PhysAddr(0x1000), 100).error(), Error::invalid_argument);
  EXPECT_EQ(PageRange::make(PhysAddr(~u64{0} & ~0xfffull), 2 * kPageSize).error(), Error::out_of_range);
  // The very last page is representable: last() does not wrap.
  auto top = PageRange::make(PhysAddr(~u64{0} & ~0xfffull), kPageSize);
  ASSERT_TRUE(top.has_value());
  EXPECT_EQ(top->last(), ~u64{0});
  EXPECT_EQ(PageRange::from_pages(PhysAddr(0), ~u64{0}).error(), Error::out_of_range);
}

TEST(PageRange, ContainsAndOverlaps) {
  auto r = PageRange::make(PhysAddr(0x10000), 0x4000).value();
  EXPECT_EQ(r.pages(), 4u);
  EXPECT_EQ(r.size_bytes(), 0x4000u);
  EXPECT_TRUE(r.contains(PhysAddr(0x10000)));
  EXPECT_TRUE(r.contains(PhysAddr(0x13fff)));
  EXPECT_FALSE(r.contains(PhysAddr(0x14000)));
  EXPECT_TRUE(r.contains(PageRange::make(PhysAddr(0x11000), 0x2000).value()));
  EXPECT_FALSE(r.contains(PageRange::make(PhysAddr(0x13000), 0x2000).value()));
  EXPECT_TRUE(r.overlaps(PageRange::make(PhysAddr(0x13000), 0x2000).value()));
  EXPECT_FALSE(r.overlaps(PageRange::make(PhysAddr(0x14000), 0x2000).value()));
}

TEST(DirectMap, RoundTrips) {
  alignas(4096) static std::byte backing[4 * 4096];
  DirectMap m(reinterpret_cast<uptr>(backing));
  EXPECT_EQ(m.to_virt(PhysAddr(0x2000)), static_cast<void*>(backing + 0x2000));
  EXPECT_EQ(m.to_phys(backing + 0x1234), PhysAddr(0x1234));
}

}  // namespace
}  // namespace platypos
