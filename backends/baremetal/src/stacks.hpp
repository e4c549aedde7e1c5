#pragma once
// The boot CPU's statically allocated stacks: the boot stack (boot.S) and the IST stacks the TSS switches to for
// double faults and NMIs, which must work even when the current stack is the problem. Each has an unmapped guard
// page below it (paging::init unmaps the pages guard_pages() lists), so an overflow faults instead of corrupting
// whatever lies below. The application processors' stacks are static too, one set per possible CPU (ApStacks):
// the direct map uses 2 MiB pages, so stacks from the page allocator could not have guard pages.

#include <platypos/base/types.hpp>

#include <span>

namespace platypos::baremetal {

inline constexpr usize kPageSize = 4096;
inline constexpr usize kIstStackSize = 16 * 1024;

template <usize N>
struct alignas(kPageSize) GuardedStack {
  static_assert(N % kPageSize == 0);
  u8 guard[kPageSize];
  u8 bytes[N];

  uptr top() const { return reinterpret_cast<uptr>(bytes + N); }
  uptr guard_page() const { return reinterpret_cast<uptr>(guard); }
};

struct BootCpuStacks {
  GuardedStack<kIstStackSize> double_fault;
  GuardedStack<kIstStackSize> nmi;
};

extern constinit BootCpuStacks g_boot_cpu_stacks;

inline constexpr usize kApStackSize = 32 * 1024;  // as the boot stack

// An application processor's stacks: the one it starts on (and whose idle loop and scheduler run on it), and its
// IST stacks.
struct ApStacks {
  GuardedStack<kApStackSize> kernel;
  GuardedStack<kIstStackSize> double_fault;
  GuardedStack<kIstStackSize> nmi;
};

// Stacks of CPU `cpu` (1 <= cpu < kMaxBootCpus).
ApStacks& ap_stacks(u32 cpu);

// Addresses of the guard pages of every static stack (boot stack included).
std::span<const uptr> stack_guard_pages();

// The boot stack's bounds (boot.S).
uptr boot_stack_bottom();
uptr boot_stack_top();

}  // namespace platypos::baremetal
