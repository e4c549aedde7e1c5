#pragma once
// Xoshiro256: the one seeded pseudo-random generator of the project (xoshiro256**, seeded through splitmix64), used by
// the simulator's schedule choices, the schedule-exploration strategies and the example programs. Integer-only,
// constexpr, no allocation: usable in the kernel. The same seed gives the same sequence everywhere.

#include <platypos/base/types.hpp>

namespace platypos {

class Xoshiro256 {
 public:
  explicit constexpr Xoshiro256(u64 seed) {
    for (u64& w : s_) w = splitmix64(seed);
  }

  constexpr u64 next() {
    const u64 result = rotl(s_[1] * 5, 7) * 9;
    const u64 t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // One step of splitmix64 on `state` (advances it): a good 64-bit mix of a counter, also for seeding.
  static constexpr u64 splitmix64(u64& state) {
    u64 z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

 private:
  static constexpr u64 rotl(u64 x, int k) { return (x << k) | (x >> (64 - k)); }
  u64 s_[4] = {};
};

}  // namespace platypos
