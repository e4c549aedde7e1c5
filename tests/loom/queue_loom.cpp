// A lock-protected queue with two consumers: the check must be repeated under the lock that the act takes. The
// planted bug (queue.bug_no_recheck) looks (under the lock), releases the lock, then takes it again to pop without
// looking again: the other consumer can empty the queue in between.
#include "loom.hpp"

#include <platypos/sync/atomic.hpp>
#include <platypos/sync/spinlock.hpp>

namespace platypos::loom {
namespace {

struct QueueTest final : Instance {
  bool recheck;
  SpinLock lock{"queue"};
  u32 items = 1;  // guarded by lock
  u32 popped = 0;
  explicit QueueTest(bool r) : recheck(r) {}

  bool has_items() {
    SpinGuard g(lock);
    return items > 0;
  }
  void run(CpuId) override {
    if (!has_items()) return;
    SpinGuard g(lock);
    if (recheck && items == 0) return;
    LOOM_CHECK(items > 0, "popped from an empty queue");
    if (items > 0) --items;
    ++popped;
  }
  void check() override { LOOM_CHECK(popped == 1, "popped " + std::to_string(popped) + " of 1 item"); }
};

const Register r1({"queue.recheck", "2 consumers, 1 item: look, release, lock again and look again", 2, false,
                   [] { return std::make_unique<QueueTest>(true); }});
const Register r2({"queue.bug_no_recheck", "planted: pops after a lock release without re-checking", 2, true,
                   [] { return std::make_unique<QueueTest>(false); }});

}  // namespace
}  // namespace platypos::loom
