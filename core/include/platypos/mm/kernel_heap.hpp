#pragma once
// KernelHeap: the kernel's general object allocator, slab caches in power-of-two size classes (16 B .. 2 KiB) over a
// page source, behind one IRQ-safe spin lock. The free functions make<T>() and destroy() construct and destroy
// kernel objects in it with placement new: core never calls global new.
//
//   Channel* c = PLATYPOS_TRY(make<Channel>(args...));
//   destroy(c).expect("channel");
//
// The kernel installs its heap once at boot (install_kernel_heap); tests install their own. Objects larger than
// 2 KiB come from the page allocator directly. Not copyable or movable.

#include <platypos/mm/slab.hpp>
#include <platypos/sync/spinlock.hpp>

#include <type_traits>

namespace platypos {

class KernelHeap {
 public:
  static constexpr usize kClassCount = 8;
  static constexpr usize kMinClass = 16;
  static constexpr usize kMaxClass = kMinClass << (kClassCount - 1);  // 2048
  // Slots are aligned to min(class size, kMaxAlign).
  static constexpr usize kMaxAlign = 64;

  explicit KernelHeap(PageSource source);
  KernelHeap(const KernelHeap&) = delete;
  KernelHeap& operator=(const KernelHeap&) = delete;

  // Fails with invalid_argument (size 0, size above kMaxClass, alignment above kMaxAlign or not a power of two) or
  // no_memory.
  Result<void*> alloc(usize size, usize align);
  // `size` and `align` must be what alloc() got; fails like SlabCache::free.
  Result<void> free(void* p, usize size, usize align);
  Result<void> check_live(const void* p, usize size, usize align);

  const SlabCache& cache(usize i) const { return caches_[i]; }
  u64 live_objects() const;
  // Returns empty slabs to the page source.
  usize reclaim();
  bool check_invariants();

 private:
  Result<usize> class_for(usize size, usize align) const;

  SpinLock lock_{"kernel heap"};
  SlabCache caches_[kClassCount];
};

// The heap make<T>() and destroy() use. Installing replaces the previous one; nullptr uninstalls.
void install_kernel_heap(KernelHeap* heap);
KernelHeap& kernel_heap();

template <class T, class... Args>
Result<T*> make(Args&&... args) {
  static_assert(sizeof(T) <= KernelHeap::kMaxClass, "object too large for the kernel heap: allocate pages");
  static_assert(alignof(T) <= KernelHeap::kMaxAlign);
  void* p = PLATYPOS_TRY(kernel_heap().alloc(sizeof(T), alignof(T)));
  return new (p) T(std::forward<Args>(args)...);
}

// Validates first: a pointer that is not a live object of the right size class gets an error and no destructor runs.
template <class T>
Result<void> destroy(T* p) {
  PLATYPOS_TRY(kernel_heap().check_live(p, sizeof(T), alignof(T)));
  p->~T();
  return kernel_heap().free(p, sizeof(T), alignof(T));
}

}  // namespace platypos
