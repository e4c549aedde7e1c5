// CPU exceptions on bare metal: a breakpoint (int3), an invalid opcode (ud2) and a page fault are caught through
// expect_fault() and reported with the right vector, address and error code; the code after the faulting
// instruction never runs; catchers nest.

#include <platypos/baremetal/expected_fault.hpp>
#include <platypos/baremetal/vectors.hpp>
#include <platypos/ktest/ktest.hpp>

namespace platypos::baremetal {
namespace {

KTEST(interrupts, breakpoint_is_caught) {
  uptr after_int3 = 0;
  const auto r = expect_fault(kVectorBreakpoint, [&] {
    // Store the address before executing the instruction: the fault abandons this function.
    asm volatile(
        "leaq 1f(%%rip), %%rax\n\t"
        "movq %%rax, %0\n\t"
        "int3\n"
        "1:"
        : "=m"(after_int3)
        :
        : "rax", "memory");
  });
  KASSERT_OK(r);
  KEXPECT_EQ(r.value().vector, kVectorBreakpoint);
  KEXPECT_EQ(r.value().rip, after_int3);  // a trap: rip is past the int3
  KEXPECT_EQ(r.value().error_code, 0u);
}

constinit bool g_ran_past_ud2 = false;

KTEST(interrupts, invalid_opcode_is_caught) {
  uptr ud2_at = 0;
  g_ran_past_ud2 = false;
  const auto r = expect_fault(kVectorInvalidOpcode, [&] {
    asm volatile(
        "leaq 1f(%%rip), %%rax\n\t"
        "movq %%rax, %0\n"
        "1: ud2"
        : "=m"(ud2_at)
        :
        : "rax", "memory");
    g_ran_past_ud2 = true;
  });
  KASSERT_OK(r);
  KEXPECT_EQ(r.value().vector, kVectorInvalidOpcode);
  KEXPECT_EQ(r.value().rip, ud2_at);  // a fault: rip is the faulting instruction
  KEXPECT_FALSE(g_ran_past_ud2);
}

KTEST(interrupts, page_fault_reports_address_and_error_code) {
  constexpr uptr kUnmapped = 0xdead0000;
  const auto r = expect_fault(kVectorPageFault, [] { *reinterpret_cast<volatile u64*>(kUnmapped) = 1; });
  KASSERT_OK(r);
  KEXPECT_EQ(r.value().vector, kVectorPageFault);
  KEXPECT_EQ(r.value().cr2, kUnmapped);
  KEXPECT_EQ(r.value().error_code & 1, 0u);  // page not present
  KEXPECT_EQ(r.value().error_code & 2, 2u);  // on a write
}

KTEST(interrupts, no_fault_is_not_found) {
  int calls = 0;
  const auto r = expect_fault(kVectorInvalidOpcode, [&] { ++calls; });
  KEXPECT_EQ(r.error_or_none(), Error::not_found);
  KEXPECT_EQ(calls, 1);
}

KTEST(interrupts, catchers_nest) {
  // The inner catcher waits for a breakpoint; the ud2 inside it belongs to the outer one, which abandons the inner.
  bool inner_returned = false;
  const auto outer = expect_fault(kVectorInvalidOpcode, [&] {
    const auto inner = expect_fault(kVectorBreakpoint, [] { asm volatile("ud2"); });
    (void)inner;
    inner_returned = true;
  });
  KASSERT_OK(outer);
  KEXPECT_EQ(outer.value().vector, kVectorInvalidOpcode);
  KEXPECT_FALSE(inner_returned);
  // The abandoned inner catcher is gone: a breakpoint now goes to a new catcher, not to a stale one.
  const auto again = expect_fault(kVectorBreakpoint, [] { asm volatile("int3"); });
  KEXPECT_EQ(again.error_or_none(), Error::none);
}

}  // namespace
}  // namespace platypos::baremetal
