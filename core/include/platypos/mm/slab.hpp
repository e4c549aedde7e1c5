#pragma once
// Slab allocation of fixed-size kernel objects (handle table entries, channels, messages, tasks) on top of a
// PageSource (the buddy allocator, or a process's memory reservation).
//
// A slab is one naturally aligned block of 2^order pages: a header, a bitmap of live slots, then the slots. Free slots
// form a singly linked list threaded through themselves. A cache keeps its slabs on three lists: partial (some free
// slots; allocations come from here), full, and empty (at most one is kept; more go back to the page source).
//
//   block: [ SlabHeader | live bitmap | pad | slot 0 | slot 1 | ... | slot n-1 | waste ]
//
// alloc() and free() are O(1). free() finds its slab by rounding the object's physical address down to the slab
// size (blocks are naturally aligned), then validates: the header's magic and owner (invalid_argument), the slot
// boundary (misaligned) and the live bit (not_allocated: double free). The pointer must point into memory the
// DirectMap covers (a kernel pointer; user space never hands the kernel raw pointers).
//
// Not thread-safe: a cache belongs to one CPU or one process, or its user holds a lock (KernelHeap does).
// Not copyable or movable (slabs point at their cache).

#include <platypos/base/intrusive_list.hpp>
#include <platypos/base/result.hpp>
#include <platypos/mm/buddy.hpp>

#include <new>
#include <utility>

namespace platypos {

class SlabCache {
 public:
  struct Stats {
    usize object_size = 0;
    usize slot_size = 0;
    usize objects_per_slab = 0;
    u32 slab_order = 0;
    u64 live_objects = 0;
    u64 slabs = 0;
    u64 partial_slabs = 0;
    u64 full_slabs = 0;
    u64 empty_slabs = 0;
    u64 allocs = 0;
    u64 frees = 0;
  };

  // Objects of `object_size` bytes aligned to `align` (a power of two, at most a page). The slab size is the
  // smallest block that holds at least 8 objects (at most 2^kMaxSlabOrder pages).
  SlabCache(const char* name, usize object_size, usize align, PageSource source);
  // Gives every slab back. Live objects at this point are a leak: a bug, so it panics.
  ~SlabCache();
  SlabCache(const SlabCache&) = delete;
  SlabCache& operator=(const SlabCache&) = delete;

  static constexpr u32 kMaxSlabOrder = 4;
  static constexpr usize kMaxObjectSize = (kPageSize << kMaxSlabOrder) / 8;

  // A slot of object_size bytes, uninitialized. Fails with no_memory when the page source is exhausted.
  Result<void*> alloc();
  // Fails, changing nothing, with invalid_argument (not in a slab of this cache), misaligned (not the start of a
  // slot) or not_allocated (the slot is free: double free).
  Result<void> free(void* p);
  // Checks what free() checks, without freeing.
  Result<void> check_live(const void* p) const;

  // Returns all empty slabs to the page source; returns how many.
  usize reclaim();

  const Stats& stats() const { return stats_; }
  const char* name() const { return name_; }
  bool check_invariants() const;

 private:
  struct ListTag;
  // The slab header; the live-slot bitmap (bitmap_words_ words) follows it directly.
  struct Slab : ListNode<ListTag> {
    u64 magic;
    SlabCache* cache;
    void* free_list;
    u64 live;
  };
  static_assert(sizeof(Slab) % alignof(u64) == 0);
  using SlabList = IntrusiveList<Slab, ListTag>;
  static constexpr u64 kMagic = 0x42414c5359505450;  // "PTPYSLAB"

  Slab* slab_of(const void* p) const;
  Result<Slab*> validate(const void* p) const;
  Result<Slab*> grow();
  void release(Slab* s);
  static u64* bitmap(Slab* s) { return reinterpret_cast<u64*>(s + 1); }
  static const u64* bitmap(const Slab* s) { return reinterpret_cast<const u64*>(s + 1); }
  static bool bit(const Slab* s, usize i) { return (bitmap(s)[i / 64] >> (i % 64)) & 1; }
  static void set_bit(Slab* s, usize i, bool v) {
    if (v) {
      bitmap(s)[i / 64] |= u64{1} << (i % 64);
    } else {
      bitmap(s)[i / 64] &= ~(u64{1} << (i % 64));
    }
  }
  char* slot(Slab* s, usize i) const { return reinterpret_cast<char*>(s) + first_offset_ + i * slot_size_; }

  const char* name_;
  PageSource source_;
  usize slot_size_ = 0;
  usize first_offset_ = 0;
  usize slab_bytes_ = 0;
  usize bitmap_words_ = 0;
  SlabList partial_;
  SlabList full_;
  SlabList empty_;
  Stats stats_;
};

// A cache of T objects: make() constructs in a slot with placement new, destroy() runs the destructor and frees it.
// Core never calls global new.
template <class T>
class ObjectCache {
 public:
  ObjectCache(const char* name, PageSource source) : cache_(name, sizeof(T), alignof(T), source) {}

  template <class... Args>
  Result<T*> make(Args&&... args) {
    void* p = PLATYPOS_TRY(cache_.alloc());
    return new (p) T(std::forward<Args>(args)...);
  }
  // Validates before destroying: a pointer that is not a live T of this cache gets an error and nothing runs.
  Result<void> destroy(T* p) {
    PLATYPOS_TRY(cache_.check_live(p));
    p->~T();
    return cache_.free(p);
  }
  SlabCache& cache() { return cache_; }

 private:
  SlabCache cache_;
};

}  // namespace platypos
