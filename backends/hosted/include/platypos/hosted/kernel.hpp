#pragma once
// hosted::Kernel: core booted on the current hosted machine (a Machine or a SimMachine). It builds what the bare-metal
// kernel builds at boot, from the same core code: the RangePool from the machine's memory map, the buddy allocator
// over all free RAM, the kernel heap, the scheduler and the process table, installed as the kernel's.
//
//   SimMachine sim({.cpus = 8, .seed = 42, .memory_bytes = 256 * MiB});
//   Kernel kernel({.cpus = 8, .kernel_cores = 2});
//   ... spawn processes, create tasks ...
//   sim.run([&](CpuId) { kernel.scheduler().run_cpu(); });
//
// Construct it after the machine and destroy it before. Not copyable.

#include <platypos/mm/kernel_memory.hpp>
#include <platypos/proc/process.hpp>
#include <platypos/sched/scheduler.hpp>

#include <memory>

namespace platypos::hosted {

class Kernel {
 public:
  explicit Kernel(const sched::Scheduler::Config& config);
  ~Kernel();
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  KernelMemory& memory() { return *memory_; }
  RangePool& pool() { return memory_->pool(); }
  LockedBuddy& pages() { return memory_->pages(); }
  KernelHeap& heap() { return memory_->heap(); }
  sched::Scheduler& scheduler() { return *scheduler_; }
  // The process table (processes with handles, rings and teardown), installed as the scheduler's exit hook.
  proc::ProcessTable& processes() { return *processes_; }
  // Free pages right after boot: a finished run with nothing leaked has this many again (after reclaim()).
  u64 boot_free_pages() const { return memory_->boot_free_pages(); }
  // Returns the kernel heap's empty slabs to the page allocator (before comparing with boot_free_pages()).
  void reclaim() { memory_->heap().reclaim(); }

 private:
  std::unique_ptr<KernelMemory> memory_;
  std::unique_ptr<sched::Scheduler> scheduler_;
  std::unique_ptr<proc::ProcessTable> processes_;
};

}  // namespace platypos::hosted
