#pragma once
// The example programs' demo, for whoever launches it (platypos-sim's default scenario, tests): the program's name,
// what to launch it with, and what it needs from the machine. Link platypos_examples into the binary for the programs
// to be there (ring::linked_programs() finds them).
//
//   runtime.launch({.program = examples::kDemo.program, .cores = examples::kDemo.cores,
//                   .memory_bytes = examples::kDemo.memory_bytes, .args = examples::kDemo.args}, {});
//
// The demo spawns, each with 1 dedicated core: echo-server + echo-client, log-daemon (which spawns its log-apps),
// object-store + two store-clients; it waits for them all and exits with 0 only if every one verified its part (see
// examples/README.md). Admission control must let all of them in at once: the machine needs kDemo.app_cores free app
// cores (the demo's own included) and kDemo.total_memory_bytes of reservable memory, e.g. platypos-sim with
// --cpus 12 --kernel-cores 2 (10 app cores). Its default run takes about 40 ms of virtual time.

#include <cstdint>
#include <string_view>

namespace platypos::examples {

struct DemoLaunch {
  std::string_view program;
  std::uint32_t cores;         // the demo's own
  std::uint64_t memory_bytes;  // the demo's own
  std::string_view args;       // "" = defaults; see demo.cpp for the knobs (seed=N, echo_count=N, ...)
  std::uint32_t app_cores;     // the demo and everything it spawns, at the same time
  std::uint64_t total_memory_bytes;
};

inline constexpr std::uint64_t kMiB = 1024 * 1024;

// Sizes of the programs the demo spawns (1 core each).
inline constexpr std::uint64_t kDemoDefaultMemory = 4 * kMiB;  // echo-server, echo-client, log-daemon, log-apps
inline constexpr std::uint64_t kDemoStoreMemory = 8 * kMiB;    // object-store (blobs live in its memory objects)
inline constexpr std::uint32_t kDemoLogApps = 2;

inline constexpr DemoLaunch kDemo{
    .program = "demo",
    .cores = 1,
    .memory_bytes = 4 * kMiB,
    .args = "",
    .app_cores = 1 + 2 + (1 + kDemoLogApps) + 3,
    .total_memory_bytes = 4 * kMiB + 2 * kDemoDefaultMemory + (1 + kDemoLogApps) * kDemoDefaultMemory +
                          kDemoStoreMemory + 2 * kDemoDefaultMemory,
};

}  // namespace platypos::examples
