#include "gdt.hpp"

#include "percpu.hpp"
#include "stacks.hpp"

#include <cstddef>

namespace platypos::baremetal::gdt {
namespace {

// The 64-bit TSS (Intel SDM vol. 3, "Task Management in 64-bit Mode").
struct [[gnu::packed]] Tss {
  u32 reserved0;
  u64 rsp[3];
  u64 reserved1;
  u64 ist[7];  // ist[0] is IST1
  u64 reserved2;
  u16 reserved3;
  u16 iomap_base;
};
static_assert(sizeof(Tss) == 104);
static_assert(offsetof(Tss, ist) == 36);

struct [[gnu::packed]] DescriptorPointer {
  u16 limit;
  u64 base;
};

constexpr u64 kCode64 = 0x00af9a000000ffff;      // present, ring 0, execute/read, L (64-bit)
constexpr u64 kData = 0x00cf92000000ffff;        // present, ring 0, read/write
constexpr u64 kUserCode64 = 0x00affa000000ffff;  // present, ring 3, execute/read, L (64-bit)
constexpr u64 kUserData64 = 0x00cff2000000ffff;  // present, ring 3, read/write
constexpr u64 kTssAvailable = 0x89;          // present, type 9: available 64-bit TSS

struct alignas(16) CpuTables {
  u64 gdt[8];  // null, kernel code, kernel data, (user 32-bit code: null), user data, user code, TSS (two slots)
  Tss tss;
};

constinit CpuTables g_cpu_tables[kMaxBootCpus] = {};

void load(CpuTables& t, uptr double_fault_stack, uptr nmi_stack) {
  t.tss.ist[kIstDoubleFault - 1] = double_fault_stack;
  t.tss.ist[kIstNmi - 1] = nmi_stack;
  t.tss.iomap_base = sizeof(Tss);  // no I/O permission bitmap

  const u64 base = reinterpret_cast<uptr>(&t.tss);
  const u64 limit = sizeof(Tss) - 1;
  t.gdt[0] = 0;
  t.gdt[kKernelCode / 8] = kCode64;
  t.gdt[kKernelData / 8] = kData;
  t.gdt[kUserBase / 8] = 0;
  t.gdt[(kUserData & ~3) / 8] = kUserData64;
  t.gdt[(kUserCode & ~3) / 8] = kUserCode64;
  t.gdt[kTss / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (kTssAvailable << 40) | ((limit >> 16 & 0xf) << 48) |
                    ((base >> 24 & 0xff) << 56);
  t.gdt[kTss / 8 + 1] = base >> 32;

  const DescriptorPointer ptr{sizeof t.gdt - 1, reinterpret_cast<uptr>(t.gdt)};
  // Reload CS with a far return, then the data segments, then the task register.
  asm volatile(
      "lgdt %0\n\t"
      "pushq %1\n\t"
      "leaq 1f(%%rip), %%rax\n\t"
      "pushq %%rax\n\t"
      "lretq\n"
      "1:\n\t"
      "movw %w2, %%ax\n\t"
      "movw %%ax, %%ds\n\t"
      "movw %%ax, %%es\n\t"
      "movw %%ax, %%ss\n\t"
      "ltr %w3"
      :
      : "m"(ptr), "i"(u64{kKernelCode}), "r"(u32{kKernelData}), "r"(u32{kTss})
      : "rax", "memory");
}

}  // namespace

void* rsp0_slot() {
  // At offset 4 of the TSS, so not 8-byte aligned: only platypos_enter_user's movq writes it (x86 allows that).
  return reinterpret_cast<unsigned char*>(&g_cpu_tables[this_cpu().id].tss) + offsetof(Tss, rsp);
}

void init_boot_cpu() { load(g_cpu_tables[0], g_boot_cpu_stacks.double_fault.top(), g_boot_cpu_stacks.nmi.top()); }

void init_ap(u32 cpu) {
  ApStacks& s = ap_stacks(cpu);
  load(g_cpu_tables[cpu], s.double_fault.top(), s.nmi.top());
}

}  // namespace platypos::baremetal::gdt
