#pragma once
// The ktest runner, the same on both backends: the hosted ktest binary and the kernel (`ktest` on its command line)
// both call run() with registered_tests() and map the Summary to how the machine stops.
//
// Output, one line per test and a closing summary (the QEMU and ctest harnesses match on the last line):
//
//   ktest: running 9 of 12 tests (selection: all)
//   [ RUN      ] platform.clock_is_monotonic
//   [       OK ] platform.clock_is_monotonic (0 ms)
//   [ RUN      ] selftest.fails
//     /src/tests/ktest/selftest_test.cpp:14: KEXPECT_EQ failed: 1 + 1 == 3
//   ...
//   [  FAILED  ] selftest.fails (0 ms)
//   ktest: 8 passed, 1 failed
//
// A test that panics (a failed PLATYPOS_ASSERT, or on bare metal an unexpected CPU exception, which panics) cannot
// continue: the panic hook that run() installs reports it `[  FAILED  ] ... (panicked)` and prints the summary with
// the tests that did not run, then the panic stops the machine with ExitStatus::panic. A test that hangs is the
// harness's to catch (ctest and the QEMU runner enforce timeouts).
//
// Tests run one at a time on the calling CPU; run() is not reentrant.

#include <platypos/ktest/test_case.hpp>
#include <platypos/platform_types.hpp>

#include <string_view>

namespace platypos::ktest {

struct Summary {
  u32 passed = 0;
  u32 failed = 0;
};

// Whether `selection` selects `test`. The empty selection selects every test except the KTEST_EXPLICIT ones. Any
// other selection is a comma-separated list of patterns, each a suite ("interrupts") or one test
// ("interrupts.breakpoint_is_caught"); a test is selected when some pattern names it or its suite.
bool is_selected(const TestCase& test, std::string_view selection);

// Runs the selected tests in order and prints the report. A selection that matches no test, and two tests with the
// same suite and name, count as failures (a typo must not pass as an empty green run).
Summary run(TestList tests, std::string_view selection);

// success when at least one test ran and none failed, failure otherwise.
ExitStatus exit_status(const Summary& summary);

namespace detail {
// Marks the running test failed. Panics when no test is running (checks belong in test bodies).
void note_failure();
}  // namespace detail

}  // namespace platypos::ktest
