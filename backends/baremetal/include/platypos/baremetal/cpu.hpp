#pragma once
// Thin wrappers over x86_64 instructions the backend needs: CPUID, MSRs, control registers, the TSC, descriptor
// tables. Each is one instruction; callers know what they are doing (ring 0 only).

#include <platypos/base/types.hpp>

namespace platypos::baremetal {

struct CpuidResult {
  u32 eax, ebx, ecx, edx;
};

inline CpuidResult cpuid(u32 leaf, u32 subleaf = 0) {
  CpuidResult r;
  asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
  return r;
}

inline u64 rdmsr(u32 msr) {
  u32 lo, hi;
  asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return (u64{hi} << 32) | lo;
}
inline void wrmsr(u32 msr, u64 v) {
  asm volatile("wrmsr" : : "c"(msr), "a"(static_cast<u32>(v)), "d"(static_cast<u32>(v >> 32)) : "memory");
}

inline constexpr u32 kMsrApicBase = 0x1b;
inline constexpr u32 kMsrEfer = 0xc0000080;
inline constexpr u64 kEferNxe = 1u << 11;

// rdtsc is not ordered with earlier loads; good enough for a clock whose readers tolerate a few cycles of skew.
inline u64 rdtsc() {
  u32 lo, hi;
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (u64{hi} << 32) | lo;
}

inline u64 read_cr2() {
  u64 v;
  asm volatile("mov %%cr2, %0" : "=r"(v));
  return v;
}
inline u64 read_cr3() {
  u64 v;
  asm volatile("mov %%cr3, %0" : "=r"(v));
  return v;
}
// Loading CR3 also flushes every non-global TLB entry.
inline void write_cr3(u64 v) { asm volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }

[[noreturn]] inline void halt_forever() {
  for (;;) asm volatile("cli; hlt");
}

}  // namespace platypos::baremetal
