// Context switching through the hosted Platform (Boost.Context fibers).

#include <platypos/platform.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace platypos {
namespace {

struct PingPong {
  Platform::Context main;
  Platform::Context fiber;
  std::vector<std::string> trace;
  int rounds = 0;
};

void fiber_body(void* arg) {
  auto* pp = static_cast<PingPong*>(arg);
  for (int i = 0;; ++i) {
    pp->trace.push_back("fiber " + std::to_string(i));
    ++pp->rounds;
    Platform::context_switch(pp->fiber, pp->main);
  }
}

TEST(HostedContext, SwitchesBackAndForthKeepingState) {
  alignas(16) static std::byte stack[64 * 1024];
  PingPong pp;
  Platform::context_init(pp.fiber, stack, sizeof stack, &fiber_body, &pp);
  for (int i = 0; i < 3; ++i) {
    pp.trace.push_back("main " + std::to_string(i));
    Platform::context_switch(pp.main, pp.fiber);
  }
  EXPECT_EQ(pp.trace, (std::vector<std::string>{"main 0", "fiber 0", "main 1", "fiber 1", "main 2", "fiber 2"}));
  EXPECT_EQ(pp.rounds, 3);
}

// A chain of contexts passing control in a ring: A -> B -> C -> main. Each runs on its own stack.
struct Ring {
  Platform::Context main;
  Platform::Context ctx[3];
  int visits[3] = {};
  void* stack_seen[3] = {};
};
Ring* g_ring = nullptr;

void ring_body(void* arg) {
  const auto i = reinterpret_cast<uptr>(arg);
  int local = static_cast<int>(i) * 100;  // lives on this context's stack across switches
  for (;;) {
    g_ring->stack_seen[i] = &local;
    ++g_ring->visits[i];
    ++local;
    Platform::context_switch(g_ring->ctx[i], i == 2 ? g_ring->main : g_ring->ctx[i + 1]);
    EXPECT_EQ(local, static_cast<int>(i) * 100 + g_ring->visits[i]);
  }
}

TEST(HostedContext, RingOfContextsOnSeparateStacks) {
  alignas(16) static std::byte stacks[3][32 * 1024];
  Ring ring;
  g_ring = &ring;
  for (uptr i = 0; i < 3; ++i) {
    Platform::context_init(ring.ctx[i], stacks[i], sizeof stacks[i], &ring_body, reinterpret_cast<void*>(i));
  }
  for (int round = 0; round < 5; ++round) Platform::context_switch(ring.main, ring.ctx[0]);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(ring.visits[i], 5);
    auto* seen = static_cast<std::byte*>(ring.stack_seen[i]);
    EXPECT_GE(seen, stacks[i]);
    EXPECT_LT(seen, stacks[i] + sizeof stacks[i]);
  }
  g_ring = nullptr;
}

using HostedContextDeathTest = ::testing::Test;

void returning_body(void*) {}

TEST_F(HostedContextDeathTest, ReturningFromTheEntryPanics) {
  EXPECT_DEATH(
      {
        alignas(16) static std::byte stack[32 * 1024];
        Platform::Context main;
        Platform::Context c;
        Platform::context_init(c, stack, sizeof stack, &returning_body, nullptr);
        Platform::context_switch(main, c);
      },
      "context entry .* returned");
}

TEST_F(HostedContextDeathTest, SwitchingToARunningContextPanics) {
  EXPECT_DEATH(
      {
        Platform::Context main;
        Platform::Context never_initialized;
        Platform::context_switch(main, never_initialized);
      },
      "switching to a context that is running or was never initialized");
}

// Runs off the end of its stack (as deep recursion would, where host memory has no guard page), then switches away.
struct Overflow {
  Platform::Context main;
  Platform::Context c;
  std::byte* stack = nullptr;
};
void overflowing_body(void* arg) {
  auto* o = static_cast<Overflow*>(arg);
  volatile std::byte* bottom = o->stack;
  bottom[8] = std::byte{0x42};  // the canary words at the stack's lowest address
  Platform::context_switch(o->c, o->main);
}

TEST_F(HostedContextDeathTest, RunningOffTheEndOfTheStackPanicsAtTheNextSwitch) {
  EXPECT_DEATH(
      {
        alignas(16) static std::byte stack[32 * 1024];
        static Overflow o;
        o.stack = stack;
        Platform::context_init(o.c, stack, sizeof stack, &overflowing_body, &o);
        Platform::context_switch(o.main, o.c);
      },
      "stack overflow: the context running on .* wrote below the end of its stack");
}

}  // namespace
}  // namespace platypos
