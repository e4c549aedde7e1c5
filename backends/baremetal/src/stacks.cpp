#include "stacks.hpp"

#include "percpu.hpp"

extern "C" char platypos_boot_stack_guard[];
extern "C" char platypos_boot_stack_top[];

namespace platypos::baremetal {

constinit BootCpuStacks g_boot_cpu_stacks;

namespace {
constinit ApStacks g_ap_stacks[kMaxBootCpus - 1];
constexpr usize kGuards = 3 + 3 * (kMaxBootCpus - 1);
constinit uptr g_guards[kGuards] = {};
}  // namespace

ApStacks& ap_stacks(u32 cpu) { return g_ap_stacks[cpu - 1]; }

std::span<const uptr> stack_guard_pages() {
  usize n = 0;
  g_guards[n++] = reinterpret_cast<uptr>(platypos_boot_stack_guard);
  g_guards[n++] = g_boot_cpu_stacks.double_fault.guard_page();
  g_guards[n++] = g_boot_cpu_stacks.nmi.guard_page();
  for (ApStacks& s : g_ap_stacks) {
    g_guards[n++] = s.kernel.guard_page();
    g_guards[n++] = s.double_fault.guard_page();
    g_guards[n++] = s.nmi.guard_page();
  }
  return g_guards;
}

uptr boot_stack_bottom() { return reinterpret_cast<uptr>(platypos_boot_stack_guard) + kPageSize; }
uptr boot_stack_top() { return reinterpret_cast<uptr>(platypos_boot_stack_top); }

}  // namespace platypos::baremetal
