// TraceRing and Tracer on one thread: order, wraparound, drops, the consumer waiting at an uncommitted slot (what an
// interrupt in the middle of a recording leaves behind), typed arguments, levels.

#include <platypos/trace/trace.hpp>
#include <platypos/tracectl/ring_memory.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "mm/buddy_fixture.hpp"
#include "test_support.hpp"

namespace platypos::trace {
namespace {

struct Ring {
  explicit Ring(u32 capacity) : slots(capacity) { ring.init(slots.data(), capacity); }
  std::vector<TraceEvent> drain(usize max = ~usize{0}) {
    std::vector<TraceEvent> out;
    ring.consume(max, [&](const TraceEvent& e) { out.push_back(e); });
    return out;
  }
  // A record with one argument, the way emit() makes one.
  bool put(u64 value) {
    u64 pos = 0;
    TraceRecord* r = ring.reserve(&pos);
    if (r == nullptr) return false;
    r->ticks = value;
    r->args[0] = value;
    TraceRing::commit(r, pos);
    return true;
  }
  std::vector<TraceRecord> slots;
  TraceRing ring;
};

TEST(TraceRing, RecordsComeOutInOrder) {
  Ring r(8);
  for (u64 v = 1; v <= 5; ++v) ASSERT_TRUE(r.put(v));
  const auto got = r.drain();
  ASSERT_EQ(got.size(), 5u);
  for (u64 i = 0; i < 5; ++i) EXPECT_EQ(got[i].args[0], i + 1);
  EXPECT_EQ(r.ring.reserved(), 5u);
  EXPECT_EQ(r.ring.consumed(), 5u);
  EXPECT_TRUE(r.drain().empty());
}

TEST(TraceRing, WrapsAroundManyTimesWithoutLosingOrMixingRecords) {
  Ring r(8);
  u64 next = 0, expect = 0;
  for (int round = 0; round < 1000; ++round) {
    const int n = 1 + round % 8;  // 1..8: every fill level, including exactly full
    for (int i = 0; i < n; ++i) ASSERT_TRUE(r.put(next++)) << "round " << round;
    // Drain in two steps sometimes, so the tail stops at every slot.
    const auto first = r.drain(static_cast<usize>(round % 3));
    const auto rest = r.drain();
    ASSERT_EQ(first.size() + rest.size(), static_cast<usize>(n));
    for (const auto* part : {&first, &rest})
      for (const TraceEvent& e : *part) ASSERT_EQ(e.args[0], expect++);
  }
  EXPECT_EQ(r.ring.reserved(), next);
  EXPECT_EQ(r.ring.consumed(), next);
  EXPECT_EQ(r.ring.dropped(), 0u);
  EXPECT_GT(next / 8, 500u);  // hundreds of laps
}

TEST(TraceRing, FullRingDropsAndCountsEveryRecordItCouldNotKeep) {
  Ring r(16);
  u64 kept = 0;
  for (u64 v = 0; v < 100; ++v) kept += r.put(v) ? 1 : 0;
  EXPECT_EQ(kept, 16u);
  EXPECT_EQ(r.ring.dropped(), 84u);
  const auto got = r.drain();
  ASSERT_EQ(got.size(), 16u);
  for (u64 i = 0; i < 16; ++i) EXPECT_EQ(got[i].args[0], i);  // the oldest are kept, the newest dropped
  // Room again: records are kept, and the drop count stays.
  for (u64 v = 100; v < 110; ++v) EXPECT_TRUE(r.put(v));
  EXPECT_EQ(r.drain().size(), 10u);
  EXPECT_EQ(r.ring.dropped(), 84u);
  EXPECT_EQ(r.ring.reserved() + r.ring.dropped(), 110u);
}

TEST(TraceRing, ConsumerWaitsAtAReservedButUncommittedSlot) {
  // What an interrupt in the middle of a recording leaves: the interrupted recording holds slot 0, the handler's
  // recording takes slot 1 and commits first.
  Ring r(8);
  u64 outer_pos = 0, inner_pos = 0;
  TraceRecord* outer = r.ring.reserve(&outer_pos);
  ASSERT_NE(outer, nullptr);
  EXPECT_EQ(r.ring.uncommitted(), 1u);
  TraceRecord* inner = r.ring.reserve(&inner_pos);
  ASSERT_NE(inner, nullptr);
  EXPECT_EQ(inner_pos, outer_pos + 1);
  EXPECT_NE(inner, outer);
  inner->args[0] = 2;
  TraceRing::commit(inner, inner_pos);
  EXPECT_EQ(r.ring.uncommitted(), 1u);  // the outer one still
  EXPECT_TRUE(r.drain().empty());       // nothing passes the uncommitted slot
  outer->args[0] = 1;
  TraceRing::commit(outer, outer_pos);
  const auto got = r.drain();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].args[0], 1u);  // reservation order
  EXPECT_EQ(got[1].args[0], 2u);
}

