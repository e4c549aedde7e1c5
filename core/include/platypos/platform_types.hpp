#pragma once
// Types shared by the Platform concept (platform.hpp) and the backends that implement it (platform_impl.hpp).

#include <platypos/base/memory_map.hpp>
#include <platypos/base/types.hpp>

namespace platypos {

using CpuId = u32;
inline constexpr u32 kMaxCpus = 256;

// Places where the deterministic simulator may switch to another simulated CPU. On real hardware and in threads
// mode these compile to nothing (or a cheap check); in sim mode they are where interleavings are chosen.
enum class SchedPoint : u8 {
  atomic_load,
  atomic_store,
  atomic_rmw,
  fence,
  lock_acquire,
  spin_wait,
  ring_poll,
  idle,
  yield,
};

// How the machine stops. Bare metal maps these to isa-debug-exit codes (success -> QEMU exit 33), hosted to the
// process exit status (0, 1, 70).
enum class ExitStatus : u8 { success = 0, failure = 1, panic = 2 };

// Called on the CPU whose one-shot timer expired, with interrupts disabled, in interrupt context.
using TimerHandler = void (*)(u64 now_ns);

// The first function a new context runs. It must never return (a task ends by switching away for good).
using ContextEntry = void (*)(void* arg);

}  // namespace platypos
