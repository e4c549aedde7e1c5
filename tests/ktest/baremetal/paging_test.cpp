// The kernel's page tables (platypos/baremetal/paging.hpp): W^X for the image, unmapped null page and stack guard
// pages, and a direct map that reaches every byte of usable RAM (above 4 GiB too, when the machine has it).

#include <platypos/baremetal/cpu.hpp>
#include <platypos/baremetal/expected_fault.hpp>
#include <platypos/baremetal/paging.hpp>
#include <platypos/baremetal/vectors.hpp>
#include <platypos/ktest/ktest.hpp>
#include <platypos/platform.hpp>

extern "C" char platypos_boot_stack_guard[];

namespace platypos::baremetal {
namespace {

bool nx_enabled() { return (rdmsr(kMsrEfer) & kEferNxe) != 0; }

[[gnu::noinline]] void some_function() { asm volatile(""); }

// Address taken and const: placed in .rodata.
const u64 g_read_only = 42;
constinit u64 g_writable = 1;

KTEST(paging, text_is_read_only_and_executable) {
  const auto m = paging::translate(reinterpret_cast<uptr>(&some_function));
  KASSERT_OK(m);
  KEXPECT_FALSE(m.value().writable);
  KEXPECT_TRUE(m.value().executable);
  KEXPECT_EQ(m.value().page_size, 4096u);
  KEXPECT_EQ(m.value().phys, reinterpret_cast<uptr>(&some_function) - paging::kKernelVirtOffset);
}

KTEST(paging, rodata_is_read_only) {
  const auto m = paging::translate(reinterpret_cast<uptr>(&g_read_only));
  KASSERT_OK(m);
  KEXPECT_FALSE(m.value().writable);
  if (nx_enabled()) KEXPECT_FALSE(m.value().executable);
  const auto r = expect_fault(kVectorPageFault, [] { *const_cast<volatile u64*>(&g_read_only) = 7; });
  KASSERT_OK(r);
  KEXPECT_EQ(r.value().cr2, reinterpret_cast<uptr>(&g_read_only));
  KEXPECT_EQ(r.value().error_code & 3, 3u);  // present page, write: a protection violation
  const u64 value = *static_cast<const volatile u64*>(&g_read_only);
  KEXPECT_EQ(value, 42u);
}

KTEST(paging, data_is_writable_and_not_executable) {
  const auto m = paging::translate(reinterpret_cast<uptr>(&g_writable));
  KASSERT_OK(m);
  KEXPECT_TRUE(m.value().writable);
  if (nx_enabled()) KEXPECT_FALSE(m.value().executable);
}

KTEST(paging, null_page_and_low_memory_are_unmapped) {
  // The boot identity map is gone: low virtual addresses fault.
  KEXPECT_EQ(paging::translate(0).error_or_none(), Error::not_found);
  KEXPECT_EQ(paging::translate(0x100000).error_or_none(), Error::not_found);
  volatile uptr address = 8;
  const auto r = expect_fault(kVectorPageFault, [&] { (void)*reinterpret_cast<volatile u64*>(address); });
  KASSERT_OK(r);
  KEXPECT_EQ(r.value().cr2, 8u);
}

KTEST(paging, stack_guard_page_is_unmapped) {
  const auto guard = reinterpret_cast<uptr>(platypos_boot_stack_guard);
  KEXPECT_EQ(paging::translate(guard).error_or_none(), Error::not_found);
  KEXPECT_EQ(paging::translate(guard + 4095).error_or_none(), Error::not_found);
  KEXPECT_OK(paging::translate(guard + 4096));  // the stack itself
  const auto r = expect_fault(kVectorPageFault, [guard] { (void)*reinterpret_cast<volatile u8*>(guard + 100); });
  KASSERT_OK(r);
  KEXPECT_EQ(r.value().cr2, guard + 100);
}

KTEST(paging, direct_map_covers_usable_ram) {
  u64 checked = 0;
  for (const MemoryRange& r : Platform::boot_memory_map()) {
    if (r.type != MemoryType::free_ram || r.size == 0) continue;
    for (u64 phys : {r.base, r.base + r.size / 2, r.end() - 1}) {
      const auto virt = reinterpret_cast<uptr>(Platform::phys_to_virt(phys));
      KEXPECT_EQ(virt, paging::kDirectMapBase + phys);
      const auto m = paging::translate(virt);
      KASSERT_OK(m);
      KEXPECT_EQ(m.value().phys, phys);
      KEXPECT_TRUE(m.value().writable);
      if (nx_enabled()) KEXPECT_FALSE(m.value().executable);
      const auto fault = expect_fault(kVectorPageFault, [virt] { (void)*reinterpret_cast<volatile u8*>(virt); });
      KEXPECT_EQ(fault.error_or_none(), Error::not_found);
      ++checked;
    }
  }
  KEXPECT_GT(checked, 0u);
  KEXPECT_GE(paging::direct_map_size(), 4 * GiB);
}

}  // namespace
}  // namespace platypos::baremetal