TEST(TraceRing, ASlotFromAnEarlierLapIsNotTakenForANewRecord) {
  Ring r(4);
  for (u64 v = 0; v < 4; ++v) ASSERT_TRUE(r.put(v));
  ASSERT_EQ(r.drain().size(), 4u);
  // Position 4 reuses slot 0, whose marker still says "position 0 committed".
  u64 pos = 0;
  TraceRecord* slot = r.ring.reserve(&pos);
  ASSERT_NE(slot, nullptr);
  EXPECT_EQ(pos, 4u);
  EXPECT_EQ(slot, &r.slots[0]);
  EXPECT_TRUE(r.drain().empty());
  TraceRing::commit(slot, pos);
  EXPECT_EQ(r.drain().size(), 1u);
}

TEST(TraceRing, WithoutSlotsEveryRecordIsDropped) {
  TraceRing ring;
  u64 pos = 0;
  EXPECT_EQ(ring.reserve(&pos), nullptr);
  EXPECT_EQ(ring.dropped(), 1u);
}

// --- Tracer: the recording path -----------------------------------------------------------------------------------

class TracerTest : public ::testing::Test {
 protected:
  TracerTest() : slots_(64), tracer_(std::make_unique<Tracer>()) { tracer_->attach_ring(0, slots_.data(), 64); }
  ~TracerTest() override { tracer_->stop(); }
  std::vector<TraceEvent> drain() {
    std::vector<TraceEvent> out;
    tracer_->ring(0).consume(~usize{0}, [&](const TraceEvent& e) { out.push_back(e); });
    return out;
  }
  std::vector<TraceRecord> slots_;
  std::unique_ptr<Tracer> tracer_;
};

void entry_function(void*) {}

std::string str_arg(const TraceEvent& e, u32 word) {
  char s[kMaxStringBytes + 1] = {};
  __builtin_memcpy(s, &e.args[word], kMaxStringBytes);
  return s;
}

TEST_F(TracerTest, RecordsTypedArgumentsTheTaskAndTheTime) {
  tracer_->start(Level::fine);
  set_current_task(0, 77);
  const u64 t0 = Platform::ticks();
  PLATYPOS_TRACE(marker, 42, 0xabcdef, "a label longer than sixteen bytes");
  PLATYPOS_TRACE(sched_timer, -5);
  PLATYPOS_TRACE(task_new, 9, 0x100, &entry_function, "worker");
  set_current_task(0, 0);
  const auto got = drain();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].event, static_cast<u16>(EventId::marker));
  EXPECT_EQ(got[0].task, 77u);
  EXPECT_GE(got[0].ticks, t0);
  EXPECT_EQ(got[0].args[0], 42u);
  EXPECT_EQ(got[0].args[1], 0xabcdefu);
  EXPECT_EQ(str_arg(got[0], 2), "a label longer t");  // cut at 16 bytes
  EXPECT_EQ(static_cast<i64>(got[1].args[0]), -5);
  EXPECT_EQ(got[2].args[0], 9u);
  EXPECT_EQ(got[2].args[1], 0x100u);
  EXPECT_EQ(got[2].args[2], reinterpret_cast<uptr>(&entry_function));
  EXPECT_EQ(str_arg(got[2], 3), "worker");
}

