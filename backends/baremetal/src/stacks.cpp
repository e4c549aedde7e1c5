#include "stacks.hpp"

extern "C" char platypos_boot_stack_guard[];
extern "C" char platypos_boot_stack_top[];

namespace platypos::baremetal {

constinit BootCpuStacks g_boot_cpu_stacks;

namespace {
constinit uptr g_guards[3] = {};
}

std::span<const uptr> stack_guard_pages() {
  g_guards[0] = reinterpret_cast<uptr>(platypos_boot_stack_guard);
  g_guards[1] = g_boot_cpu_stacks.double_fault.guard_page();
  g_guards[2] = g_boot_cpu_stacks.nmi.guard_page();
  return g_guards;
}

uptr boot_stack_bottom() { return reinterpret_cast<uptr>(platypos_boot_stack_guard) + kPageSize; }
uptr boot_stack_top() { return reinterpret_cast<uptr>(platypos_boot_stack_top); }

}  // namespace platypos::baremetal
