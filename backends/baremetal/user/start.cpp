// The entry of every ring-3 program (user.ld: ENTRY(_start)). The kernel starts each of the program's cores here with
// rdi = that core's ProgramEnv* and rsp = the top of that core's stack (16-byte aligned, no return address; see
// platypos/baremetal/user_abi.hpp). This file finds the program the env names among the PLATYPOS_PROGRAM descriptors
// linked into the ELF, gives the env its hooks (system calls, clock), runs the program's main and exits with 0 when it
// returns. A program that wants another exit code ends the process itself (core/user's run_program does).
//
// Freestanding and constructor-free: nothing here runs before _start, and nothing needs to.

#include "sys.hpp"

#include <platypos/abi/program.hpp>
#include <platypos/baremetal/user_abi.hpp>

#include <cstdint>

using platypos::abi::ProgramDescriptor;
using platypos::abi::ProgramEnv;

// Defined by user.ld around the platypos_programs output section.
extern "C" const ProgramDescriptor* const __start_platypos_programs[];
extern "C" const ProgramDescriptor* const __stop_platypos_programs[];

extern "C" [[noreturn]] void platypos_user_start(const ProgramEnv* env);

// rsp is 16-byte aligned here, so after `call` pushes the return address platypos_user_start sees the alignment the
// SysV ABI promises at a function's entry. rbp = 0 ends the frame-pointer chain for backtraces (the kernel zeroes it
// already; this does not rely on it). rdi passes through untouched.
asm(R"(
  .section .text._start, "ax", @progbits
  .globl _start
  .type _start, @function
_start:
  xor %ebp, %ebp
  call platypos_user_start
  ud2
  .size _start, . - _start
  .previous
)");

namespace platypos::baremetal::user_sys {
namespace {

using namespace user_abi;

void doorbell(void* /*ctx*/) { syscall0(kSysDoorbell); }

void wait_completions(void* /*ctx*/, std::uint32_t min) { syscall1(kSysWaitCompletions, min); }

std::uint64_t now_ns() {
  // The kernel's read-only clock page: the same arithmetic as its Platform::now_ns(), with no trap.
  const auto* clock = reinterpret_cast<const volatile UserClock*>(kUserClockPage);
  return static_cast<std::uint64_t>((static_cast<unsigned __int128>(rdtsc()) * clock->ns_per_tsc_q32) >> 32);
}

void work_ns(std::uint64_t ns) {
  const std::uint64_t start = now_ns();
  while (now_ns() - start < ns) cpu_relax();
}

void relax() { cpu_relax(); }

// env->name is a char[32] that the kernel NUL-terminates when the name is shorter; never read past it.
bool name_is(const ProgramEnv& env, const char* name) {
  for (std::uint32_t i = 0; i < sizeof env.name; ++i) {
    if (env.name[i] != name[i]) return false;
    if (name[i] == '\0') return true;
  }
  return name[sizeof env.name] == '\0';
}

const ProgramDescriptor* find_program(const ProgramEnv& env) {
  for (const ProgramDescriptor* const* d = __start_platypos_programs; d != __stop_platypos_programs; ++d) {
    if (*d != nullptr && name_is(env, (*d)->name)) return *d;
  }
  return nullptr;
}

}  // namespace
}  // namespace platypos::baremetal::user_sys

extern "C" void platypos_user_start(const ProgramEnv* env) {
  namespace u = platypos::baremetal::user_sys;
  const ProgramDescriptor* program = u::find_program(*env);
  if (program == nullptr) u::sys_exit(127);  // this ELF does not contain the program the kernel meant to start

  // ProgramEnv reaches programs as `const ProgramEnv*` (they must not change it), but its hooks are for this file to
  // fill in: the kernel cannot point them at user code it does not know. The env lives in the program's own memory
  // (user-writable, see user_abi.hpp) and was never defined const, so writing it through a cast is well-defined.
  auto* writable = const_cast<ProgramEnv*>(env);
  writable->doorbell = u::doorbell;
  writable->wait_completions = u::wait_completions;
  writable->now_ns = u::now_ns;
  writable->work_ns = u::work_ns;
  writable->relax = u::relax;

  program->main(env);
  u::sys_exit(0);
}
