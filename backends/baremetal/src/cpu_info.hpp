#pragma once
// What CPUID says about the boot CPU, for the banner.

#include <platypos/base/types.hpp>

namespace platypos::baremetal {

struct CpuInfo {
  char vendor[13];  // "GenuineIntel", "AuthenticAMD", ...
  char brand[49];   // processor brand string, leading spaces removed; empty when the CPU has none
  u32 family;       // display family/model (with the extended fields folded in)
  u32 model;
  u32 stepping;
  bool nx;
  bool invariant_tsc;
};

CpuInfo read_cpu_info();

}  // namespace platypos::baremetal
