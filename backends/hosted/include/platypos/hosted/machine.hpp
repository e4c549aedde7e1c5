#pragma once
// hosted::Machine: the simulated computer of a hosted run in threads mode. It owns the "physical memory" and runs one
// OS thread per simulated CPU (pinned to host cores where the host has them, if asked). Timer interrupts: a CPU
// parked in cpu_idle() wakes at its deadline; a busy CPU gets its interrupt at its next scheduling point (a timer
// thread raises the flag), as if interrupts were checked between instructions that touch shared state.
//
// One Machine (or SimMachine) exists at a time: the Platform is a set of static functions that reach the current
// one. Threads that are not CPUs of a running Machine (a test's main thread, say) act as CPU 0.

#include <platypos/hosted/phys_memory.hpp>
#include <platypos/platform.hpp>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

namespace platypos::hosted {

struct MachineConfig {
  u32 cpus = 1;
  // Bytes of simulated physical memory (0: none).
  u64 memory_bytes = 0;
  // Pin CPU i's thread to host core i when the host has that many cores.
  bool pin_threads = false;
  // What Platform::cpu_relax() does on this machine's CPUs (the spin-wait hint every polling loop calls): `pause`
  // the x86 instruction; `yield` also gives the host CPU away (sched_yield), so that a CPU thread that polls does not
  // keep the host CPU from a CPU thread with work while the host has fewer cores than the machine; `automatic`:
  // yield when the machine has more CPUs than the host has cores, pause otherwise.
  enum class Spin { automatic, pause, yield };
  Spin spin = Spin::automatic;
};

struct CpuState;

class Machine {
 public:
  explicit Machine(const MachineConfig& config);
  ~Machine();
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  // Runs fn(cpu) on every simulated CPU, each on its own thread, and returns when all have returned.
  void run(const std::function<void(CpuId)>& fn);

  u32 cpu_count() const { return config_.cpus; }
  const PhysicalMemory& memory() const { return memory_; }
  std::span<const MemoryRange> memory_map() const { return memory_.map(); }
  std::byte* memory_base() const { return memory_.base(); }
  u64 memory_bytes() const { return memory_.size(); }

  // The running machine, or nullptr.
  static Machine* current();

  // Threads-mode timers (called by the Platform).
  void timer_changed();

 private:
  void timer_thread_main();

  MachineConfig config_;
  PhysicalMemory memory_;
  std::unique_ptr<CpuState[]> cpus_;
  std::mutex timer_mu_;
  std::condition_variable timer_cv_;
  bool timer_stop_ = false;
  u64 timer_epoch_ = 0;
};

}  // namespace platypos::hosted
