#pragma once
// The IDT: all 256 vectors go to trap_entry.S's stubs and from there to platypos_trap_dispatch. Every entry is an
// interrupt gate (interrupts stay disabled in handlers). Double faults and NMIs switch to their IST stacks.

namespace platypos::baremetal::idt {

// Fills the IDT (once, on the boot CPU) and loads it on this CPU.
void init();

// Loads the (filled) IDT on this CPU: the application processors share the boot CPU's.
void load();

// Loads an empty IDT: the next exception or interrupt triple-faults the machine. For the runner's triple-fault
// test only.
[[noreturn]] void triple_fault();

}  // namespace platypos::baremetal::idt
