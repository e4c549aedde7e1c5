#include "cpu_info.hpp"

#include <platypos/baremetal/cpu.hpp>

namespace platypos::baremetal {
namespace {

void put_u32(char* out, u32 v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(v >> (8 * i));
}

}  // namespace

CpuInfo read_cpu_info() {
  CpuInfo info{};
  const CpuidResult leaf0 = cpuid(0);
  put_u32(info.vendor, leaf0.ebx);
  put_u32(info.vendor + 4, leaf0.edx);
  put_u32(info.vendor + 8, leaf0.ecx);
  info.vendor[12] = '\0';

  const CpuidResult leaf1 = cpuid(1);
  const u32 base_family = (leaf1.eax >> 8) & 0xf;
  const u32 base_model = (leaf1.eax >> 4) & 0xf;
  info.stepping = leaf1.eax & 0xf;
  info.family = base_family == 0xf ? base_family + ((leaf1.eax >> 20) & 0xff) : base_family;
  info.model = (base_family == 0x6 || base_family == 0xf) ? base_model + (((leaf1.eax >> 16) & 0xf) << 4) : base_model;

  const u32 max_ext = cpuid(0x80000000).eax;
  if (max_ext >= 0x80000001) info.nx = (cpuid(0x80000001).edx & (1u << 20)) != 0;
  if (max_ext >= 0x80000007) info.invariant_tsc = (cpuid(0x80000007).edx & (1u << 8)) != 0;
  if (max_ext >= 0x80000004) {
    char raw[49] = {};
    for (u32 i = 0; i < 3; ++i) {
      const CpuidResult r = cpuid(0x80000002 + i);
      put_u32(raw + 16 * i, r.eax);
      put_u32(raw + 16 * i + 4, r.ebx);
      put_u32(raw + 16 * i + 8, r.ecx);
      put_u32(raw + 16 * i + 12, r.edx);
    }
    usize start = 0;
    while (raw[start] == ' ') ++start;
    usize n = 0;
    while (start + n < 48 && raw[start + n] != '\0') {
      info.brand[n] = raw[start + n];
      ++n;
    }
    while (n > 0 && info.brand[n - 1] == ' ') --n;
    info.brand[n] = '\0';
  }
  return info;
}

}  // namespace platypos::baremetal
