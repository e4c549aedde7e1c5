// An unexpected CPU exception inside a test: the exception handler reports it and panics, the ktest panic hook
// reports the test failed, and the machine stops with a failure status. KTEST_EXPLICIT: only `ktest=selftest_fault`
// runs it (tests/qemu/CMakeLists.txt checks the outcome).

#include <platypos/ktest/ktest.hpp>

namespace platypos {
namespace {

[[gnu::noinline]] void write_to_unmapped_memory() {
  *reinterpret_cast<volatile u64*>(0xdead0000) = 1;
  asm volatile("");
}

KTEST_EXPLICIT(selftest_fault, unexpected_page_fault) {
  write_to_unmapped_memory();
  asm volatile("");
}

}  // namespace
}  // namespace platypos
