// The kernel's C++ entry. boot.S calls platypos_kernel_main() in long mode, on the boot stack, with interrupts
// disabled and the boot page tables loaded. Initialization order, each step needing the ones before it:
//
//   per-CPU area    GS base -> cpu 0's PerCpu: current_cpu() (asserts, the console lock) reads it
//   serial          the console, so everything after can report problems
//   GDT/TSS, IDT    CPU exceptions are reported (and panic) instead of triple-faulting
//   boot info       the multiboot memory map and command line, copied into kernel memory
//   paging          the kernel's own tables: direct map sized to the memory map, W^X image, stack guard pages
//   PIC, APIC       legacy PICs remapped and masked; local APIC on
//   clock           TSC and APIC timer calibrated against the PIT; then interrupts on
//   memory          the allocators (the SMP trampoline's pages below 1 MiB taken from the RangePool first)
//
// Then the banner, the boot self-checks, the application processors (smp.hpp: each comes up and waits in its idle
// loop for work, such as a scheduler's run_cpu()), and whatever the command line asks for:
//
//   (nothing)       shut down with success (QEMU exit 33)
//   ktest           run every ktest (KTEST_EXPLICIT ones excepted); success only if all pass
//   ktest=SEL       run the selected suites/tests (comma-separated `suite` or `suite.name`)
//   run, run=SETS   the example programs as processes on dedicated cores, rings served by kernel cores
//                   (programs.hpp: sets echo, logship, objstore, demo; kernel_cores=N); success only if all pass
//   trace           a traced run of the scheduler, the trace streamed out of COM2 (trace_workload.hpp)
//   crash=KIND      fail on purpose, for the runner's own tests: panic, page_fault, stack_overflow (a double fault
//                   on the IST stack), nmi, triple_fault (QEMU exits 0: must not count as a pass), hang
//   smp_skip_sipi=ID  start the AP with local APIC id ID without its Startup IPIs: the failure path of the SMP
//                   bring-up (reported, then the boot goes on without it); combines with the words above
//
// An unknown word on the command line is an error (shutdown with failure): a typo must not pass as a green boot.

#include "boot_info.hpp"
#include "clock.hpp"
#include "cpu_info.hpp"
#include "gdt.hpp"
#include "idt.hpp"
#include "lapic.hpp"
#include "percpu.hpp"
#include "pic.hpp"
#include "programs.hpp"
#include "serial.hpp"
#include "smp.hpp"
#include "trace_workload.hpp"
#include "user.hpp"

#include <platypos/baremetal/cpu.hpp>
#include <platypos/baremetal/expected_fault.hpp>
#include <platypos/baremetal/paging.hpp>
#include <platypos/baremetal/vectors.hpp>
#include <platypos/base/assert.hpp>
#include <platypos/base/cmdline.hpp>
#include <platypos/base/log.hpp>
#include <platypos/base/print.hpp>
#include <platypos/base/units.hpp>
#include <platypos/ktest/runner.hpp>
#include <platypos/mm/kernel_memory.hpp>
#include <platypos/platform.hpp>

#include <new>

#ifndef PLATYPOS_VERSION
#error "PLATYPOS_VERSION must be defined by the build (backends/baremetal/CMakeLists.txt)"
#endif

extern "C" [[noreturn]] void platypos_kernel_main(platypos::u32 multiboot_magic, platypos::u32 multiboot_info_phys);

