#include <platypos/base/fault.hpp>
#include <platypos/mm/memory_account.hpp>

#include <new>

namespace platypos {

namespace {
// The account object itself (a few KiB: it embeds a slab heap) lives in kernel pages from the same source.
constexpr u32 kAccountOrder = BuddyAllocator::order_for_pages(pages_for(sizeof(MemoryAccount)));
}  // namespace

Result<MemoryAccount*> MemoryAccount::create(PageSource source, u64 bytes) {
  const PhysAddr page = PLATYPOS_TRY(source.alloc(kAccountOrder));
  auto* a = new (source.direct_map().to_virt(page)) MemoryAccount();
  a->source_ = source;
  if (auto r = a->reservation_.reserve(source, bytes); r.is_error()) {
    a->~MemoryAccount();
    source.free(page, kAccountOrder).expect("memory account");
    return r.error();
  }
  // The heap's page source is this account, through its lock.
  a->heap_ = new (a->heap_storage_) KernelHeap(PageSource(*a));
  return a;
}

void MemoryAccount::release() {
  const u32 before = refs_.fetch_sub(1, std::memory_order_acq_rel);
  PLATYPOS_ASSERT(before > 0, "memory account released more often than retained");
  if (before != 1) return;
  // Everything allocated from the account is gone (each allocation held a reference); the heap's empty slabs and
  // the reservation go back.
  PLATYPOS_ASSERT(heap_->live_objects() == 0, "memory account freed with {} objects live", heap_->live_objects());
  heap_->reclaim();
  heap_->~KernelHeap();
  heap_ = nullptr;
  reservation_.release();
  const PageSource source = source_;
  const PhysAddr page = source.direct_map().to_phys(this);
  this->~MemoryAccount();
  source.free(page, kAccountOrder).expect("memory account");
}

Result<void*> MemoryAccount::alloc_bytes(usize bytes) {
  if (bytes == 0) return Error::invalid_argument;
  if (bytes <= KernelHeap::kMaxClass) return heap_->alloc(bytes, 16);
  const PhysAddr p = PLATYPOS_TRY(alloc_pages(BuddyAllocator::order_for_pages(pages_for(bytes))));
  return direct_map().to_virt(p);
}

void MemoryAccount::free_bytes(void* p, usize bytes) {
  if (bytes <= KernelHeap::kMaxClass) {
    heap_->free(p, bytes, 16).expect("memory account: freeing a slot");
    return;
  }
  free_pages(direct_map().to_phys(p), BuddyAllocator::order_for_pages(pages_for(bytes)));
}

Result<PhysAddr> MemoryAccount::alloc_pages(u32 order) {
  if (fault::inject(fault::Point::alloc)) return Error::no_memory;
  IrqSpinGuard g(lock_);
  return reservation_.alloc(order);
}

void MemoryAccount::free_pages(PhysAddr p, u32 order) { free(p, order).expect("memory account: freeing pages"); }

Result<void> MemoryAccount::free(PhysAddr p, u32 order) {
  IrqSpinGuard g(lock_);
  return reservation_.free(p, order);
}

u64 MemoryAccount::used_bytes() {
  IrqSpinGuard g(lock_);
  return reservation_.used_bytes();
}

u64 MemoryAccount::live_objects() {
  IrqSpinGuard g(lock_);
  return heap_->live_objects();
}

bool MemoryAccount::check_invariants() {
  {
    IrqSpinGuard g(lock_);
    if (!reservation_.check_invariants()) return false;
  }
  return heap_->check_invariants();
}

}  // namespace platypos
