#pragma once
// Heap: a program core's allocator, over the share of the program's memory the kernel gave that core
// (ProgramEnv::heap). Power-of-two size classes from 32 bytes to 16 MiB with a free list each, carved from a bump
// pointer: after warm-up, allocation is a free-list pop (no system call, no lock: one heap per core, used only by that
// core's executor). Coroutine frames, message buffers and program state come from here; nothing is ever returned to
// the kernel (the memory goes when the process does).

#include <cstddef>
#include <cstdint>

namespace platypos::user {

class Heap {
 public:
  static constexpr std::uint32_t kMinShift = 5;   // 32 bytes
  static constexpr std::uint32_t kMaxShift = 24;  // 16 MiB
  static constexpr std::uint32_t kClasses = kMaxShift - kMinShift + 1;

  Heap() = default;
  Heap(void* base, std::uint64_t bytes) { init(base, bytes); }
  Heap(const Heap&) = delete;
  Heap& operator=(const Heap&) = delete;
  void init(void* base, std::uint64_t bytes);

  // nullptr when the memory is exhausted or `bytes` is larger than the biggest class. Aligned to 16 bytes (and to
  // the class size up to 4 KiB).
  void* alloc(std::uint64_t bytes);
  // `bytes` as given to alloc().
  void free(void* p, std::uint64_t bytes);

  template <class T, class... Args>
  T* make(Args&&... args);
  template <class T>
  void destroy(T* p);

  std::uint64_t capacity() const { return end_ - base_; }
  std::uint64_t in_use() const { return in_use_; }
  std::uint64_t peak() const { return peak_; }
  std::uint64_t carved() const { return bump_ - base_; }  // fresh memory taken so far
  std::uint64_t allocations() const { return allocations_; }
  bool contains(const void* p) const {
    const auto a = reinterpret_cast<std::uintptr_t>(p);
    return a >= base_ && a < end_;
  }

 private:
  struct Free {
    Free* next;
  };
  static std::uint32_t class_of(std::uint64_t bytes);

  std::uintptr_t base_ = 0;
  std::uintptr_t bump_ = 0;
  std::uintptr_t end_ = 0;
  Free* free_[kClasses] = {};
  std::uint64_t in_use_ = 0;
  std::uint64_t peak_ = 0;
  std::uint64_t allocations_ = 0;
};

}  // namespace platypos::user

#include <new>
#include <utility>

template <class T, class... Args>
T* platypos::user::Heap::make(Args&&... args) {
  void* p = alloc(sizeof(T));
  return p == nullptr ? nullptr : new (p) T(std::forward<Args>(args)...);
}

template <class T>
void platypos::user::Heap::destroy(T* p) {
  if (p == nullptr) return;
  p->~T();
  free(p, sizeof(T));
}
