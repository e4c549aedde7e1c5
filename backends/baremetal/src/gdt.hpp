#pragma once
// The GDT and TSS. Long mode ignores segment bases and limits for code and data; what the GDT still provides is the
// code segments' mode (64-bit) and privilege (ring 0 or 3), and the TSS, whose jobs here are the IST stacks for
// double faults and NMIs and rsp0: the kernel stack an interrupt or exception from ring 3 arrives on.

#include <platypos/base/types.hpp>

namespace platypos::baremetal::gdt {

// The order is the one `syscall`/`sysret` need (IA32_STAR): kernel code, kernel data; then, from the user base
// 0x18, user data at base+8 and 64-bit user code at base+16 (0x18 itself would be 32-bit user code: left null).
inline constexpr u16 kKernelCode = 0x08;
inline constexpr u16 kKernelData = 0x10;
inline constexpr u16 kUserBase = 0x18;
inline constexpr u16 kUserData = 0x20 | 3;  // with RPL 3
inline constexpr u16 kUserCode = 0x28 | 3;
inline constexpr u16 kTss = 0x30;

// IST slots (1-based, as IDT entries name them).
inline constexpr u8 kIstDoubleFault = 1;
inline constexpr u8 kIstNmi = 2;

// Loads the boot CPU's GDT (replacing boot.S's), reloads the segment registers, and loads its TSS with the IST
// stacks from stacks.hpp.
void init_boot_cpu();

// The same on application processor `cpu` (replacing the trampoline's GDT), with its own GDT and TSS (a TSS is
// marked busy once loaded, so no two CPUs can share one) and its IST stacks from ap_stacks(cpu).
void init_ap(u32 cpu);

// The calling CPU's TSS rsp0: where the CPU switches stacks when an interrupt or exception arrives in ring 3
// (platypos_enter_user stores it).
void* rsp0_slot();

}  // namespace platypos::baremetal::gdt
