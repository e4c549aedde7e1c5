#pragma once
// What a program starts with: ProgramEnv, filled in by the kernel when it launches the program's first task. It
// tells the program where its rings are, which memory is its own, which handles it was given, and the two system
// calls it may need when the fast path cannot proceed.

#include <platypos/abi/limits.hpp>
#include <platypos/abi/ring.hpp>

#include <cstdint>

namespace platypos::abi {

struct ProgramEnv {
  RingHeader* ring;  // this core's rings: one submitter per ring, so one ring pair per app core
  // This core's share of the program's memory (from its reservation), for its allocator.
  void* heap;
  std::uint64_t heap_bytes;
  // All of the program's memory: buffers passed to the kernel must lie in here.
  void* memory;
  std::uint64_t memory_bytes;
  // Handles the parent passed at spawn, in order (the same in every core's env: one handle table per process);
  // `self` is a handle to the program's own process (wait, manage).
  std::uint32_t initial_handles[kMaxInitialHandles];
  std::uint32_t initial_handle_count;
  std::uint32_t self;
  std::uint32_t cores;       // dedicated app cores: the program's main runs once per core, each with its own env
  std::uint32_t core_index;  // which of them this is, in [0, cores)
  char name[kMaxProgramName + 1];
  char args[kMaxProgramArgs];  // a command line for the program (spawn passes the text after the name)

  // The system calls. doorbell: the kernel core serving the ring went idle (NEED_WAKEUP was set): wake it.
  // wait_completions: block the calling task until at least `min` completions are in the CQ (or one more
  // arrives). Both are traps on bare metal; plain calls into the kernel in hosted mode.
  void (*doorbell)(void* ctx);
  void (*wait_completions)(void* ctx, std::uint32_t min);
  void* syscall_ctx;

  // Not system calls (no trap; a vDSO's job): the monotonic clock in nanoseconds (virtual time in the simulator),
  // burning `ns` of CPU time (how example programs model work; exact in the simulator), and the spin-wait hint a
  // program calls while it polls its completion queue (pause; in the simulator, a scheduling point).
  std::uint64_t (*now_ns)();
  void (*work_ns)(std::uint64_t ns);
  void (*relax)();
  // The program's own word: zero at launch, never read by the kernel. Core 0's env is the first at `memory`, so a
  // program's cores can find what core 0 publishes in its env's word (kv-server: its shared item store).
  std::uint64_t program_word;
};

// How the kernel finds a program linked into its image (there is no loader yet): PLATYPOS_PROGRAM(name, main) puts a
// descriptor in the `platypos_programs` linker section; process_spawn looks the name up there. main runs once per
// app core, each with that core's env; the process ends when all of them have returned (or on process_exit).
using ProgramMain = void (*)(const ProgramEnv* env);
struct ProgramDescriptor {
  const char* name;
  ProgramMain main;
};

}  // namespace platypos::abi

#define PLATYPOS_PROGRAM_CONCAT2(a, b) a##b
#define PLATYPOS_PROGRAM_CONCAT(a, b) PLATYPOS_PROGRAM_CONCAT2(a, b)
// Registers `entry` (void(const abi::ProgramEnv*)) as the program called `name` (a string literal).
#define PLATYPOS_PROGRAM(name, entry)                                                                            \
  static constexpr ::platypos::abi::ProgramDescriptor PLATYPOS_PROGRAM_CONCAT(platypos_program_desc_, __LINE__){ \
      name, entry};                                                                                              \
  [[gnu::used, gnu::section("platypos_programs")]] static constinit const ::platypos::abi::ProgramDescriptor*    \
  PLATYPOS_PROGRAM_CONCAT(platypos_program_ptr_, __LINE__) =                                                     \
      &PLATYPOS_PROGRAM_CONCAT(platypos_program_desc_, __LINE__)
