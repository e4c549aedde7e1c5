#pragma once
// Deterministic randomness for the example programs: a seeded generator (base/random.hpp's Xoshiro256) and
// exponentially distributed intervals (Poisson arrivals), in integer arithmetic only: the programs are built with the
// kernel's flags, which on bare metal forbid floating point (-mgeneral-regs-only). Nothing here reads a clock or an
// address: the same seed gives the same sequence everywhere.

#include <platypos/base/random.hpp>

#include <cstdint>

namespace platypos::examples {

class Random {
 public:
  explicit constexpr Random(std::uint64_t seed) : gen_(seed) {}

  constexpr std::uint64_t next() { return gen_.next(); }
  // Uniform in [0, n) (n > 0), by multiply-shift on the top 32 bits: bias below 2^-32 * n, plenty for a demo.
  constexpr std::uint64_t below(std::uint64_t n) { return ((next() >> 32) * n) >> 32; }
  // An exponentially distributed interval with mean `mean` (e.g. nanoseconds between Poisson arrivals); mean < 2^32.
  constexpr std::uint64_t exponential(std::uint64_t mean) {
    return (mean * neg_ln_q24((next() >> 32) + 1)) >> 24;  // -ln(U) * mean, U uniform in (0, 1]
  }

  // -ln(x / 2^32) for x in [1, 2^32], in fixed point with 24 fractional bits (at most 22.2 * 2^24).
  static constexpr std::uint64_t neg_ln_q24(std::uint64_t x) {
    // log2(x): the integer part from the top bit; the fraction bit by bit, by squaring the mantissa (kept in [1, 2)
    // with 31 fractional bits, so the square fits in 64 bits).
    const std::uint32_t e = 63 - static_cast<std::uint32_t>(__builtin_clzll(x));
    std::uint64_t y = e <= 31 ? x << (31 - e) : x >> (e - 31);
    std::uint64_t frac = 0;
    for (std::uint32_t bit = 24; bit-- > 0;) {
      y = (y * y) >> 31;
      if (y >= (std::uint64_t{1} << 32)) {
        y >>= 1;
        frac |= std::uint64_t{1} << bit;
      }
    }
    const std::uint64_t log2_x = (std::uint64_t{e} << 24) | frac;
    const std::uint64_t neg_log2_u = (std::uint64_t{32} << 24) - log2_x;
    constexpr std::uint64_t kLn2Q32 = 2'977'044'472;  // ln(2) * 2^32
    return (neg_log2_u * kLn2Q32) >> 32;
  }

 private:
  Xoshiro256 gen_;
};

// FNV-1a, 64 bits: how the examples check that bytes arrived intact.
constexpr std::uint64_t fnv1a(const char* data, std::uint64_t n, std::uint64_t h = 0xcbf29ce484222325ull) {
  for (std::uint64_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(data[i]);
    h *= 0x100000001b3ull;
  }
  return h;
}

static_assert(Random::neg_ln_q24(std::uint64_t{1} << 32) == 0);
static_assert(Random::neg_ln_q24(std::uint64_t{1} << 31) > 11'629'000 &&
              Random::neg_ln_q24(std::uint64_t{1} << 31) < 11'630'000);  // ln 2 = 0.693147 * 2^24 = 11629079

}  // namespace platypos::examples
