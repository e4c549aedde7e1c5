#pragma once
// Sizes and durations as plain integers with readable names. Durations in the kernel are nanoseconds (u64).

#include <platypos/base/types.hpp>

namespace platypos {

inline constexpr u64 KiB = 1024;
inline constexpr u64 MiB = 1024 * KiB;
inline constexpr u64 GiB = 1024 * MiB;

inline constexpr u64 kNsPerUs = 1000;
inline constexpr u64 kNsPerMs = 1000 * kNsPerUs;
inline constexpr u64 kNsPerSec = 1000 * kNsPerMs;

inline namespace literals {
consteval u64 operator""_KiB(unsigned long long v) { return v * KiB; }
consteval u64 operator""_MiB(unsigned long long v) { return v * MiB; }
consteval u64 operator""_GiB(unsigned long long v) { return v * GiB; }
consteval u64 operator""_us(unsigned long long v) { return v * kNsPerUs; }
consteval u64 operator""_ms(unsigned long long v) { return v * kNsPerMs; }
}  // namespace literals

// Alignment helpers for power-of-two alignments. `align` must be a power of two (checked by callers that take it
// from untrusted input; here it is a precondition).
constexpr bool is_power_of_two(u64 v) { return v != 0 && (v & (v - 1)) == 0; }
constexpr u64 align_down(u64 v, u64 align) { return v & ~(align - 1); }
constexpr bool is_aligned(u64 v, u64 align) { return (v & (align - 1)) == 0; }

// Rounds up; returns false instead of wrapping around when the result does not fit in 64 bits.
constexpr bool align_up_checked(u64 v, u64 align, u64* out) {
  u64 r = 0;
  if (__builtin_add_overflow(v, align - 1, &r)) return false;
  *out = r & ~(align - 1);
  return true;
}

}  // namespace platypos
