#pragma once
// The loom harness: small concurrency tests of shared kernel structures, run on the deterministic simulator under
// an exploration strategy (strategies.hpp), each schedule from scratch. A test is a fresh Instance per schedule:
// run(cpu) on every simulated CPU, then check(). A schedule fails when a LOOM_CHECK fails, when check() fails, or
// when the simulator reports the run stuck (every CPU idle with nothing armed: a lost wake-up; or one CPU spinning
// alone). Tests named `*.bug_*` carry a planted bug: exploration must find it.
//
// What is explored: the order of steps between the simulator's scheduling points (Atomic<T> accesses, fences, lock
// attempts, cpu_relax, idle, interrupt re-enable), every step sequentially consistent. Plain memory accesses between
// two points happen in one step; store buffering and reordering are not modelled (docs/loom.md).

#include <platypos/base/types.hpp>
#include <platypos/platform.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace platypos::loom {

class Instance {
 public:
  virtual ~Instance() = default;
  virtual void run(CpuId cpu) = 0;
  // After every CPU returned (not called for a stuck run). Report a failure with fail().
  virtual void check() {}
};

struct Test {
  std::string name;
  std::string what;
  u32 cpus = 2;
  bool planted_bug = false;
  std::function<std::unique_ptr<Instance>()> make;
};

// Tests register themselves at startup (test code, not kernel code: a static registry is fine here).
std::vector<Test>& registry();
struct Register {
  explicit Register(Test t) { registry().push_back(std::move(t)); }
};

// Records a failure of the current schedule (the first one is kept) and calls on_failure() (a gdb breakpoint).
void fail(std::string message);
bool failed();
void on_failure();

#define LOOM_CHECK(cond, msg)                                                                                 \
  do {                                                                                                        \
    if (!(cond)) ::platypos::loom::fail(std::string(__FILE__ ":") + std::to_string(__LINE__) + ": " + (msg)); \
  } while (0)

}  // namespace platypos::loom
