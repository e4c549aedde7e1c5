// t-syscall-bench: what a system call costs through the ring compared with a trap, measured in TSC cycles from ring 3.
//
//   t-syscall-bench [rounds=2000]
//
//   ring nop round trip      `co_await cx.nop()`, one at a time: the executor publishes the entry, a kernel core
//                            polling the ring runs it and posts the completion, the executor reaps it and resumes us
//   syscall nop round trip   `syscall` kSysNop: a bare trap into the kernel and back
//   ring nop batched         32 nops in flight at once (when_all), per operation: the ring's cost when batching
//
// Prints, e.g.:
//   t-syscall-bench: ring nop round trip: median 5123 cycles, p99 9876 cycles (2000 rounds)
//   t-syscall-bench: syscall nop round trip: median 412 cycles, p99 800 cycles (2000 rounds)
//   t-syscall-bench: ring nop batched (32 per batch): median 321 cycles per op, p99 654 cycles per op (62 batches)
//   t-syscall-bench: ratio ring/syscall: 12.43
// Integers only (-mgeneral-regs-only). Exit code 0, or 1 if an operation failed, 2 on bad arguments.

#include <platypos/user/context.hpp>
#include <platypos/user/when_all.hpp>

#include <cstdint>
#include <span>

#include "support/args.hpp"
#include "support/console.hpp"
#include "sys.hpp"

namespace platypos::baremetal::user_tests {
namespace {

using platypos::user::Context;
using platypos::user::Task;

constexpr std::uint64_t kDefaultRounds = 2'000;
constexpr std::uint64_t kMaxRounds = 1'000'000;  // 8 MB of samples
constexpr std::uint32_t kBatch = 32;

// rdtsc is not ordered against earlier instructions: lfence first, so the measured interval starts after them.
std::uint64_t stamp() {
  asm volatile("lfence" ::: "memory");
  return user_sys::rdtsc();
}

// Insertion sort: a few thousand samples, once, in a test.
void sort(std::uint64_t* a, std::uint64_t n) {
  for (std::uint64_t i = 1; i < n; ++i) {
    const std::uint64_t v = a[i];
    std::uint64_t j = i;
    while (j > 0 && a[j - 1] > v) {
      a[j] = a[j - 1];
      --j;
    }
    a[j] = v;
  }
}

struct Summary {
  std::uint64_t median = 0;
  std::uint64_t p99 = 0;
};

Summary summarize(std::uint64_t* samples, std::uint64_t n) {
  sort(samples, n);
  const std::uint64_t p99 = n * 99 / 100;
  return {samples[n / 2], samples[p99 < n ? p99 : n - 1]};
}

// (The result is bound to a local: g++ 12.2 miscompiles a Task<void> whose last statement is `if (!co_await ...)`;
// its first resume returns without running the body. docs/rings.md.)
Task<void> one_nop(Context& cx, std::uint64_t* failures) {
  const auto r = co_await cx.nop();
  if (!r) ++*failures;
}

Task<int> syscall_bench_main(Context& cx) {
  const examples::Args args(cx.args());
  const std::uint64_t rounds = args.u64_or("rounds", kDefaultRounds);
  if (!args.ok() || !args.unknown_key({"rounds"}).empty() || rounds == 0 || rounds > kMaxRounds) {
    co_await examples::say(cx, "t-syscall-bench: usage: t-syscall-bench [rounds=N] (1 to {})", kMaxRounds);
    co_return 2;
  }
  auto* samples = static_cast<std::uint64_t*>(cx.heap().alloc(rounds * sizeof(std::uint64_t)));
  if (samples == nullptr) cx.fatal("t-syscall-bench: no memory for the samples");

  // (a) Ring round trips, one at a time.
  std::uint64_t failures = 0;
  for (std::uint64_t i = 0; i < rounds; ++i) {
    const std::uint64_t t0 = stamp();
    const auto r = co_await cx.nop();
    samples[i] = stamp() - t0;
    if (!r) ++failures;
  }
  const Summary ring = summarize(samples, rounds);

  // (b) Bare traps.
  for (std::uint64_t i = 0; i < rounds; ++i) {
    const std::uint64_t t0 = stamp();
    const std::uint64_t r = user_sys::syscall0(user_abi::kSysNop);
    samples[i] = stamp() - t0;
    if (r != 0) ++failures;
  }
  const Summary sys = summarize(samples, rounds);

  // (c) Batches of kBatch nops in flight together; a sample is one batch's cycles per operation.
  const std::uint64_t batches = rounds / kBatch > 0 ? rounds / kBatch : 1;
  Task<void> tasks[kBatch];
  for (std::uint64_t b = 0; b < batches; ++b) {
    const std::uint64_t t0 = stamp();
    for (Task<void>& t : tasks) t = one_nop(cx, &failures);
    co_await platypos::user::when_all(cx, std::span<Task<void>>(tasks));
    samples[b] = (stamp() - t0) / kBatch;
  }
  const Summary batched = summarize(samples, batches);
  cx.heap().free(samples, rounds * sizeof(std::uint64_t));

  co_await examples::say(cx, "t-syscall-bench: ring nop round trip: median {} cycles, p99 {} cycles ({} rounds)",
                         ring.median, ring.p99, rounds);
  co_await examples::say(cx, "t-syscall-bench: syscall nop round trip: median {} cycles, p99 {} cycles ({} rounds)",
                         sys.median, sys.p99, rounds);
  co_await examples::say(cx,
                         "t-syscall-bench: ring nop batched ({} per batch): median {} cycles per op, p99 {} cycles "
                         "per op ({} batches)",
                         kBatch, batched.median, batched.p99, batches);
  // Two decimals, rounded, in integers.
  const std::uint64_t hundredths = sys.median == 0 ? 0 : (ring.median * 100 + sys.median / 2) / sys.median;
  co_await examples::say(cx, "t-syscall-bench: ratio ring/syscall: {}.{:02}", hundredths / 100, hundredths % 100);
  if (failures != 0) {
    co_await examples::say(cx, "t-syscall-bench: {} operations failed", failures);
    co_return 1;
  }
  co_return 0;
}

}  // namespace
}  // namespace platypos::baremetal::user_tests

PLATYPOS_USER_PROGRAM("t-syscall-bench", platypos::baremetal::user_tests::syscall_bench_main);
