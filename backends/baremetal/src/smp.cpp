// Starting the application processors (Intel SDM vol. 3, "Multiple-Processor Management": "MP Initialization
// Protocol Algorithm for MP Systems" and "Typical BSP Initialization Sequence"). At reset only the boot processor
// runs; the others wait for a Startup IPI. The boot CPU starts them one at a time:
//
//   1. the trampoline (ap_trampoline.S) is copied to the start of a page below 1 MiB, followed by its own page
//      tables: the copy identity-mapped with one 2 MiB page (the AP turns paging on while executing there), and
//      the kernel's half of the address space shared with the kernel's PML4;
//   2. per AP: its CPU number and stack go into the trampoline's parameter block; INIT IPI, 10 ms, Startup IPI,
//      200 us, Startup IPI (the second is ignored by an AP that took the first);
//   3. the AP goes real -> protected -> long mode in the trampoline, calls platypos_ap_main() on its own stack,
//      which installs its per-CPU area (GS base), GDT/TSS, the IDT, the kernel's page tables and its local APIC,
//      prints that it is up and sets the "alive" flag the boot CPU is waiting for (with a timeout);
//   4. the AP enters its idle loop: it halts until woken and runs the work posted to it (run_on_cpu()).
//
// CPU numbers are dense: an AP that failed to start is reset with INIT and its number goes to the next one.

#include "smp.hpp"

#include "acpi.hpp"
#include "boot_info.hpp"
#include "gdt.hpp"
#include "idt.hpp"
#include "lapic.hpp"
#include "percpu.hpp"
#include "stacks.hpp"
#include "user.hpp"

#include <platypos/baremetal/cpu.hpp>
#include <platypos/baremetal/paging.hpp>
#include <platypos/baremetal/smp.hpp>
#include <platypos/base/assert.hpp>
#include <platypos/base/cmdline.hpp>
#include <platypos/base/log.hpp>
#include <platypos/base/print.hpp>
#include <platypos/base/units.hpp>
#include <platypos/mm/kernel_memory.hpp>
#include <platypos/platform.hpp>

#include <atomic>
#include <cstddef>
#include <cstring>

extern "C" char platypos_ap_trampoline_start[];
extern "C" char platypos_ap_trampoline_end[];
extern "C" char platypos_ap_trampoline_params[];
extern "C" char platypos_ap_trampoline_pm32[];
extern "C" char platypos_ap_trampoline_lm64[];
extern "C" char platypos_ap_trampoline_gdt[];

extern "C" [[noreturn]] void platypos_ap_main(platypos::u64 cpu);

