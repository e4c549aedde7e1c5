// Trace points above PLATYPOS_TRACE_MAX_LEVEL compile to nothing. This file is built as if the build had been
// configured with PLATYPOS_TRACE_MAX_LEVEL=coarse (the macro is read where PLATYPOS_TRACE expands, so one file can
// differ from the rest without breaking the one-definition rule): with a tracer recording everything, only coarse
// events are recorded here, and the arguments of the others are never evaluated.

#undef PLATYPOS_TRACE_MAX_LEVEL
#define PLATYPOS_TRACE_MAX_LEVEL 1

#include <platypos/trace/trace.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace platypos::trace {
namespace {

int g_evaluated = 0;
u64 counted(u64 v) {
  ++g_evaluated;
  return v;
}

TEST(TraceCompiledOut, EventsAboveTheBuildLevelAreNotInTheCode) {
  std::vector<TraceRecord> slots(16);
  auto tracer = std::make_unique<Tracer>();
  tracer->attach_ring(0, slots.data(), 16);
  tracer->start(Level::fine);                                // the run-time level would record all of them
  PLATYPOS_TRACE(buddy_alloc, counted(0x1000), counted(0));  // fine: compiled out
  PLATYPOS_TRACE(sched_block, counted(3));                   // normal: compiled out
  PLATYPOS_TRACE(marker, counted(1), 0, "kept");             // coarse: recorded
  tracer->stop();
  EXPECT_EQ(g_evaluated, 1);
  std::vector<u16> events;
  tracer->ring(0).consume(16, [&](const TraceEvent& e) { events.push_back(e.event); });
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0], static_cast<u16>(EventId::marker));
}

}  // namespace
}  // namespace platypos::trace
