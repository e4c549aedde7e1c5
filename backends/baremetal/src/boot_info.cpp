#include "boot_info.hpp"

#include <platypos/base/assert.hpp>
#include <platypos/base/log.hpp>
#include <platypos/platform.hpp>

namespace platypos::baremetal::boot_info {
namespace {

constexpr u32 kMultibootBootMagic = 0x2badb002;

// Multiboot v1 information structure: offsets of the fields used here, and the flag bits that say they are valid.
constexpr u32 kInfoFlags = 0;
constexpr u32 kInfoMemLower = 4;  // KiB below 1 MiB
constexpr u32 kInfoMemUpper = 8;  // KiB above 1 MiB (up to the first hole)
constexpr u32 kInfoCmdline = 16;
constexpr u32 kInfoModsCount = 20;
constexpr u32 kInfoModsAddr = 24;
constexpr u32 kInfoMmapLength = 44;
constexpr u32 kInfoMmapAddr = 48;
constexpr u32 kInfoBootLoaderName = 64;
constexpr u32 kInfoSize = 68;

constexpr u32 kFlagMemory = 1u << 0;
constexpr u32 kFlagCmdline = 1u << 2;
constexpr u32 kFlagModules = 1u << 3;
constexpr u32 kFlagMmap = 1u << 6;
constexpr u32 kFlagBootLoaderName = 1u << 9;

constexpr u32 kModuleEntrySize = 16;  // start, end, cmdline, reserved

constexpr usize kMaxRanges = kMaxFirmwareRanges + kMaxModules + 1;
constexpr usize kMaxLoaderName = 64;

constinit FirmwareRange g_firmware[kMaxFirmwareRanges] = {};
constinit usize g_firmware_count = 0;
constinit MemoryRange g_ranges[kMaxRanges] = {};
constinit usize g_range_count = 0;
constinit char g_cmdline[kMaxCommandLine] = {};
constinit usize g_cmdline_len = 0;
constinit char g_loader[kMaxLoaderName] = {};
constinit usize g_loader_len = 0;

// Unaligned reads of the loader's structures (the mmap entries are packed).
template <class T>
T read_phys(u64 phys) {
  T v;
  __builtin_memcpy(&v, Platform::phys_to_virt(phys), sizeof v);
  return v;
}

// Copies the NUL-terminated string at phys into buf (at most cap - 1 bytes); returns its length, or cap if it did
// not fit.
usize copy_string(u64 phys, char* buf, usize cap) {
  const char* s = static_cast<const char*>(Platform::phys_to_virt(phys));
  usize n = 0;
  while (n + 1 < cap && s[n] != '\0') {
    buf[n] = s[n];
    ++n;
  }
  buf[n] = '\0';
  return s[n] == '\0' ? n : cap;
}

MemoryType type_of(u32 e820_type) {
  switch (e820_type) {
    case 1: return MemoryType::free_ram;
    case 3: return MemoryType::acpi_reclaimable;
    case 4: return MemoryType::acpi_nvs;
    case 5: return MemoryType::bad_memory;
    default: return MemoryType::reserved;
  }
}

void add_firmware_range(u64 base, u64 length, u32 type) {
  if (g_firmware_count == kMaxFirmwareRanges) {
    log_warn("boot: firmware memory map has more than {} entries; ignoring [{:#x}, +{:#x}) type {}", kMaxFirmwareRanges,
             base, length, type);
    return;
  }
  g_firmware[g_firmware_count++] = {base, length, type};
}

void read_mmap(u32 info_phys) {
  const u32 length = read_phys<u32>(info_phys + kInfoMmapLength);
  const u64 addr = read_phys<u32>(info_phys + kInfoMmapAddr);
  // Each entry is {u32 size; u64 base; u64 length; u32 type} where size excludes the size field itself.
  constexpr u32 kMinEntry = 20;
  for (u64 off = 0; off + 4 + kMinEntry <= length;) {
    const u32 size = read_phys<u32>(addr + off);
    if (size < kMinEntry) {
      log_warn("boot: malformed multiboot memory map entry (size {}) at offset {}; map cut short", size, off);
      return;
    }
    add_firmware_range(read_phys<u64>(addr + off + 4), read_phys<u64>(addr + off + 12),
                       read_phys<u32>(addr + off + 20));
    off += u64{size} + 4;
  }
}

void add_range(u64 base, u64 size, MemoryType type) {
  PLATYPOS_ASSERT(g_range_count < kMaxRanges, "boot memory map overflow");
  if (size > 0) g_ranges[g_range_count++] = {base, size, type};
}

}  // namespace

void capture(u32 magic, u32 info_phys) {
  PLATYPOS_ASSERT(magic == kMultibootBootMagic, "not booted by a multiboot loader: magic {:#x}", magic);
  PLATYPOS_ASSERT(info_phys != 0 && u64{info_phys} + kInfoSize <= 0x100000000, "multiboot info at {:#x}", info_phys);
  const u32 flags = read_phys<u32>(info_phys + kInfoFlags);

  if (flags & kFlagMmap) {
    read_mmap(info_phys);
  }
  if (g_firmware_count == 0 && (flags & kFlagMemory)) {
    // No map: the two sizes describe conventional memory and the RAM above 1 MiB up to the first hole.
    add_firmware_range(0, u64{read_phys<u32>(info_phys + kInfoMemLower)} * 1024, 1);
    add_firmware_range(0x100000, u64{read_phys<u32>(info_phys + kInfoMemUpper)} * 1024, 1);
  }
  PLATYPOS_ASSERT(g_firmware_count > 0, "the boot loader reported no memory (multiboot flags {:#x})", flags);

  for (usize i = 0; i < g_firmware_count; ++i) {
    add_range(g_firmware[i].base, g_firmware[i].length, type_of(g_firmware[i].type));
  }
  add_range(kernel_phys_start(), kernel_phys_end() - kernel_phys_start(), MemoryType::kernel_image);

  if (flags & kFlagModules) {
    const u32 count = read_phys<u32>(info_phys + kInfoModsCount);
    const u64 mods = read_phys<u32>(info_phys + kInfoModsAddr);
    for (u32 i = 0; i < count && i < kMaxModules; ++i) {
      const u32 start = read_phys<u32>(mods + u64{i} * kModuleEntrySize);
      const u32 end = read_phys<u32>(mods + u64{i} * kModuleEntrySize + 4);
      if (end > start) add_range(start, end - start, MemoryType::boot_module);
    }
    if (count > kMaxModules) log_warn("boot: {} boot modules; only the first {} are kept", count, kMaxModules);
  }

  if (flags & kFlagCmdline) {
    const u32 at = read_phys<u32>(info_phys + kInfoCmdline);
    g_cmdline_len = copy_string(at, g_cmdline, sizeof g_cmdline);
    if (g_cmdline_len == sizeof g_cmdline) {
      g_cmdline_len = sizeof g_cmdline - 1;
      log_warn("boot: command line longer than {} bytes, cut short", sizeof g_cmdline - 1);
    }
  }
  if (flags & kFlagBootLoaderName) {
    g_loader_len = copy_string(read_phys<u32>(info_phys + kInfoBootLoaderName), g_loader, sizeof g_loader);
    if (g_loader_len == sizeof g_loader) g_loader_len = sizeof g_loader - 1;
  }
}

std::span<const FirmwareRange> firmware_map() { return {g_firmware, g_firmware_count}; }

void reserve(u64 base, u64 size) { add_range(base, size, MemoryType::reserved); }

std::span<const MemoryRange> memory_map() { return {g_ranges, g_range_count}; }

u64 usable_bytes() {
  u64 total = 0;
  for (const FirmwareRange& r : firmware_map()) {
    if (r.type == 1) total += r.length;
  }
  return total;
}

std::string_view command_line() {
  usize begin = 0;
  while (begin < g_cmdline_len && g_cmdline[begin] != ' ') ++begin;  // skip the image path
  while (begin < g_cmdline_len && g_cmdline[begin] == ' ') ++begin;
  usize end = g_cmdline_len;
  while (end > begin && g_cmdline[end - 1] == ' ') --end;
  return std::string_view(g_cmdline + begin, end - begin);
}

std::string_view boot_loader_name() { return {g_loader, g_loader_len}; }

// Physical addresses are absolute symbols far below the kernel's -2 GiB code model: load them with a 64-bit
// immediate (a RIP-relative or sign-extended 32-bit reference cannot reach them).
u64 kernel_phys_start() {
  u64 v;
  asm("movabsq $__kernel_phys_start, %0" : "=r"(v));
  return v;
}
u64 kernel_phys_end() {
  u64 v;
  asm("movabsq $__kernel_phys_end, %0" : "=r"(v));
  return v;
}

}  // namespace platypos::baremetal::boot_info