namespace platypos::baremetal {
namespace {

// "639 KiB", "3070 MiB": sizes in the unit that keeps them readable (rounded down).
FormatBuffer<32> size_text(u64 bytes) {
  FormatBuffer<32> out;
  if (bytes >= 16 * MiB) {
    out.append("{} MiB", bytes / MiB);
  } else if (bytes >= 16 * KiB) {
    out.append("{} KiB", bytes / KiB);
  } else {
    out.append("{} B", bytes);
  }
  return out;
}

// "2994.734 MHz"
FormatBuffer<32> mhz_text(u64 hz) {
  FormatBuffer<32> out;
  const u64 khz = hz / 1000;
  out.append("{}.{:03} MHz", khz / 1000, khz % 1000);
  return out;
}

void print_banner() {
  print("\nPlatypOS {} (bare metal, x86_64)\n", PLATYPOS_VERSION);
  print("boot: loader '{}', command line '{}'\n", boot_info::boot_loader_name(), boot_info::command_line());

  const CpuInfo cpu = read_cpu_info();
  print("cpu: {} '{}' family {} model {} stepping {}; nx {}, invariant tsc {}; {} cpu in use\n", cpu.vendor, cpu.brand,
        cpu.family, cpu.model, cpu.stepping, cpu.nx ? "yes" : "no", cpu.invariant_tsc ? "yes" : "no",
        Platform::cpu_count());

  const auto map = boot_info::firmware_map();
  print("memory map (from the boot loader, {} entries):\n", map.size());
  for (const boot_info::FirmwareRange& r : map) {
    const MemoryType t = r.type == 1   ? MemoryType::free_ram
                         : r.type == 3 ? MemoryType::acpi_reclaimable
                         : r.type == 4 ? MemoryType::acpi_nvs
                         : r.type == 5 ? MemoryType::bad_memory
                                       : MemoryType::reserved;
    print("  [{:#018x}, {:#018x}) {:>10}  type {} ({})\n", r.base, r.base + r.length, size_text(r.length).c_str(),
          r.type, memory_type_name(t));
  }
  print("memory: usable RAM {} MiB; kernel image [{:#x}, {:#x}) {}; direct map {} GiB at {:#x}\n",
        boot_info::usable_bytes() / MiB, boot_info::kernel_phys_start(), boot_info::kernel_phys_end(),
        size_text(boot_info::kernel_phys_end() - boot_info::kernel_phys_start()).c_str(),
        paging::direct_map_size() / GiB, paging::kDirectMapBase);
  print("timer: local APIC one-shot at {} (bus clock / {}); TSC at {}; both calibrated against the PIT\n",
        mhz_text(clock::timer_hz()).c_str(), lapic::kTimerDivider, mhz_text(clock::tsc_hz()).c_str());
}

// The kernel's physical memory management, in static storage (no global constructor: built in init_memory()).
alignas(KernelMemory) constinit unsigned char g_memory_storage[sizeof(KernelMemory)] = {};

// The memory map (firmware's, plus the kernel image) into the RangePool, all free RAM into the buddy allocator,
// the kernel heap installed.
void init_memory() {
  auto* m = new (g_memory_storage) KernelMemory(DirectMap(reinterpret_cast<uptr>(Platform::phys_to_virt(0))));
  const EarlyAllocation early[] = {smp::trampoline_allocation()};
  const BuddyHandover h = m->init(Platform::boot_memory_map(), early).expect("physical memory set-up");
  print("memory: buddy allocator manages {} in {} regions; state {} KiB, pool bookkeeping {} KiB\n",
        size_text(h.managed_bytes).c_str(), h.regions, h.metadata_bytes / KiB,
        m->pool().bookkeeping_pages() * kPageSize / KiB);
}

// Boot self-checks: the machine is in the state the rest of the kernel assumes. Failures panic.
constinit u64 g_self_check_timer_fired_at = 0;

void run_self_checks() {
  // The memory map has RAM, and the kernel was loaded into some of it.
  PLATYPOS_ASSERT(boot_info::usable_bytes() > 0, "the memory map has no usable RAM");
  bool kernel_in_ram = false;
  for (const boot_info::FirmwareRange& r : boot_info::firmware_map()) {
    kernel_in_ram = kernel_in_ram || (r.type == 1 && r.base <= boot_info::kernel_phys_start() &&
                                      boot_info::kernel_phys_end() <= r.base + r.length);
  }
  PLATYPOS_ASSERT(kernel_in_ram, "the kernel image [{:#x}, {:#x}) is not inside usable RAM",
                  boot_info::kernel_phys_start(), boot_info::kernel_phys_end());

  // Every usable range is reachable through the direct map, first and last byte.
  for (const boot_info::FirmwareRange& r : boot_info::firmware_map()) {
    if (r.type != 1 || r.length == 0 || r.base + r.length > paging::direct_map_size()) continue;
    for (u64 phys : {r.base, r.base + r.length - 1}) {
      const auto fault = expect_fault(kVectorPageFault,
                                      [phys] { (void)*static_cast<volatile const u8*>(Platform::phys_to_virt(phys)); });
      PLATYPOS_ASSERT(!fault.has_value(), "RAM at {:#x} is not reachable through the direct map", phys);
    }
  }

  // The timer interrupt arrives, not before its deadline, and wakes the idle CPU.
  Platform::set_timer_handler([](u64 now) { g_self_check_timer_fired_at = now; });
  const u64 deadline = Platform::now_ns() + 1 * kNsPerMs;
  Platform::timer_arm(deadline);
  while (g_self_check_timer_fired_at == 0) Platform::cpu_idle();
  Platform::set_timer_handler(nullptr);
  PLATYPOS_ASSERT(g_self_check_timer_fired_at >= deadline, "timer fired at {} ns, before its deadline {} ns",
                  g_self_check_timer_fired_at, deadline);

  // The allocators work on real memory: pages through the direct map, objects from the kernel heap.
  KernelMemory& mem = *KernelMemory::instance();
  PLATYPOS_ASSERT(mem.pool().check_invariants() && mem.pages().check_invariants(), "allocator invariants broken");
  const PhysAddr page = mem.pages().alloc(0).expect("a page");
  *mem.direct_map().to_virt<volatile u64>(page) = 0x1234;
  PLATYPOS_ASSERT(*mem.direct_map().to_virt<volatile u64>(page) == 0x1234, "page {:#x} does not hold a value",
                  page.value());
  mem.pages().free(page, 0).expect("freeing a page");
  u64* obj = make<u64>(42).expect("a kernel heap object");
  destroy(obj).expect("destroying a kernel heap object");

  print("boot: self-checks passed (memory map, direct map, timer interrupt, allocators) at {} ms since reset\n",
        Platform::now_ns() / kNsPerMs);
}

// --- crash=KIND: deliberate failures, for the tests of the runner and of the panic path ----------------------------

[[gnu::noinline]] void crash_panic_inner(int depth) {
  PLATYPOS_PANIC("deliberate panic (crash=panic) at depth {}", depth);
}
[[gnu::noinline]] void crash_panic_outer() {
  crash_panic_inner(2);
  asm volatile("");  // keep this frame (no tail call)
}

[[gnu::noinline]] void crash_page_fault() {
  *reinterpret_cast<volatile u64*>(0xdead0000) = 1;
  asm volatile("");
}

constinit volatile u64 g_never = ~u64{0};

// Recurses until the boot stack runs into its guard page. The fault cannot be delivered on the overflowed stack,
// so the CPU raises a double fault, which runs on its own IST stack.
[[gnu::noinline]] u64 crash_stack_overflow(u64 depth) {
  volatile u8 frame[256];
  frame[0] = static_cast<u8>(depth);
  if (depth == g_never) return 0;
  return crash_stack_overflow(depth + 1) + frame[0];
}

[[noreturn]] void crash(std::string_view kind) {
  print("boot: crash={}: failing on purpose\n", kind);
  if (kind == "panic") {
    crash_panic_outer();
  } else if (kind == "page_fault") {
    crash_page_fault();
  } else if (kind == "stack_overflow") {
    (void)crash_stack_overflow(0);
  } else if (kind == "nmi") {
    lapic::send_nmi_to_self();
  } else if (kind == "triple_fault") {
    idt::triple_fault();
  } else if (kind == "hang") {
    // Idle with nothing armed: only the harness's timeout ends this.
    for (;;) Platform::cpu_idle();
  } else {
    log_error("boot: unknown crash kind '{}' (panic, page_fault, stack_overflow, nmi, triple_fault, hang)", kind);
    Platform::shutdown(ExitStatus::failure);
  }
  PLATYPOS_PANIC("crash={} did not crash", kind);
}

[[noreturn]] void run_command_line(std::string_view text) {
  const CommandLine cmdline(text);
  for (CommandLine::Word w : cmdline) {
    if (w.key == "ktest" || (w.key == "trace" && !w.has_value) || (w.key == "crash" && w.has_value)) continue;
    if (w.key == "run" || (w.key == "kernel_cores" && w.has_value)) continue;  // read by programs.cpp
    if (w.key == "smp_skip_sipi" && w.has_value) continue;                     // read by smp.cpp
    log_error(
        "boot: unknown command-line word '{}' (known: ktest, ktest=SUITE[.TEST][,...], trace, crash=KIND, "
        "run, run=SET[,SET...], kernel_cores=N, smp_skip_sipi=APIC_ID)",
        w.key);
    Platform::shutdown(ExitStatus::failure);
  }
  if (const auto kind = cmdline.value("crash")) crash(*kind);
  if (cmdline.has("trace")) {
    if (cmdline.has("ktest")) {
      log_error("boot: 'trace' runs its own workload; it does not combine with 'ktest'");
      Platform::shutdown(ExitStatus::failure);
    }
    trace_workload::run("PlatypOS " PLATYPOS_VERSION " (bare metal, x86_64): the trace workload");
  }
  if (programs::requested(cmdline)) {
    if (cmdline.has("ktest") || cmdline.has("trace")) {
      log_error("boot: 'run' does not combine with 'ktest' or 'trace'");
      Platform::shutdown(ExitStatus::failure);
    }
    programs::run(cmdline);
  }
  if (cmdline.has("ktest")) {
    const ktest::Summary summary = ktest::run(ktest::registered_tests(), cmdline.value("ktest").value_or(""));
    Platform::shutdown(ktest::exit_status(summary));
  }
  print("boot: nothing to run; shutting down\n");
  Platform::shutdown(ExitStatus::success);
}

}  // namespace
}  // namespace platypos::baremetal

extern "C" void platypos_kernel_main(platypos::u32 multiboot_magic, platypos::u32 multiboot_info_phys) {
  using namespace platypos;
  using namespace platypos::baremetal;
  percpu_install(0, 0);
  serial::init();
  gdt::init_boot_cpu();
  idt::init();
  user::init_this_cpu();
  boot_info::capture(multiboot_magic, multiboot_info_phys);
  paging::init(boot_info::memory_map());
  if (const u64 clip = paging::direct_map_clipped_at(); clip != 0) boot_info::reserve(clip, ~u64{0} - clip);
  pic::remap_and_mask();
  lapic::init();
  this_cpu().apic_id = lapic::id();
  clock::init();
  Platform::irq_enable();

  print_banner();
  init_memory();
  run_self_checks();
  smp::start_application_processors();
  run_command_line(boot_info::command_line());
}
