// Self-tests of the test machinery: tests that fail on purpose. They are KTEST_EXPLICIT, so ordinary runs stay
// green; the harness selects them (`ktest=selftest`, `ktest=selftest_panic`, `ktest=selftest_hang`) and requires
// the run to fail, with the right per-test lines and summary (tests/ktest/CMakeLists.txt, tests/qemu/CMakeLists.txt).

#include <platypos/base/assert.hpp>
#include <platypos/ktest/ktest.hpp>
#include <platypos/platform.hpp>

namespace platypos {
namespace {

KTEST_EXPLICIT(selftest, passes) { KEXPECT_EQ(2 + 2, 4); }

constinit bool g_after_failed_expectation = false;

KTEST_EXPLICIT(selftest, expectation_fails) {
  KEXPECT_EQ(1 + 1, 3);
  // A failed KEXPECT lets the test go on.
  g_after_failed_expectation = true;
  KEXPECT_TRUE(g_after_failed_expectation);
}

KTEST_EXPLICIT(selftest, assertion_ends_the_test) {
  KASSERT_EQ(1, 2);
  PLATYPOS_PANIC("KASSERT_EQ did not end the test");
}

[[gnu::noinline]] void panic_in_helper(int v) { PLATYPOS_PANIC("deliberate panic inside a test ({})", v); }

KTEST_EXPLICIT(selftest_panic, panics) {
  panic_in_helper(7);
  asm volatile("");  // keep this frame (no tail call): the backtrace names the test body
}

// Never ends: the harness's timeout must (the QEMU runner names the test that was running).
KTEST_EXPLICIT(selftest_hang, idles_forever) {
  for (;;) Platform::cpu_idle();
}

}  // namespace
}  // namespace platypos
