#pragma once
// Bringing up the application processors (the boot side of include/platypos/baremetal/smp.hpp).
//
//   trampoline_allocation()        for KernelMemory::init(): the trampoline's pages below 1 MiB, taken from the
//                                  RangePool (tagged smp_trampoline) before the buddy allocator gets free RAM
//   start_application_processors() after it: finds the CPUs in the ACPI MADT and starts each one in turn with
//                                  INIT-SIPI-SIPI; each AP comes up through ap_trampoline.S into platypos_ap_main()
//                                  (its GDT/TSS, the IDT, the kernel's page tables, its GS base and local APIC) and
//                                  then waits in its idle loop. An AP that does not check in within a timeout is
//                                  reported on the console (with how far it got) and put back to sleep with INIT;
//                                  the kernel goes on with the CPUs it has.

#include <platypos/base/types.hpp>
#include <platypos/mm/kernel_memory.hpp>

namespace platypos::baremetal::smp {

EarlyAllocation trampoline_allocation();
void start_application_processors();

}  // namespace platypos::baremetal::smp