namespace platypos::baremetal::smp {
namespace {

// ap_trampoline.S's parameter block (its P_* offsets).
struct [[gnu::packed]] TrampolineParams {
  u32 far32_offset;  // 16 -> 32-bit far jump
  u16 far32_selector;
  u16 gdt_limit;  // lgdt operand: limit, then 32-bit base
  u32 gdt_base;
  u32 far64_offset;  // 32 -> 64-bit far jump
  u16 far64_selector;
  u16 reserved;
  u32 cr0, cr3, cr4, efer;
  u32 progress;  // written by the AP: the last trampoline step it reached
  u64 stack_top;
  u64 cpu;
  u64 entry;
};
static_assert(offsetof(TrampolineParams, far32_offset) == 0 && offsetof(TrampolineParams, gdt_limit) == 6 &&
                  offsetof(TrampolineParams, far64_offset) == 12 && offsetof(TrampolineParams, cr0) == 20 &&
                  offsetof(TrampolineParams, cr3) == 24 && offsetof(TrampolineParams, cr4) == 28 &&
                  offsetof(TrampolineParams, efer) == 32 && offsetof(TrampolineParams, progress) == 36 &&
                  offsetof(TrampolineParams, stack_top) == 40 && offsetof(TrampolineParams, cpu) == 48 &&
                  offsetof(TrampolineParams, entry) == 56 && sizeof(TrampolineParams) == 64,
              "must match ap_trampoline.S's P_* offsets");

// Trampoline GDT selectors (ap_trampoline.S).
constexpr u16 kTrampolineCode32 = 0x08;
constexpr u16 kTrampolineCode64 = 0x18;
constexpr u64 kTrampolineGdtBytes = 4 * 8;

// Code and parameters, then PML4, PDPT and page directory of the trampoline's page tables.
constexpr u64 kTrampolinePages = 4;
constexpr u64 kTrampolineBytes = kTrampolinePages * kPageSize;
constexpr u64 kLowMemoryLimit = 1 * MiB;  // a Startup IPI's vector is a page number below 256

using namespace paging::pte;

constexpr u64 kEferLme = 1u << 8;

// The SDM's waits between the start-up IPIs.
constexpr u64 kInitDelayNs = 10 * kNsPerMs;
constexpr u64 kStartupDelayNs = 200 * kNsPerUs;
// How long an AP gets to check in: generous (QEMU under TCG, a loaded host), and only a bound on a failure.
constexpr u64 kAliveTimeoutNs = 5 * kNsPerSec;

// Most processors the MADT may list (the ones beyond kMaxBootCpus are reported and left waiting).
constexpr u32 kMaxListedCpus = 256;

// Where an AP got to: ap_trampoline.S writes 1-3 into the parameter block, platypos_ap_main() 4 into g_ap_stage.
constexpr const char* kStageNames[] = {"nothing: it never ran the trampoline", "real mode", "protected mode",
                                       "long mode", "platypos_ap_main, before it checked in"};

constinit u64 g_trampoline = 0;  // physical address, 0 when none could be taken
constinit PhysAddr g_trampoline_taken{};  // KernelMemory::init's answer to trampoline_allocation()
constinit u64 g_kernel_cr3 = 0;
constinit std::atomic<bool> g_ap_alive{false};
constinit std::atomic<u32> g_ap_stage{0};

u64 read_cr0() {
  u64 v;
  asm volatile("mov %%cr0, %0" : "=r"(v));
  return v;
}
u64 read_cr4() {
  u64 v;
  asm volatile("mov %%cr4, %0" : "=r"(v));
  return v;
}

u64 trampoline_offset(const char* sym) { return static_cast<u64>(sym - platypos_ap_trampoline_start); }

TrampolineParams& params() {
  return *reinterpret_cast<TrampolineParams*>(static_cast<u8*>(Platform::phys_to_virt(g_trampoline)) +
                                              trampoline_offset(platypos_ap_trampoline_params));
}

// Copies the trampoline below 1 MiB, fills in what is the same for every AP, and builds its page tables.
void build_trampoline() {
  const u64 code_bytes = trampoline_offset(platypos_ap_trampoline_end);
  PLATYPOS_ASSERT(code_bytes <= kPageSize, "the AP trampoline ({} bytes) does not fit its page", code_bytes);
  u8* page = static_cast<u8*>(Platform::phys_to_virt(g_trampoline));
  std::memset(page, 0, kTrampolineBytes);
  std::memcpy(page, platypos_ap_trampoline_start, code_bytes);

  g_kernel_cr3 = read_cr3();
  TrampolineParams& p = params();
  p.far32_offset = static_cast<u32>(g_trampoline + trampoline_offset(platypos_ap_trampoline_pm32));
  p.far32_selector = kTrampolineCode32;
  p.gdt_limit = kTrampolineGdtBytes - 1;
  p.gdt_base = static_cast<u32>(g_trampoline + trampoline_offset(platypos_ap_trampoline_gdt));
  p.far64_offset = static_cast<u32>(g_trampoline + trampoline_offset(platypos_ap_trampoline_lm64));
  p.far64_selector = kTrampolineCode64;
  // The boot CPU's control registers: PAE in CR4; PG, PE and WP in CR0 (which also clears the CD and NW bits an
  // AP comes out of INIT with); LME, and NXE because the kernel's page tables use the NX bit.
  p.cr0 = static_cast<u32>(read_cr0());
  p.cr3 = static_cast<u32>(g_trampoline + kPageSize);
  p.cr4 = static_cast<u32>(read_cr4());
  p.efer = static_cast<u32>(rdmsr(kMsrEfer) & (kEferLme | kEferNxe));
  p.entry = reinterpret_cast<uptr>(&platypos_ap_main);

  auto* pml4 = reinterpret_cast<u64*>(page + kPageSize);
  auto* pdpt = reinterpret_cast<u64*>(page + 2 * kPageSize);
  auto* pd = reinterpret_cast<u64*>(page + 3 * kPageSize);
  pd[0] = 0 | kPresent | kWritable | kHuge;  // [0, 2 MiB) identity: the trampoline runs there when paging goes on
  pdpt[0] = (g_trampoline + 3 * kPageSize) | kPresent | kWritable;
  pml4[0] = (g_trampoline + 2 * kPageSize) | kPresent | kWritable;
  // The kernel's half (direct map, image): the same lower-level tables as the kernel's own PML4.
  const auto* kernel_pml4 = static_cast<const u64*>(Platform::phys_to_virt(g_kernel_cr3 & ~u64{0xfff}));
  for (usize i = 256; i < 512; ++i) pml4[i] = kernel_pml4[i];
}

// The command line's smp_skip_sipi=ID (for the test of the failure path, tests/qemu): the AP with local APIC id ID
// gets its INIT but no Startup IPI, so it never checks in. ~0u when absent.
u32 apic_id_to_skip() {
  const CommandLine cmdline(boot_info::command_line());
  const auto v = cmdline.value("smp_skip_sipi");
  if (!v.has_value()) return ~u32{0};
  u32 id = 0;
  for (char c : *v) {
    if (c < '0' || c > '9') return ~u32{0};
    id = id * 10 + static_cast<u32>(c - '0');
  }
  return id;
}

bool start_ap(CpuId cpu, u32 apic_id, bool skip_sipi) {
  TrampolineParams& p = params();
  p.stack_top = ap_stacks(cpu).kernel.top();
  p.cpu = cpu;
  // progress is aligned (offset 36) although the struct is packed: read and written through a volatile pointer.
  auto* progress = reinterpret_cast<volatile u32*>(reinterpret_cast<u8*>(&p) + offsetof(TrampolineParams, progress));
  *progress = 0;
  g_ap_stage.store(0, std::memory_order_relaxed);
  g_ap_alive.store(false, std::memory_order_seq_cst);

  const u8 vector = static_cast<u8>(g_trampoline >> 12);
  lapic::send_init(apic_id);
  Platform::delay_ns(kInitDelayNs);
  if (skip_sipi) {
    log_warn("smp: smp_skip_sipi={}: not sending local APIC id {} its Startup IPIs", apic_id, apic_id);
  } else {
    lapic::send_startup(apic_id, vector);
    Platform::delay_ns(kStartupDelayNs);
    lapic::send_startup(apic_id, vector);
  }

  const u64 started = Platform::now_ns();
  while (!g_ap_alive.load(std::memory_order_acquire)) {
    if (Platform::now_ns() - started > kAliveTimeoutNs) {
      const u32 stage = g_ap_stage.load(std::memory_order_relaxed) != 0 ? g_ap_stage.load() : *progress;
      log_error("smp: cpu {} (local APIC id {}) did not start within {} ms; it got as far as: {}", cpu, apic_id,
                kAliveTimeoutNs / kNsPerMs, stage < 5 ? kStageNames[stage] : "?");
      // Back to wait-for-SIPI, so it cannot wake up later in a slot given to another CPU.
      lapic::send_init(apic_id);
      return false;
    }
    Platform::cpu_relax();
  }
  return true;
}

[[noreturn]] void idle_loop() {
  PerCpu& me = this_cpu();
  for (;;) {
    if (void (*fn)(void*) = me.work.load(std::memory_order_acquire)) {
      fn(me.work_arg);
      Platform::timer_cancel();
      me.work.store(nullptr, std::memory_order_release);
    } else {
      Platform::cpu_idle();
    }
  }
}

}  // namespace

EarlyAllocation trampoline_allocation() {
  // Not page 0 (the real-mode interrupt table; and vector 0 would read as "none"), below 1 MiB.
  return {MemoryType::smp_trampoline, kTrampolineBytes, kLowMemoryLimit - 1, kPageSize, &g_trampoline_taken};
}

void start_application_processors() {
  u32 ids[kMaxListedCpus];
  const u32 listed = acpi::local_apic_ids(ids, kMaxListedCpus);
  if (listed == 0) {
    print("smp: no ACPI MADT: running on the boot cpu only\n");
    return;
  }
  const u32 me = this_cpu().apic_id;
  print("smp: {} processor{} in the ACPI MADT; boot cpu 0 is local APIC id {}\n", listed, listed == 1 ? "" : "s", me);
  if (listed == 1) return;
  g_trampoline = g_trampoline_taken.value();
  if (g_trampoline == 0) {
    log_error("smp: no free RAM below 1 MiB for the AP trampoline: running on the boot cpu only");
    return;
  }
  build_trampoline();
  print("smp: trampoline at {:#x} (Startup IPI vector {:#x})\n", g_trampoline, g_trampoline >> 12);

  const u32 skip = apic_id_to_skip();
  CpuId next = 1;
  for (u32 i = 0; i < listed && i < kMaxListedCpus; ++i) {
    if (ids[i] == me) continue;
    if (next == kMaxBootCpus) {
      log_warn("smp: the kernel runs at most {} cpus; local APIC id {} stays parked", kMaxBootCpus, ids[i]);
      continue;
    }
    if (ids[i] > 0xff) {
      log_warn("smp: local APIC id {} needs x2APIC mode to be addressed; it stays parked", ids[i]);
      continue;
    }
    if (start_ap(next, ids[i], ids[i] == skip)) ++next;
  }
  percpu_set_cpu_count(next);
  print("smp: {} cpus in use\n", next);
}

void run_on_cpu(CpuId cpu, void (*fn)(void*), void* arg) {
  PLATYPOS_ASSERT(cpu != 0 && cpu < Platform::cpu_count(), "run_on_cpu: cpu {} is not an application processor", cpu);
  PerCpu& p = cpu_entry(cpu);
  PLATYPOS_ASSERT(p.work.load(std::memory_order_acquire) == nullptr, "run_on_cpu: cpu {} is still busy", cpu);
  p.work_arg = arg;
  p.work.store(fn, std::memory_order_release);
  Platform::cpu_wake(cpu);
}

void wait_for_cpu(CpuId cpu) {
  PerCpu& p = cpu_entry(cpu);
  while (p.work.load(std::memory_order_acquire) != nullptr) Platform::cpu_relax();
}

bool cpu_is_idle(CpuId cpu) { return cpu_entry(cpu).idle.load(std::memory_order_seq_cst); }

}  // namespace platypos::baremetal::smp

using namespace platypos;
using namespace platypos::baremetal;

// The AP's first C++ code, on its own stack, still on the trampoline's page tables and GDT (ap_trampoline.S).
extern "C" void platypos_ap_main(u64 cpu_number) {
  const auto cpu = static_cast<CpuId>(cpu_number);
  percpu_install(cpu, 0);  // first: current_cpu() and this_cpu() read it
  gdt::init_ap(cpu);
  idt::load();
  user::init_this_cpu();
  write_cr3(smp::g_kernel_cr3);  // the kernel's tables: the trampoline's identity map is gone for this CPU
  smp::g_ap_stage.store(4, std::memory_order_relaxed);
  lapic::init_this_cpu();
  this_cpu().apic_id = lapic::id();
  print("smp: cpu {} up (local APIC id {})\n", cpu, this_cpu().apic_id);
  smp::g_ap_alive.store(true, std::memory_order_release);
  Platform::irq_enable();
  smp::idle_loop();
}
