#pragma once
// MemoryAccount: a process's dedicated memory as a shared, counted account. It holds the process's
// MemoryReservation and a slab heap on top of it, so that everything the process causes the kernel to keep (task
// stacks, queued channel messages, memory objects) is paid from its own reservation: no process can make the kernel
// allocate from anyone else's memory, and nothing is overcommitted.
//
// Counted: the process holds one reference, and so does everything allocated from the account (a message queued in
// another process's channel, a memory object handed to another process). The reservation goes back to the kernel
// when the last reference is dropped, so a process's memory returns at its exit unless some of it is still in use
// elsewhere, and then when that goes.
//
// Thread-safe (an IRQ-safe lock around the reservation and the heap). Not copyable or movable.

#include <platypos/mm/kernel_heap.hpp>
#include <platypos/mm/reservation.hpp>
#include <platypos/sync/atomic.hpp>

namespace platypos {

class MemoryAccount {
 public:
  // A new account of `bytes` (reserved up front from `source`, all or nothing), with one reference. The account
  // object itself takes a kernel page from `source` too. Fails like MemoryReservation::reserve.
  static Result<MemoryAccount*> create(PageSource source, u64 bytes);

  MemoryAccount(const MemoryAccount&) = delete;
  MemoryAccount& operator=(const MemoryAccount&) = delete;

  void retain() { refs_.fetch_add(1, std::memory_order_relaxed); }
  // The last release gives every page back to the source and frees the account.
  void release();
  u32 ref_count() const { return refs_.load(std::memory_order_relaxed); }

  // `bytes` of memory: a slab slot up to KernelHeap::kMaxClass, else whole pages. no_memory when the account is
  // used up. free_bytes() must get the same size.
  Result<void*> alloc_bytes(usize bytes);
  void free_bytes(void* p, usize bytes);
  Result<PhysAddr> alloc_pages(u32 order);
  void free_pages(PhysAddr p, u32 order);

  // Gives the heap's empty slabs back to the reservation (they stay cached otherwise).
  void reclaim() { heap_->reclaim(); }
  u64 capacity_bytes() const { return reservation_.capacity_bytes(); }
  u64 used_bytes();
  // Slab objects live in the account's heap (allocations above KernelHeap::kMaxClass are pages: used_bytes()).
  u64 live_objects();
  const DirectMap& direct_map() const { return reservation_.direct_map(); }
  // PageSource interface (alloc/free/direct_map): locked access to the reservation.
  Result<PhysAddr> alloc(u32 order) { return alloc_pages(order); }
  Result<void> free(PhysAddr p, u32 order);
  bool check_invariants();

 private:
  MemoryAccount() = default;
  ~MemoryAccount() = default;

  SpinLock lock_{"memory account"};
  Atomic<u32> refs_{1};
  PageSource source_;
  MemoryReservation reservation_;
  // Slab heap over the reservation, built after reserve() (in place: KernelHeap is not movable).
  alignas(KernelHeap) unsigned char heap_storage_[sizeof(KernelHeap)] = {};
  KernelHeap* heap_ = nullptr;
};

}  // namespace platypos
