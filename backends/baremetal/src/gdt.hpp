#pragma once
// The GDT and TSS. Long mode ignores segment bases and limits for code and data; what the GDT still provides is the
// code segment's mode (64-bit, ring 0) and the TSS, whose only jobs here are the IST stacks for double faults and
// NMIs (and later rsp0 for ring-3 entries).

#include <platypos/base/types.hpp>

namespace platypos::baremetal::gdt {

inline constexpr u16 kKernelCode = 0x08;
inline constexpr u16 kKernelData = 0x10;
inline constexpr u16 kTss = 0x18;

// IST slots (1-based, as IDT entries name them).
inline constexpr u8 kIstDoubleFault = 1;
inline constexpr u8 kIstNmi = 2;

// Loads the boot CPU's GDT (replacing boot.S's), reloads the segment registers, and loads its TSS with the IST
// stacks from stacks.hpp.
void init_boot_cpu();

// The same on application processor `cpu` (replacing the trampoline's GDT), with its own GDT and TSS (a TSS is
// marked busy once loaded, so no two CPUs can share one) and its IST stacks from ap_stacks(cpu).
void init_ap(u32 cpu);

}  // namespace platypos::baremetal::gdt
