#include <platypos/user/heap.hpp>

namespace platypos::user {

void Heap::init(void* base, std::uint64_t bytes) {
  base_ = (reinterpret_cast<std::uintptr_t>(base) + 63) & ~std::uintptr_t{63};
  end_ = reinterpret_cast<std::uintptr_t>(base) + bytes;
  if (end_ < base_) end_ = base_;
  bump_ = base_;
  for (Free*& f : free_) f = nullptr;
  in_use_ = peak_ = allocations_ = 0;
}

std::uint32_t Heap::class_of(std::uint64_t bytes) {
  if (bytes <= (std::uint64_t{1} << kMinShift)) return 0;
  const auto shift = static_cast<std::uint32_t>(64 - __builtin_clzll(bytes - 1));
  return shift > kMaxShift ? kClasses : shift - kMinShift;
}

void* Heap::alloc(std::uint64_t bytes) {
  const std::uint32_t c = class_of(bytes);
  if (c >= kClasses) return nullptr;
  const std::uint64_t size = std::uint64_t{1} << (c + kMinShift);
  void* p = nullptr;
  if (free_[c] != nullptr) {
    Free* f = free_[c];
    free_[c] = f->next;
    p = f;
  } else {
    // Small blocks are aligned to their size (up to a page), so that a frame never straddles more lines than needed.
    const std::uint64_t align = size < 4096 ? size : 4096;
    const std::uintptr_t at = (bump_ + align - 1) & ~(align - 1);
    if (at < bump_ || at > end_ || end_ - at < size) return nullptr;
    bump_ = at + size;
    p = reinterpret_cast<void*>(at);
  }
  in_use_ += size;
  if (in_use_ > peak_) peak_ = in_use_;
  ++allocations_;
  return p;
}

void Heap::free(void* p, std::uint64_t bytes) {
  if (p == nullptr) return;
  const std::uint32_t c = class_of(bytes);
  if (c >= kClasses) return;
  auto* f = static_cast<Free*>(p);
  f->next = free_[c];
  free_[c] = f;
  in_use_ -= std::uint64_t{1} << (c + kMinShift);
}

}  // namespace platypos::user
