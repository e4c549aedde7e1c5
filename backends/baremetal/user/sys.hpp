#pragma once
// The bare-metal kernel's system calls and the time stamp counter, as seen from ring 3: the few instructions that
// start.cpp turns into ProgramEnv's hooks, and that test programs (tests/) use directly to measure a bare trap.
// Programs proper never include this: they go through core/user's Context, which goes through the hooks.
//
// Convention (user_abi.hpp): number in rax, arguments in rdi and rsi, result in rax; the `syscall` instruction itself
// overwrites rcx (return rip) and r11 (rflags), and the kernel may have written any memory the program shares with
// it (the rings), hence "memory".

#include <platypos/baremetal/user_abi.hpp>

#include <cstdint>

namespace platypos::baremetal::user_sys {

inline std::uint64_t syscall0(std::uint64_t number) {
  std::uint64_t rax = number;
  asm volatile("syscall" : "+a"(rax) : : "rcx", "r11", "memory");
  return rax;
}

inline std::uint64_t syscall1(std::uint64_t number, std::uint64_t arg0) {
  std::uint64_t rax = number;
  asm volatile("syscall" : "+a"(rax) : "D"(arg0) : "rcx", "r11", "memory");
  return rax;
}

[[noreturn]] inline void sys_exit(std::int64_t code) {
  syscall1(user_abi::kSysExit, static_cast<std::uint64_t>(code));
  // kSysExit never returns. If it ever did, spin: a ring-3 hlt would only fault.
  for (;;) asm volatile("pause");
}

inline std::uint64_t rdtsc() {
  std::uint32_t lo = 0;
  std::uint32_t hi = 0;
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (static_cast<std::uint64_t>(hi) << 32) | lo;
}

inline void cpu_relax() { asm volatile("pause" ::: "memory"); }

}  // namespace platypos::baremetal::user_sys
