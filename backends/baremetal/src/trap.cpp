// Interrupt and exception dispatch. Every vector arrives here from trap_entry.S with interrupts disabled.
//
// CPU exceptions are either expected (a call_expecting_fault() is waiting for exactly this one: it gets the fault
// and execution resumes there) or bugs: the handler prints the vector with its name, the error code (decoded for
// page faults), CR2, RIP and the registers, then panics, which prints the frame-pointer backtrace. Thanks to the fake
// frame trap_entry.S pushes, that backtrace runs from the handler through platypos_trap_common into the code that
// faulted and its callers.

#include "trap.hpp"

#include "clock.hpp"
#include "fault_catcher.hpp"
#include "lapic.hpp"
#include "percpu.hpp"
#include "pic.hpp"
#include "user.hpp"

#include <platypos/baremetal/cpu.hpp>
#include <platypos/baremetal/paging.hpp>
#include <platypos/baremetal/vectors.hpp>
#include <platypos/base/assert.hpp>
#include <platypos/base/log.hpp>
#include <platypos/base/print.hpp>
#include <platypos/trace/trace.hpp>

namespace platypos::baremetal {
namespace {

struct ExceptionName {
  const char* mnemonic;
  const char* name;
};

constexpr ExceptionName kExceptions[kExceptionCount] = {
    {"#DE", "divide error"},
    {"#DB", "debug"},
    {"NMI", "non-maskable interrupt"},
    {"#BP", "breakpoint"},
    {"#OF", "overflow"},
    {"#BR", "bound range exceeded"},
    {"#UD", "invalid opcode"},
    {"#NM", "device not available"},
    {"#DF", "double fault"},
    {"#09", "coprocessor segment overrun"},
    {"#TS", "invalid TSS"},
    {"#NP", "segment not present"},
    {"#SS", "stack-segment fault"},
    {"#GP", "general protection"},
    {"#PF", "page fault"},
    {"#15", "reserved exception 15"},
    {"#MF", "x87 floating-point error"},
    {"#AC", "alignment check"},
    {"#MC", "machine check"},
    {"#XM", "SIMD floating-point exception"},
    {"#VE", "virtualization exception"},
    {"#CP", "control protection"},
    {"#22", "reserved exception 22"},
    {"#23", "reserved exception 23"},
    {"#24", "reserved exception 24"},
    {"#25", "reserved exception 25"},
    {"#26", "reserved exception 26"},
    {"#27", "reserved exception 27"},
    {"#HV", "hypervisor injection"},
    {"#VC", "VMM communication"},
    {"#SX", "security exception"},
    {"#31", "reserved exception 31"},
};

void log_page_fault_error(u64 code) {
  log_error("  error code {:#x}: {}, {}, {}{}{}", code, (code & 1) ? "protection violation" : "page not present",
            (code & 2) ? "write" : "read", (code & 4) ? "user" : "kernel", (code & 8) ? ", reserved bit set" : "",
            (code & 16) ? ", instruction fetch" : "");
}

// At error level, like the panic report that follows it.
void report_exception(const TrapFrame& f) {
  const u8 v = static_cast<u8>(f.vector);
  print("\n");
  log_error("CPU EXCEPTION {} ({}, vector {}) on cpu {}", exception_mnemonic(v), exception_name(v), v,
            Platform::current_cpu());
  if (v == kVectorPageFault) {
    log_page_fault_error(f.error_code);
    log_error("  cr2 {:#018x} (the address that faulted)", read_cr2());
  } else {
    log_error("  error code {:#x}", f.error_code);
  }
  log_error("  rip {:#018x}  rsp {:#018x}  rflags {:#x}  cs {:#x}  ss {:#x}", f.rip, f.rsp, f.rflags, f.cs, f.ss);
  log_error("  rax {:016x} rbx {:016x} rcx {:016x} rdx {:016x}", f.rax, f.rbx, f.rcx, f.rdx);
  log_error("  rsi {:016x} rdi {:016x} rbp {:016x} r8  {:016x}", f.rsi, f.rdi, f.rbp, f.r8);
  log_error("  r9  {:016x} r10 {:016x} r11 {:016x} r12 {:016x}", f.r9, f.r10, f.r11, f.r12);
  log_error("  r13 {:016x} r14 {:016x} r15 {:016x}", f.r13, f.r14, f.r15);
  // GCC sets up no frame in leaf functions that use no stack, even with -fno-omit-frame-pointer: when one of them
  // faults, the backtrace below skips its caller. The return address to that caller is then on top of the stack.
  if (f.rsp % 8 == 0 && paging::translate(f.rsp).has_value()) {
    const uptr top = *reinterpret_cast<const uptr*>(f.rsp);
    if (paging::in_kernel_text(top)) {
      log_error("  stack top {:#018x} (the caller, if the faulting function is a leaf without a frame)", top);
    }
  }
}

void handle_exception(TrapFrame& f) {
  if (catch_expected_fault(f)) return;
  report_exception(f);
  const u8 v = static_cast<u8>(f.vector);
  PLATYPOS_PANIC("unhandled CPU exception {} ({}) at rip {:#018x}", exception_mnemonic(v), exception_name(v), f.rip);
}

}  // namespace

const char* exception_mnemonic(u8 vector) { return vector < kExceptionCount ? kExceptions[vector].mnemonic : "IRQ"; }

const char* exception_name(u8 vector) {
  return vector < kExceptionCount ? kExceptions[vector].name : "external interrupt";
}

}  // namespace platypos::baremetal

using namespace platypos::baremetal;

extern "C" void platypos_trap_dispatch(TrapFrame* frame) {
  // From ring 3: the CPU is in the kernel now (a kill is checked again on the way back); an exception there is the
  // program's, and kills its process.
  const bool from_user = (frame->cs & 3) != 0;
  if (from_user) user::on_entry_from_user();
  PerCpu& cpu = this_cpu();
  ++cpu.trap_depth;
  const auto vector = static_cast<platypos::u8>(frame->vector);
  if (from_user && vector < kExceptionCount && vector != kVectorNmi && vector != kVectorDoubleFault &&
      vector != kVectorMachineCheck) {
    user::on_user_exception(*frame);
  }
  // A span around the handler, in the context of whatever was interrupted (its rip names it). A handler that
  // switches tasks (timer preemption) closes the span when the interrupted task runs again.
  PLATYPOS_TRACE(irq_enter, vector, frame->rip);
  if (vector < kExceptionCount) {
    handle_exception(*frame);
  } else if (vector == kVectorTimer) {
    clock::on_timer_interrupt();
  } else if (vector == kVectorWake) {
    // cpu_wake() set the CPU's wake_pending flag before sending this; the interrupt only ended its hlt.
    lapic::eoi();
  } else if (vector == kVectorApicSpurious) {
    // A spurious APIC interrupt is not in service: it takes no EOI.
  } else if (vector == kVectorApicError) {
    lapic::on_error_interrupt();
  } else if (vector >= kVectorPicBase && vector < kVectorPicBase + pic::kIrqCount) {
    pic::on_interrupt(vector - kVectorPicBase);
  } else {
    PLATYPOS_PANIC("unexpected interrupt on vector {:#x}: nothing is routed there", vector);
  }
  PLATYPOS_TRACE(irq_exit, vector);
  --cpu.trap_depth;
  if (from_user) user::on_return_to_user();
}
