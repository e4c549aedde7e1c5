#pragma once
// Fault injection (BUGGIFY, after FoundationDB): named points in kernel code where a run under exploration may be
// told to fail or to take the slow path, each of which the real machine could produce on its own (memory runs out, a
// queue fills, a completion comes late, a blocked task is woken for nothing). Kernel code asks
//
//   if (fault::inject(fault::Point::alloc)) return Error::no_memory;
//
// and must then behave as it would if the fault were real: a specific error to the caller, nothing leaked, nothing
// stuck. Nothing is installed by default: inject() is one load and a predictable branch, adds no scheduling point,
// and the simulator's schedule (its digest) is the same as without the call. The simulator installs a seeded
// injector for `platypos-sim --faults` / `--explore` (sim/faults.cpp); the decisions then come from the seed, so a
// failing run replays exactly.
//
// An injector is installed before the CPUs start and removed after they stop; its callbacks may run on any CPU
// (the simulator's run on one host thread).

#include <platypos/base/types.hpp>

namespace platypos::fault {

enum class Point : u8 {
  alloc,             // KernelHeap::alloc, MemoryAccount::alloc_pages: no_memory
  channel_full,      // ChannelEndpoint::write: the peer's queue counts as full (limit_reached)
  cq_full,           // Ring::consume: the completion queue counts as full this pass (back-pressure)
  completion_delay,  // Ring: an entry's completion is held back for a while (completions reorder)
  spurious_wakeup,   // Scheduler::block: returns as if woken
  kCount,
};
inline constexpr u32 kPointCount = static_cast<u32>(Point::kCount);

const char* point_name(Point p);

struct Injector {
  // Whether this pass through point p fails.
  bool (*fire)(void* context, Point p) = nullptr;
  // A uniform number in [0, bound) (how long a delay lasts); bound > 0.
  u64 (*random)(void* context, u64 bound) = nullptr;
  void* context = nullptr;
};

namespace detail {
extern constinit const Injector* g_injector;
}

// Installs `injector` (nullptr removes it). Not while CPUs run.
void install(const Injector* injector);
inline bool active() { return detail::g_injector != nullptr; }

inline bool inject(Point p) {
  const Injector* i = detail::g_injector;
  return i != nullptr && i->fire(i->context, p);
}

// A uniform number in [0, bound) from the installed injector (0 without one).
inline u64 random(u64 bound) {
  const Injector* i = detail::g_injector;
  return i != nullptr && bound > 0 ? i->random(i->context, bound) : 0;
}

}  // namespace platypos::fault
