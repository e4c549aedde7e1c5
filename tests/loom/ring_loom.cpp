// The system-call ring's submission/completion and NEED_WAKEUP/doorbell protocol (abi/ring.hpp), between a
// program (cpu 1) and the kernel core serving its ring (cpu 0).
//
// The ring header's counters are std::atomic (the ABI carries no kernel types), so accesses to them are not
// scheduling points by themselves. This test runs the protocol's steps in the order RingClient::flush
// (core/user/src/ring_client.cpp) and RingServer's idle path (core/src/ring/server.cpp) take them, with a scheduling
// point before each shared access: it checks the protocol, not those two functions line by line.
//
// Correct: the kernel sets NEED_WAKEUP, fences, looks at sq_tail once more, and only then sleeps; the program
// publishes sq_tail, fences, reads the flag, rings the doorbell if set. Planted (ring.bug_lost_wakeup): the kernel
// sleeps without the second look, so a tail published between its last look and the flag is never served: the run
// ends with the kernel core asleep, nothing armed, entries unserved (stuck).
#include "loom.hpp"

#include <platypos/abi/ring.hpp>
#include <platypos/sync/atomic.hpp>

namespace platypos::loom {
namespace {

constexpr u32 kEntries = 2;  // submissions, each in its own flush
constexpr u32 kSize = 4;     // SQ and CQ slots
constexpr CpuId kKernel = 0;

struct RingTest final : Instance {
  bool recheck;
  abi::RingHeader hdr{};
  abi::Sqe sq[kSize] = {};
  abi::Cqe cq[kSize] = {};
  u32 doorbells = 0;
  u32 sleeps = 0;
  explicit RingTest(bool r) : recheck(r) {}

  static u32 load(std::atomic<u32>& a, std::memory_order mo) {
    Platform::sched_point(SchedPoint::atomic_load);
    return a.load(mo);
  }
  static void store(std::atomic<u32>& a, u32 v, std::memory_order mo) {
    Platform::sched_point(SchedPoint::atomic_store);
    a.store(v, mo);
  }
  static void fence() { atomic_fence(std::memory_order_seq_cst); }

  void program() {
    u32 cq_head = 0;
    for (u32 i = 0; i < kEntries; ++i) {
      abi::Sqe& s = sq[i & (kSize - 1)];
      s = abi::Sqe{};
      s.user_data = 100 + i;
      store(hdr.sq_tail, i + 1, std::memory_order_release);
      fence();
      if ((load(hdr.flags, std::memory_order_relaxed) & abi::kRingFlagNeedWakeup) != 0) {
        ++doorbells;
        Platform::cpu_wake(kKernel);  // the doorbell system call
      }
      // Reap whatever completed so far (frees CQ slots, as a program does between flushes).
      const u32 tail = load(hdr.cq_tail, std::memory_order_acquire);
      for (; cq_head != tail; ++cq_head) {
        LOOM_CHECK(cq[cq_head & (kSize - 1)].user_data == 100 + cq_head, "completion out of order");
      }
      store(hdr.cq_head, cq_head, std::memory_order_release);
    }
  }

  void kernel() {
    u32 head = 0;  // the kernel's own copy of sq_head
    u32 cq_tail = 0;
    while (head < kEntries) {
      const u32 tail = load(hdr.sq_tail, std::memory_order_acquire);
      if (tail != head) {
        for (; head != tail; ++head) {
          cq[cq_tail & (kSize - 1)] = abi::Cqe{sq[head & (kSize - 1)].user_data, 0};
          ++cq_tail;
        }
        store(hdr.sq_head, head, std::memory_order_release);
        store(hdr.cq_tail, cq_tail, std::memory_order_release);
        continue;
      }
      // Nothing to do: go idle (RingServer after its idle period).
      Platform::sched_point(SchedPoint::atomic_rmw);
      hdr.flags.fetch_or(abi::kRingFlagNeedWakeup, std::memory_order_seq_cst);
      fence();
      const bool pending = recheck && load(hdr.sq_tail, std::memory_order_acquire) != head;
      if (!pending) {
        ++sleeps;
        Platform::cpu_idle();  // until the doorbell
      }
      Platform::sched_point(SchedPoint::atomic_rmw);
      hdr.flags.fetch_and(~abi::kRingFlagNeedWakeup, std::memory_order_relaxed);
    }
  }

  void run(CpuId cpu) override {
    if (cpu == kKernel) {
      kernel();
    } else {
      program();
    }
  }
  void check() override {
    LOOM_CHECK(hdr.cq_tail.load() == kEntries, "completions: " + std::to_string(hdr.cq_tail.load()));
  }
};

const Register r1({"ring.need_wakeup", "SQ/CQ + NEED_WAKEUP/doorbell, 2 flushes, kernel may sleep between", 2, false,
                   [] { return std::make_unique<RingTest>(true); }});
const Register r2({"ring.bug_lost_wakeup", "planted: the kernel sleeps without re-checking sq_tail after the flag", 2,
                   true, [] { return std::make_unique<RingTest>(false); }});

}  // namespace
}  // namespace platypos::loom
