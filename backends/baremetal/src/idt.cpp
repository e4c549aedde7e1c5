#include "idt.hpp"

#include "gdt.hpp"

#include <platypos/baremetal/cpu.hpp>
#include <platypos/baremetal/vectors.hpp>

extern "C" const platypos::uptr platypos_trap_stubs[256];

namespace platypos::baremetal::idt {
namespace {

struct Gate {
  u16 offset_low;
  u16 selector;
  u8 ist;
  u8 type_attr;
  u16 offset_mid;
  u32 offset_high;
  u32 reserved;
};
static_assert(sizeof(Gate) == 16);

struct [[gnu::packed]] DescriptorPointer {
  u16 limit;
  u64 base;
};

constexpr u8 kInterruptGate = 0x8e;  // present, ring 0, 64-bit interrupt gate

alignas(16) constinit Gate g_idt[256] = {};

Gate make_gate(uptr handler, u8 ist) {
  return Gate{static_cast<u16>(handler),
              gdt::kKernelCode,
              ist,
              kInterruptGate,
              static_cast<u16>(handler >> 16),
              static_cast<u32>(handler >> 32),
              0};
}

void load(u16 limit, uptr base) {
  const DescriptorPointer ptr{limit, base};
  asm volatile("lidt %0" : : "m"(ptr) : "memory");
}

}  // namespace

void init() {
  for (u32 v = 0; v < 256; ++v) {
    u8 ist = 0;
    if (v == kVectorDoubleFault) ist = gdt::kIstDoubleFault;
    if (v == kVectorNmi) ist = gdt::kIstNmi;
    g_idt[v] = make_gate(platypos_trap_stubs[v], ist);
  }
  load();
}

void load() { load(sizeof g_idt - 1, reinterpret_cast<uptr>(g_idt)); }

void triple_fault() {
  load(0, 0);
  asm volatile("int3");
  halt_forever();
}

}  // namespace platypos::baremetal::idt
