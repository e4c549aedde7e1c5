#include <platypos/hosted/kernel.hpp>
#include <platypos/mm/boot_memory.hpp>

namespace platypos::hosted {

namespace {
constexpr usize kRegionSlots = 64;
}

Kernel::Kernel(const sched::Scheduler::Config& config) {
  const DirectMap map(reinterpret_cast<uptr>(Platform::phys_to_virt(0)));
  pool_ = std::make_unique<RangePool>(map);
  pool_->init(Platform::boot_memory_map()).expect("hosted kernel: memory map");
  regions_ = std::make_unique<BuddyAllocator::Region[]>(kRegionSlots);
  buddy_ = std::make_unique<BuddyAllocator>(map, std::span(regions_.get(), kRegionSlots));
  hand_free_ram_to_buddy(*pool_, *buddy_, kRegionSlots).expect("hosted kernel: buddy hand-over");
  pages_ = std::make_unique<LockedBuddy>(*buddy_);
  heap_ = std::make_unique<KernelHeap>(PageSource(*pages_));
  install_kernel_heap(heap_.get());
  boot_free_pages_ = buddy_->stats().free_pages;
  scheduler_ = std::make_unique<sched::Scheduler>(config, PageSource(*pages_));
  sched::Scheduler::install(scheduler_.get());
}

Kernel::~Kernel() {
  sched::Scheduler::install(nullptr);
  scheduler_.reset();
  heap_->reclaim();
  install_kernel_heap(nullptr);
}

}  // namespace platypos::hosted
