// t-user-fault: a ring-3 program that breaks a rule of its address space or of ring 3 on purpose, for the kernel's
// tests of user-mode isolation. The kernel must end the process (and only it) and report the fault; surviving is the
// failure. It says what it is about to do first, so the test can tell "faulted as intended" from "never got there".
//
//   t-user-fault what=kernel|null|other|ud|div|gp|exit
//
//   kernel  read a kernel address (0xffffffff80100000: the kernel image, supervisor-only)
//   null    read address 0 (never mapped)
//   other   read a lower-half address this process has not mapped: far beyond its memory in the memory window
//           (kUserMemoryBase + 32 GiB), where a process with more memory would have its pages
//   ud      ud2 (#UD)
//   div     an integer division by zero (#DE)
//   gp      hlt, privileged: #GP in ring 3
//   exit    no fault: return 7 (the process's exit code)
//
// Prints "t-user-fault: about to <what>", then, only if it is still running, "t-user-fault: survived <what>" and
// exits with 1. Exit code 2: bad arguments; 3: the `other` address turned out to be this process's own memory.

#include <platypos/baremetal/user_abi.hpp>
#include <platypos/user/context.hpp>

#include <cstdint>
#include <string_view>

#include "support/args.hpp"
#include "support/console.hpp"

namespace platypos::baremetal::user_tests {
namespace {

using platypos::user::Context;
using platypos::user::Task;

constexpr std::uint64_t kKernelAddress = 0xffff'ffff'8010'0000;
constexpr std::uint64_t kOtherAddress = user_abi::kUserMemoryBase + 0x8'0000'0000;

// Reads `addr`. The empty asm hides the value from the optimizer: it may not assume the address is null (and turn the
// read into a trap of its own) or drop the read.
void read_at(std::uint64_t addr) {
  asm volatile("" : "+r"(addr));
  const std::uint64_t v = *reinterpret_cast<const volatile std::uint64_t*>(addr);
  asm volatile("" : : "r"(v));
}

void divide_by_zero() {
  std::uint32_t lo = 1;
  std::uint32_t hi = 0;
  // In asm, so the compiler can neither fold it nor call it undefined behaviour.
  asm volatile("divl %[d]" : "+a"(lo), "+d"(hi) : [d] "r"(0u));
}

Task<int> user_fault_main(Context& cx) {
  const examples::Args args(cx.args());
  const std::string_view what = args.str_or("what", "");
  const bool known = what == "kernel" || what == "null" || what == "other" || what == "ud" || what == "div" ||
                     what == "gp" || what == "exit";
  if (!known || !args.unknown_key({"what"}).empty()) {
    co_await examples::say(cx, "t-user-fault: usage: t-user-fault what=kernel|null|other|ud|div|gp|exit");
    co_return 2;
  }
  if (what == "other" && cx.in_program_memory(reinterpret_cast<const void*>(kOtherAddress), 8)) {
    co_await examples::say(cx, "t-user-fault: {:#x} is this process's own memory: not a test", kOtherAddress);
    co_return 3;
  }

  co_await examples::say(cx, "t-user-fault: about to {}", what);
  if (what == "exit") co_return 7;
  if (what == "kernel") read_at(kKernelAddress);
  if (what == "null") read_at(0);
  if (what == "other") read_at(kOtherAddress);
  if (what == "ud") asm volatile("ud2");
  if (what == "div") divide_by_zero();
  if (what == "gp") asm volatile("hlt");
  co_await examples::say(cx, "t-user-fault: survived {}", what);
  co_return 1;
}

}  // namespace
}  // namespace platypos::baremetal::user_tests

PLATYPOS_USER_PROGRAM("t-user-fault", platypos::baremetal::user_tests::user_fault_main);
