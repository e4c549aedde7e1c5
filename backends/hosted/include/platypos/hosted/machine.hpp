#pragma once
// hosted::Machine: the simulated computer of a hosted run in threads mode. It owns the "physical memory" (one mmap)
// and its synthetic memory map, and runs one OS thread per simulated CPU.
//
// One Machine exists at a time (the Platform is a set of static functions that reach the current one). Threads that
// are not CPUs of a running Machine (the test runner's main thread, say) act as CPU 0 with their own interrupt flag,
// like a boot CPU before SMP start.

#include <platypos/platform.hpp>

#include <functional>
#include <memory>
#include <span>
#include <vector>

namespace platypos::hosted {

struct MachineConfig {
  u32 cpus = 1;
  // Bytes of simulated physical memory (0: none). Mapped lazily (MAP_NORESERVE): untouched pages cost nothing.
  u64 memory_bytes = 0;
  // Pin CPU i's thread to host core i when the host has that many cores.
  bool pin_threads = false;
};

class Machine {
 public:
  explicit Machine(const MachineConfig& config);
  ~Machine();
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  // Runs fn(cpu) on every simulated CPU, each on its own thread, and returns when all have returned.
  void run(const std::function<void(CpuId)>& fn);

  u32 cpu_count() const { return config_.cpus; }
  u64 memory_bytes() const { return config_.memory_bytes; }
  std::span<const MemoryRange> memory_map() const { return map_; }
  std::byte* memory_base() const { return memory_; }

  // The running machine, or nullptr.
  static Machine* current();

 private:
  MachineConfig config_;
  std::byte* memory_ = nullptr;
  std::vector<MemoryRange> map_;
};

// Builds the synthetic memory map of a hosted machine with `bytes` of RAM, shaped like a PC's: the first page and
// the legacy hole 0x9f000-0x100000 reserved, the rest free RAM.
std::vector<MemoryRange> synthetic_memory_map(u64 bytes);

}  // namespace platypos::hosted
