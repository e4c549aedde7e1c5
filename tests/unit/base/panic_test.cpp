#include <platypos/base/assert.hpp>
#include <platypos/base/print.hpp>
#include <platypos/hosted/console.hpp>

#include <gtest/gtest.h>

namespace platypos {
namespace {

[[gnu::noinline]] void deep_function_that_panics(int v) { PLATYPOS_PANIC("bad value {:#x} in {}", v, "ring"); }
[[gnu::noinline]] void caller_of_the_panic(int v) {
  deep_function_that_panics(v);
  asm volatile("");  // keep this frame (no tail call)
}

using PanicDeathTest = ::testing::Test;

TEST_F(PanicDeathTest, ReportsMessageFileLineAndSymbolizedBacktrace) {
  EXPECT_EXIT(caller_of_the_panic(0xbad), ::testing::ExitedWithCode(hosted::kPanicExitCode),
              "KERNEL PANIC on cpu 0 at .*panic_test.cpp:[0-9]+: bad value 0xbad in ring\n"
              "backtrace:\n"
              "  #0 +0x[0-9a-f]+ .*deep_function_that_panics.*\n"
              "  #1 +0x[0-9a-f]+ .*caller_of_the_panic");
}

TEST_F(PanicDeathTest, AssertShowsTheCondition) {
  const int order = 12;
  EXPECT_EXIT(PLATYPOS_ASSERT(order <= 10, "order {} too large", order),
              ::testing::ExitedWithCode(hosted::kPanicExitCode), "assertion failed: order <= 10: order 12 too large");
}

bool g_hook_ran = false;
void hook() {
  g_hook_ran = true;
  print("panic hook ran\n");
}

TEST_F(PanicDeathTest, HookRunsAfterTheReport) {
  EXPECT_EXIT(
      {
        set_panic_hook(&hook);
        PLATYPOS_PANIC("with hook");
      },
      ::testing::ExitedWithCode(hosted::kPanicExitCode), "with hook\n(.|\n)*panic hook ran");
}

TEST(Print, GoesToTheConsoleLineByLine) {
  ::testing::internal::CaptureStderr();
  print("hello {} ", 1);
  print("world\n");
  hosted::console_logger().flush();
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "hello 1 world\n");
}

}  // namespace
}  // namespace platypos
