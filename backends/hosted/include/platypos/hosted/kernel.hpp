#pragma once
// hosted::Kernel: core booted on the current hosted machine (a Machine or a SimMachine). It builds what the bare-metal
// kernel builds at boot, from the same core code: the RangePool from the machine's memory map, the buddy allocator
// over all free RAM, the kernel heap, and the scheduler, installed as the kernel's.
//
//   SimMachine sim({.cpus = 8, .seed = 42, .memory_bytes = 256 * MiB});
//   Kernel kernel({.cpus = 8, .kernel_cores = 2});
//   ... spawn processes, create tasks ...
//   sim.run([&](CpuId) { kernel.scheduler().run_cpu(); });
//
// Construct it after the machine and destroy it before. Not copyable.

#include <platypos/mm/buddy.hpp>
#include <platypos/mm/kernel_heap.hpp>
#include <platypos/mm/locked_buddy.hpp>
#include <platypos/mm/range_pool.hpp>
#include <platypos/sched/scheduler.hpp>

#include <memory>

namespace platypos::hosted {

class Kernel {
 public:
  explicit Kernel(const sched::Scheduler::Config& config);
  ~Kernel();
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  RangePool& pool() { return *pool_; }
  LockedBuddy& pages() { return *pages_; }
  KernelHeap& heap() { return *heap_; }
  sched::Scheduler& scheduler() { return *scheduler_; }
  // Free pages right after boot: a finished run with nothing leaked has this many again (after reclaim()).
  u64 boot_free_pages() const { return boot_free_pages_; }
  // Returns the kernel heap's empty slabs to the page allocator (before comparing with boot_free_pages()).
  void reclaim() { heap_->reclaim(); }

 private:
  std::unique_ptr<RangePool> pool_;
  std::unique_ptr<BuddyAllocator::Region[]> regions_;
  std::unique_ptr<BuddyAllocator> buddy_;
  std::unique_ptr<LockedBuddy> pages_;
  std::unique_ptr<KernelHeap> heap_;
  std::unique_ptr<sched::Scheduler> scheduler_;
  u64 boot_free_pages_ = 0;
};

}  // namespace platypos::hosted
