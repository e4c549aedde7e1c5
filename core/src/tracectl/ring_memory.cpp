#include <platypos/tracectl/ring_memory.hpp>

namespace platypos::tracectl {

Result<void> TraceRingMemory::allocate(PageSource pages, u32 cpus, u32 slots_per_cpu) {
  if (cpus == 0 || cpus > kMaxCpus || !is_power_of_two(slots_per_cpu) || slots_per_cpu < 2 || !pages.valid() ||
      tracer_.cpu_count() != 0 || pages_.valid()) {
    return Error::invalid_argument;
  }
  const u64 bytes = u64{slots_per_cpu} * sizeof(trace::TraceRecord);
  const u32 order = BuddyAllocator::order_for_pages((bytes + kPageSize - 1) / kPageSize);
  if (order > BuddyAllocator::kMaxOrder) return Error::invalid_argument;
  for (CpuId c = 0; c < cpus; ++c) {
    Result<PhysAddr> block = pages.alloc(order);
    if (block.is_error()) {
      tracer_.detach_rings();
      for (CpuId k = 0; k < c; ++k) pages.free(blocks_[k], order).expect("giving back a trace ring");
      return block.error();
    }
    blocks_[c] = *block;
    auto* slots = pages.direct_map().to_virt<trace::TraceRecord>(*block);
    // The slots are objects (their seq is an Atomic): construct them in the fresh pages.
    for (u32 i = 0; i < slots_per_cpu; ++i) new (&slots[i]) trace::TraceRecord();
    tracer_.attach_ring(c, slots, slots_per_cpu);
  }
  pages_ = pages;
  order_ = order;
  cpus_ = cpus;
  return ok();
}

void TraceRingMemory::release() {
  if (!pages_.valid()) return;
  tracer_.detach_rings();
  for (CpuId c = 0; c < cpus_; ++c) pages_.free(blocks_[c], order_).expect("giving back a trace ring");
  pages_ = PageSource();
  cpus_ = 0;
}

}  // namespace platypos::tracectl
