#include "lapic.hpp"

#include <platypos/baremetal/cpu.hpp>
#include <platypos/baremetal/vectors.hpp>
#include <platypos/base/assert.hpp>
#include <platypos/base/log.hpp>
#include <platypos/platform.hpp>

namespace platypos::baremetal::lapic {
namespace {

// Register offsets (Intel SDM vol. 3, "Local APIC Register Address Map"). Each is a 32-bit register on a 16-byte
// boundary.
constexpr u32 kRegId = 0x20;
constexpr u32 kRegTaskPriority = 0x80;
constexpr u32 kRegEoi = 0xb0;
constexpr u32 kRegSpurious = 0xf0;
constexpr u32 kRegErrorStatus = 0x280;
constexpr u32 kRegIcrLow = 0x300;
constexpr u32 kRegIcrHigh = 0x310;
constexpr u32 kRegLvtTimer = 0x320;
constexpr u32 kRegLvtLint0 = 0x350;
constexpr u32 kRegLvtLint1 = 0x360;
constexpr u32 kRegLvtError = 0x370;
constexpr u32 kRegTimerInitial = 0x380;
constexpr u32 kRegTimerCurrent = 0x390;
constexpr u32 kRegTimerDivide = 0x3e0;

constexpr u64 kApicBaseEnable = 1u << 11;
constexpr u64 kApicBaseAddressMask = 0x000ffffffffff000;
constexpr u32 kSpuriousEnable = 1u << 8;
constexpr u32 kLvtMasked = 1u << 16;
constexpr u32 kLvtDeliveryNmi = 0x4u << 8;
constexpr u32 kTimerDivideBy16 = 0x3;
constexpr u32 kIcrDeliveryFixed = 0x0u << 8;
constexpr u32 kIcrDeliveryNmi = 0x4u << 8;
constexpr u32 kIcrDeliveryInit = 0x5u << 8;
constexpr u32 kIcrDeliveryStartup = 0x6u << 8;
constexpr u32 kIcrAssert = 1u << 14;
constexpr u32 kIcrPending = 1u << 12;

constinit volatile u32* g_regs = nullptr;
constinit u64 g_base_phys = 0;

static_assert(kTimerDivider == 16, "kTimerDivideBy16 must match kTimerDivider");

u32 read(u32 reg) { return g_regs[reg / 4]; }
void write(u32 reg, u32 v) { g_regs[reg / 4] = v; }

// Writes the interrupt command register (destination first: writing the low half sends) and waits until the APIC
// has accepted it. With interrupts off: an interrupt handler sending its own IPI between the two writes would
// change the destination under us.
void send(u32 apic_id, u32 command) {
  const Platform::IrqState irq = Platform::irq_save();
  write(kRegIcrHigh, apic_id << 24);
  write(kRegIcrLow, command);
  while (read(kRegIcrLow) & kIcrPending) Platform::cpu_relax();
  Platform::irq_restore(irq);
}

}  // namespace

void init() {
  PLATYPOS_ASSERT((cpuid(1).edx & (1u << 9)) != 0, "this CPU has no local APIC");
  const u64 msr = rdmsr(kMsrApicBase);
  g_base_phys = msr & kApicBaseAddressMask;
  g_regs = static_cast<volatile u32*>(Platform::phys_to_virt(g_base_phys));
  init_this_cpu();
}

void init_this_cpu() {
  const u64 msr = rdmsr(kMsrApicBase);
  PLATYPOS_ASSERT((msr & kApicBaseAddressMask) == g_base_phys, "local APIC at {:#x} on cpu {}, {:#x} on the boot cpu",
                  msr & kApicBaseAddressMask, Platform::current_cpu(), g_base_phys);
  wrmsr(kMsrApicBase, msr | kApicBaseEnable);

  write(kRegSpurious, kSpuriousEnable | kVectorApicSpurious);
  write(kRegTaskPriority, 0);
  write(kRegLvtLint0, kLvtMasked);
  write(kRegLvtLint1, kLvtDeliveryNmi);
  write(kRegLvtError, kVectorApicError);
  write(kRegErrorStatus, 0);  // the error status register latches on write
  write(kRegErrorStatus, 0);
  write(kRegTimerDivide, kTimerDivideBy16);
  write(kRegLvtTimer, kLvtMasked | kVectorTimer);
  write(kRegTimerInitial, 0);
  eoi();
}

u32 id() { return read(kRegId) >> 24; }

u64 base_phys() { return g_base_phys; }

void eoi() { write(kRegEoi, 0); }

void timer_one_shot(u32 count) {
  write(kRegLvtTimer, kVectorTimer);  // one-shot mode, unmasked
  write(kRegTimerInitial, count);
}

void timer_stop() { write(kRegTimerInitial, 0); }

void timer_free_run_masked() {
  write(kRegLvtTimer, kLvtMasked | kVectorTimer);
  write(kRegTimerInitial, kTimerMaxCount);
}

u32 timer_current_count() { return read(kRegTimerCurrent); }

void send_ipi(u32 apic_id, u8 vector) { send(apic_id, kIcrDeliveryFixed | kIcrAssert | vector); }

void send_init(u32 apic_id) { send(apic_id, kIcrDeliveryInit | kIcrAssert); }

void send_startup(u32 apic_id, u8 page) { send(apic_id, kIcrDeliveryStartup | kIcrAssert | page); }

void send_nmi_to_self() { send(id(), kIcrDeliveryNmi | kIcrAssert); }

void on_error_interrupt() {
  write(kRegErrorStatus, 0);
  log_warn("lapic: APIC error interrupt, error status {:#x}", read(kRegErrorStatus));
  eoi();
}

}  // namespace platypos::baremetal::lapic
