#pragma once
// LockedBuddy: the kernel's shared page allocator, a BuddyAllocator behind an IRQ-safe spin lock. It is a
// PageSource: kernel task stacks, slab pages and process reservations all come from it.

#include <platypos/mm/buddy.hpp>
#include <platypos/sync/spinlock.hpp>

namespace platypos {

class LockedBuddy {
 public:
  explicit LockedBuddy(BuddyAllocator& buddy) : buddy_(buddy) {}
  LockedBuddy(const LockedBuddy&) = delete;
  LockedBuddy& operator=(const LockedBuddy&) = delete;

  Result<PhysAddr> alloc(u32 order) {
    IrqSpinGuard g(lock_);
    return buddy_.alloc(order);
  }
  Result<void> free(PhysAddr addr, u32 order) {
    IrqSpinGuard g(lock_);
    return buddy_.free(addr, order);
  }
  const DirectMap& direct_map() const { return buddy_.direct_map(); }
  u64 free_pages() {
    IrqSpinGuard g(lock_);
    return buddy_.stats().free_pages;
  }
  bool check_invariants() {
    IrqSpinGuard g(lock_);
    return buddy_.check_invariants();
  }

 private:
  SpinLock lock_{"page allocator"};
  BuddyAllocator& buddy_;
};

}  // namespace platypos
