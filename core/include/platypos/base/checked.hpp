#pragma once
// Overflow-checked arithmetic for values that come from a program (or from anything else the kernel does not
// control). Every sum, product or range test on such a value goes through one of these: a wrapped deadline or length
// is how a bad input turns into a kernel bug. Each says what it does at the edge: checked_* fail (false, or the
// error the caller names), saturating_* stop at the largest value.

#include <platypos/base/types.hpp>

namespace platypos {

// a + b and a * b into *out; false (and *out untouched) if the exact result does not fit.
constexpr bool checked_add(u64 a, u64 b, u64* out) {
  u64 r = 0;
  if (__builtin_add_overflow(a, b, &r)) return false;
  *out = r;
  return true;
}
constexpr bool checked_mul(u64 a, u64 b, u64* out) {
  u64 r = 0;
  if (__builtin_mul_overflow(a, b, &r)) return false;
  *out = r;
  return true;
}

// a + b, or the largest u64 if that does not fit (a deadline of "forever" rather than one in the past).
constexpr u64 saturating_add(u64 a, u64 b) {
  u64 r = 0;
  return __builtin_add_overflow(a, b, &r) ? ~u64{0} : r;
}

// True if [start, start + len) lies inside [base, base + size), computed without wrapping: a range whose end does
// not fit in 64 bits is outside everything. An empty range is inside if start is (its end may equal the limit).
constexpr bool range_within(u64 start, u64 len, u64 base, u64 size) {
  u64 end = 0, limit = 0;
  if (!checked_add(start, len, &end) || !checked_add(base, size, &limit)) return false;
  return start >= base && end <= limit;
}

// count elements of `size` bytes: false if the byte count does not fit.
constexpr bool checked_bytes(u64 count, u64 size, u64* out) { return checked_mul(count, size, out); }

}  // namespace platypos
