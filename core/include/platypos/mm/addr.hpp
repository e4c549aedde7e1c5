#pragma once
// Strong address types. A PhysAddr is a physical address, a VirtAddr a kernel-virtual one; they do not convert into
// each other or into integers by accident. PageRange is a non-empty, page-aligned run of physical pages whose end
// does not wrap: constructing one validates all of that and reports what is wrong.

#include <platypos/base/result.hpp>
#include <platypos/base/types.hpp>
#include <platypos/base/units.hpp>

#include <compare>

namespace platypos {

inline constexpr u64 kPageShift = 12;
inline constexpr u64 kPageSize = u64{1} << kPageShift;

class PhysAddr {
 public:
  constexpr PhysAddr() = default;
  constexpr explicit PhysAddr(u64 v) : v_(v) {}
  constexpr u64 value() const { return v_; }
  constexpr bool is_page_aligned() const { return (v_ & (kPageSize - 1)) == 0; }
  constexpr bool is_aligned(u64 align) const { return (v_ & (align - 1)) == 0; }
  constexpr u64 page_number() const { return v_ >> kPageShift; }
  constexpr PhysAddr page_down() const { return PhysAddr(v_ & ~(kPageSize - 1)); }
  // Adds `bytes`, or fails with out_of_range instead of wrapping around.
  Result<PhysAddr> checked_add(u64 bytes) const {
    u64 r = 0;
    if (__builtin_add_overflow(v_, bytes, &r)) return Error::out_of_range;
    return PhysAddr(r);
  }
  // Unchecked offsets for code that has already validated the range (asserts no wrap-around).
  constexpr PhysAddr operator+(u64 bytes) const {
    PLATYPOS_ASSERT(v_ + bytes >= v_, "PhysAddr {:#x} + {:#x} wraps", v_, bytes);
    return PhysAddr(v_ + bytes);
  }
  constexpr u64 operator-(PhysAddr o) const {
    PLATYPOS_ASSERT(v_ >= o.v_, "PhysAddr {:#x} - {:#x} is negative", v_, o.v_);
    return v_ - o.v_;
  }
  constexpr auto operator<=>(const PhysAddr&) const = default;

 private:
  u64 v_ = 0;
};

class VirtAddr {
 public:
  constexpr VirtAddr() = default;
  constexpr explicit VirtAddr(u64 v) : v_(v) {}
  explicit VirtAddr(const void* p) : v_(reinterpret_cast<uptr>(p)) {}
  constexpr u64 value() const { return v_; }
  template <class T = void>
  T* as_ptr() const {
    return reinterpret_cast<T*>(static_cast<uptr>(v_));
  }
  constexpr bool is_page_aligned() const { return (v_ & (kPageSize - 1)) == 0; }
  Result<VirtAddr> checked_add(u64 bytes) const {
    u64 r = 0;
    if (__builtin_add_overflow(v_, bytes, &r)) return Error::out_of_range;
    return VirtAddr(r);
  }
  constexpr auto operator<=>(const VirtAddr&) const = default;

 private:
  u64 v_ = 0;
};

// [base, base + pages * kPageSize), pages >= 1, page-aligned, not wrapping past 2^64.
class PageRange {
 public:
  // Validates: base page-aligned (misaligned), size a non-zero multiple of the page size (invalid_argument), end
  // within 2^64 (out_of_range).
  static Result<PageRange> make(PhysAddr base, u64 size_bytes) {
    if (!base.is_page_aligned()) return Error::misaligned;
    if (size_bytes == 0 || (size_bytes & (kPageSize - 1)) != 0) return Error::invalid_argument;
    u64 end = 0;
    if (__builtin_add_overflow(base.value(), size_bytes - 1, &end)) return Error::out_of_range;
    return PageRange(base, size_bytes >> kPageShift);
  }
  static Result<PageRange> from_pages(PhysAddr base, u64 pages) {
    if (pages > (~u64{0} >> kPageShift)) return Error::out_of_range;
    return make(base, pages << kPageShift);
  }

  constexpr PhysAddr base() const { return base_; }
  constexpr u64 pages() const { return pages_; }
  constexpr u64 size_bytes() const { return pages_ << kPageShift; }
  // The last byte (inclusive): never wraps, unlike end() for a range touching 2^64.
  constexpr u64 last() const { return base_.value() + (size_bytes() - 1); }
  constexpr bool contains(PhysAddr a) const { return a >= base_ && a.value() <= last(); }
  constexpr bool contains(const PageRange& o) const { return o.base_ >= base_ && o.last() <= last(); }
  constexpr bool overlaps(const PageRange& o) const { return base_.value() <= o.last() && o.base_.value() <= last(); }
  constexpr bool operator==(const PageRange&) const = default;

 private:
  constexpr PageRange(PhysAddr base, u64 pages) : base_(base), pages_(pages) {}
  PhysAddr base_;
  u64 pages_;
};

// The kernel's linear view of physical memory: virt = phys + offset. True of the bare-metal direct map and of the
// hosted backend's one big mmap (and of the tests' host buffers). Allocators that must write into the memory they
// manage (free-list links, bookkeeping) take one of these instead of the whole Platform.
class DirectMap {
 public:
  constexpr DirectMap() = default;
  // `phys0` is where physical address 0 appears in the kernel's address space (it need not be mapped itself).
  constexpr explicit DirectMap(uptr phys0) : offset_(phys0) {}
  template <class T = void>
  T* to_virt(PhysAddr p) const {
    return reinterpret_cast<T*>(static_cast<uptr>(offset_ + p.value()));
  }
  PhysAddr to_phys(const void* v) const { return PhysAddr(reinterpret_cast<uptr>(v) - offset_); }
  constexpr uptr offset() const { return offset_; }

 private:
  uptr offset_ = 0;
};

// Number of pages needed for `bytes` (rounds up; `bytes` must be below 2^64 - 4095).
constexpr u64 pages_for(u64 bytes) { return (bytes + kPageSize - 1) >> kPageShift; }

}  // namespace platypos
