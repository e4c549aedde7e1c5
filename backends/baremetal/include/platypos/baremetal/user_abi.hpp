#pragma once
// What a ring-3 program sees of the bare-metal kernel, besides the ring ABI (core/include/platypos/abi): where its
// address space has what, how it is entered, and the system calls. Shared by the kernel (user.cpp) and the user
// runtime that starts every program (backends/baremetal/user/start.cpp). Plain integers only: this header is
// included on both sides of the privilege boundary.
//
// The address space of a process (4 KiB pages, all user pages non-global; nothing else below the kernel half):
//
//   kUserClockPage        one read-only page: UserClock (the kernel's clock parameters; now_ns() without a trap)
//   kUserImageBase ..     the program's ELF segments (linked there by user.ld): text r-x, rodata r--, data/bss rw-
//   kUserMemoryBase ..    the program's memory (ProgramEnv::memory): the envs, then each core's heap; rw-
//   kUserRingBase + i*kUserRingStride   core i's ring region (ProgramEnv::ring); rw-
//   kUserStackTop - i*kUserStackStride  top of core i's stack (kUserStackBytes, with an unmapped guard page below)
//
// Entry: the kernel starts each of the program's cores at the ELF entry point (`_start`) in ring 3 with rdi = that
// core's ProgramEnv* (a user address, in the program's memory) and rsp = the top of that core's stack (16-byte
// aligned; there is no return address). Interrupts are on. Every other register is zero.
//
// System calls: `syscall` with the number in rax and arguments in rdi, rsi; the result comes back in rax. rcx and
// r11 are clobbered (the instruction's own use); every other register is preserved. An unknown number returns
// kSysBadNumber. A process whose tasks were killed never returns from its next system call (or interrupt).

#include <cstdint>

namespace platypos::baremetal::user_abi {

inline constexpr std::uint64_t kUserClockPage = 0x0000'0000'0010'0000;
inline constexpr std::uint64_t kUserImageBase = 0x0000'0000'0040'0000;
inline constexpr std::uint64_t kUserImageLimit = 0x0000'0000'4000'0000;  // the ELF's segments must end below
inline constexpr std::uint64_t kUserMemoryBase = 0x0000'0010'0000'0000;
inline constexpr std::uint64_t kUserRingBase = 0x0000'0020'0000'0000;
inline constexpr std::uint64_t kUserRingStride = 0x0000'0000'0100'0000;  // 16 MiB per core's ring
inline constexpr std::uint64_t kUserStackTop = 0x0000'7fff'0000'0000;
inline constexpr std::uint64_t kUserStackStride = 0x0000'0000'0100'0000;  // 16 MiB apart
inline constexpr std::uint64_t kUserStackBytes = 64 * 1024;

// System call numbers (rax).
inline constexpr std::uint64_t kSysExit = 0;             // rdi: exit code of this core's task; never returns
inline constexpr std::uint64_t kSysDoorbell = 1;         // the ring's kernel core went idle (NEED_WAKEUP): wake it
inline constexpr std::uint64_t kSysWaitCompletions = 2;  // rdi: min; blocks until the CQ holds that many entries
inline constexpr std::uint64_t kSysNop = 3;              // returns 0 at once: the cost of a bare trap round trip
inline constexpr std::uint64_t kSysBadNumber = ~std::uint64_t{0};

// The clock page. now_ns() = (u128(rdtsc()) * ns_per_tsc_q32) >> 32, exactly the kernel's Platform::now_ns().
struct UserClock {
  std::uint64_t ns_per_tsc_q32;
  std::uint64_t tsc_hz;
};

}  // namespace platypos::baremetal::user_abi
