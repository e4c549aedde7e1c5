#include <platypos/hosted/kernel.hpp>

namespace platypos::hosted {

Kernel::Kernel(const sched::Scheduler::Config& config) {
  memory_ = std::make_unique<KernelMemory>(DirectMap(reinterpret_cast<uptr>(Platform::phys_to_virt(0))));
  memory_->init(Platform::boot_memory_map()).expect("hosted kernel: physical memory");
  scheduler_ = std::make_unique<sched::Scheduler>(config, memory_->page_source());
  sched::Scheduler::install(scheduler_.get());
  processes_ = std::make_unique<proc::ProcessTable>(*scheduler_);
}

Kernel::~Kernel() {
  processes_.reset();
  sched::Scheduler::install(nullptr);
  scheduler_.reset();
  memory_->heap().reclaim();
}

}  // namespace platypos::hosted
