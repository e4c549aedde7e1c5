#include "acpi.hpp"

#include <platypos/baremetal/paging.hpp>
#include <platypos/platform.hpp>

#include <cstring>

namespace platypos::baremetal::acpi {
namespace {

constexpr u64 kEbdaSegmentPointer = 0x40e;  // BIOS data area: real-mode segment of the EBDA
constexpr u64 kBiosAreaStart = 0xe0000;
constexpr u64 kBiosAreaEnd = 0x100000;
constexpr usize kSdtHeaderSize = 36;
constexpr usize kMadtEntriesOffset = kSdtHeaderSize + 8;  // local APIC address, flags

constexpr u8 kMadtLocalApic = 0;
constexpr u8 kMadtLocalX2Apic = 9;
constexpr u32 kApicEnabled = 1u << 0;

const u8* at(u64 phys) { return static_cast<const u8*>(Platform::phys_to_virt(phys)); }

template <class T>
T read(const u8* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

bool checksum_ok(const u8* p, usize n) {
  u8 sum = 0;
  for (usize i = 0; i < n; ++i) sum = static_cast<u8>(sum + p[i]);
  return sum == 0;
}

// The RSDP: "RSD PTR " on a 16-byte boundary in the EBDA's first KiB or in [0xe0000, 0x100000), with a valid
// checksum over its first 20 bytes (ACPI spec, "Finding the RSDP on IA-PC Systems").
const u8* find_rsdp() {
  auto scan = [](u64 from, u64 to) -> const u8* {
    for (u64 a = from; a + 20 <= to; a += 16) {
      const u8* p = at(a);
      if (std::memcmp(p, "RSD PTR ", 8) == 0 && checksum_ok(p, 20)) return p;
    }
    return nullptr;
  };
  const u64 ebda = u64{read<u16>(at(kEbdaSegmentPointer))} << 4;
  if (ebda >= 0x80000 && ebda < 0xa0000) {
    if (const u8* p = scan(ebda, ebda + 1024)) return p;
  }
  return scan(kBiosAreaStart, kBiosAreaEnd);
}

// The table at `phys` if its header is sane and its checksum is right.
const u8* table(u64 phys) {
  if (phys == 0 || phys + kSdtHeaderSize > paging::direct_map_size()) return nullptr;
  const u8* p = at(phys);
  const u32 length = read<u32>(p + 4);
  if (length < kSdtHeaderSize || phys + length > paging::direct_map_size() || !checksum_ok(p, length)) return nullptr;
  return p;
}

const u8* find_madt() {
  const u8* rsdp = find_rsdp();
  if (rsdp == nullptr) return nullptr;
  // Revision 2 and later has the XSDT (64-bit entries); the RSDT (32-bit entries) is always there.
  const bool xsdt = rsdp[15] >= 2 && read<u64>(rsdp + 24) != 0;
  const u8* root = table(xsdt ? read<u64>(rsdp + 24) : read<u32>(rsdp + 16));
  if (root == nullptr) return nullptr;
  const usize entry = xsdt ? 8 : 4;
  const u32 length = read<u32>(root + 4);
  for (usize off = kSdtHeaderSize; off + entry <= length; off += entry) {
    const u64 phys = xsdt ? read<u64>(root + off) : read<u32>(root + off);
    const u8* t = table(phys);
    if (t != nullptr && std::memcmp(t, "APIC", 4) == 0) return t;
  }
  return nullptr;
}

}  // namespace

u32 local_apic_ids(u32* ids, u32 max) {
  const u8* madt = find_madt();
  if (madt == nullptr) return 0;
  const u32 length = read<u32>(madt + 4);
  u32 n = 0;
  for (usize off = kMadtEntriesOffset; off + 2 <= length;) {
    const u8 type = madt[off];
    const u8 len = madt[off + 1];
    if (len < 2 || off + len > length) break;
    u32 id = 0;
    u32 flags = 0;
    bool cpu = false;
    if (type == kMadtLocalApic && len >= 8) {
      id = madt[off + 3];
      flags = read<u32>(madt + off + 4);
      cpu = true;
    } else if (type == kMadtLocalX2Apic && len >= 16) {
      id = read<u32>(madt + off + 4);
      flags = read<u32>(madt + off + 8);
      cpu = true;
    }
    if (cpu && (flags & kApicEnabled) != 0) {
      if (n < max) ids[n] = id;
      ++n;
    }
    off += len;
  }
  return n;
}

}  // namespace platypos::baremetal::acpi