int g_evaluated = 0;
u64 side_effect() {
  ++g_evaluated;
  return 1;
}

TEST_F(TracerTest, LevelsFilterAtRunTimeWithoutEvaluatingArguments) {
  g_evaluated = 0;
  // No active tracer: nothing recorded, arguments never evaluated.
  PLATYPOS_TRACE(marker, side_effect(), 0, "x");
  EXPECT_EQ(g_evaluated, 0);
  tracer_->start(Level::coarse);
  PLATYPOS_TRACE(sched_block, side_effect());     // normal: above coarse
  PLATYPOS_TRACE(buddy_alloc, side_effect(), 0);  // fine
  EXPECT_EQ(g_evaluated, 0);
  PLATYPOS_TRACE(marker, side_effect(), 1, "coarse");
  EXPECT_EQ(g_evaluated, 1);
  tracer_->stop();
  tracer_->start(Level::normal);
  PLATYPOS_TRACE(sched_block, 5);
  PLATYPOS_TRACE(buddy_alloc, 0x1000, 0);
  tracer_->stop();
  PLATYPOS_TRACE(marker, side_effect(), 2, "stopped");
  EXPECT_EQ(g_evaluated, 1);
  const auto got = drain();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].event, static_cast<u16>(EventId::marker));
  EXPECT_EQ(got[1].event, static_cast<u16>(EventId::sched_block));
  EXPECT_EQ(got[1].args[0], 5u);
}

TEST_F(TracerTest, OnlyOneTracerIsActive) {
  tracer_->start(Level::normal);
  EXPECT_TRUE(tracer_->active());
  auto other = std::make_unique<Tracer>();
  EXPECT_DEATH(other->start(Level::normal), "another tracer is already active");
  tracer_->stop();
  EXPECT_FALSE(tracer_->active());
}

TEST(Tracer, RingsComeFromPagesAndGoBack) {
  // A page source over host memory: a buddy allocator of 8 MiB.
  test::BuddyFixture pages(16 * MiB, test::kNoRegions);
  ASSERT_TRUE(pages.add(8 * MiB, 8 * MiB).has_value());
  BuddyAllocator& buddy = pages.buddy;
  const u64 free_before = buddy.stats().free_pages;
  {
    Tracer t;
    tracectl::TraceRingMemory rings(t);
    EXPECT_EQ(rings.allocate(PageSource(buddy), 4, 3).error(), Error::invalid_argument);  // not a power of two
    ASSERT_TRUE(rings.allocate(PageSource(buddy), 4, 1024).has_value());                  // 64 KiB each
    EXPECT_EQ(t.cpu_count(), 4u);
    EXPECT_EQ(t.ring(3).capacity(), 1024u);
    EXPECT_EQ(buddy.stats().free_pages, free_before - 4 * 16);
    EXPECT_EQ(rings.allocate(PageSource(buddy), 4, 1024).error(), Error::invalid_argument);  // already has rings
    // Too large for what is left: nothing kept.
    Tracer big;
    tracectl::TraceRingMemory big_rings(big);
    EXPECT_EQ(big_rings.allocate(PageSource(buddy), 64, 65536).error(), Error::no_memory);
    EXPECT_EQ(big.cpu_count(), 0u);
    EXPECT_EQ(buddy.stats().free_pages, free_before - 4 * 16);
  }
  EXPECT_EQ(buddy.stats().free_pages, free_before);
}

}  // namespace
}  // namespace platypos::trace
