#include <platypos/base/fault.hpp>
#include <platypos/mm/kernel_heap.hpp>

namespace platypos {
namespace {
constinit KernelHeap* g_kernel_heap = nullptr;
constexpr usize class_size(usize i) { return KernelHeap::kMinClass << i; }
constexpr usize class_align(usize i) {
  return class_size(i) < KernelHeap::kMaxAlign ? class_size(i) : KernelHeap::kMaxAlign;
}
}  // namespace

KernelHeap::KernelHeap(PageSource source)
    : caches_{{"kheap-16", class_size(0), class_align(0), source},
              {"kheap-32", class_size(1), class_align(1), source},
              {"kheap-64", class_size(2), class_align(2), source},
              {"kheap-128", class_size(3), class_align(3), source},
              {"kheap-256", class_size(4), class_align(4), source},
              {"kheap-512", class_size(5), class_align(5), source},
              {"kheap-1024", class_size(6), class_align(6), source},
              {"kheap-2048", class_size(7), class_align(7), source}} {
  static_assert(kClassCount == 8, "the initializer above lists every class");
}

Result<usize> KernelHeap::class_for(usize size, usize align) const {
  if (size == 0 || size > kMaxClass || align == 0 || !is_power_of_two(align) || align > kMaxAlign) {
    return Error::invalid_argument;
  }
  for (usize i = 0; i < kClassCount; ++i) {
    if (class_size(i) >= size && class_align(i) >= align) return i;
  }
  return Error::invalid_argument;
}

Result<void*> KernelHeap::alloc(usize size, usize align) {
  const usize i = PLATYPOS_TRY(class_for(size, align));
  if (fault::inject(fault::Point::alloc)) return Error::no_memory;
  IrqSpinGuard g(lock_);
  return caches_[i].alloc();
}

Result<void> KernelHeap::free(void* p, usize size, usize align) {
  const usize i = PLATYPOS_TRY(class_for(size, align));
  IrqSpinGuard g(lock_);
  return caches_[i].free(p);
}

Result<void> KernelHeap::check_live(const void* p, usize size, usize align) {
  const usize i = PLATYPOS_TRY(class_for(size, align));
  IrqSpinGuard g(lock_);
  return caches_[i].check_live(p);
}

u64 KernelHeap::live_objects() const {
  u64 n = 0;
  for (const SlabCache& c : caches_) n += c.stats().live_objects;
  return n;
}

usize KernelHeap::reclaim() {
  IrqSpinGuard g(lock_);
  usize n = 0;
  for (SlabCache& c : caches_) n += c.reclaim();
  return n;
}

bool KernelHeap::check_invariants() {
  IrqSpinGuard g(lock_);
  for (const SlabCache& c : caches_)
    if (!c.check_invariants()) return false;
  return true;
}

void install_kernel_heap(KernelHeap* heap) { g_kernel_heap = heap; }

KernelHeap& kernel_heap() {
  PLATYPOS_ASSERT(g_kernel_heap != nullptr, "no kernel heap installed (install_kernel_heap at boot)");
  return *g_kernel_heap;
}

}  // namespace platypos
