#pragma once
// LatencyHistogram: a log-linear histogram of u64 values (nanoseconds, usually), in the spirit of HdrHistogram.
// Values below 64 have a bucket each; above, every power of two is split into 32 linear sub-buckets, so a reported
// percentile is within 1/32 (about 3%) of the true value, for any value up to 2^64 - 1. Fixed size (1920 counters,
// 15 KiB), no allocation, integer-only (usable in the kernel). Percentiles are given in parts per million:
// p99.9 is value_at_ppm(999'000). One implementation for the simulator's summary and the benchmarks.

#include <platypos/base/types.hpp>

namespace platypos {

class LatencyHistogram {
 public:
  static constexpr u32 kSubBits = 5;
  static constexpr u32 kSub = 1u << kSubBits;
  static constexpr u32 kLinear = 2 * kSub;  // values 0..63 exactly
  static constexpr u32 kBuckets = kLinear + (64 - kSubBits - 1) * kSub;

  constexpr LatencyHistogram() = default;

  void record(u64 v) { record_n(v, 1); }
  void record_n(u64 v, u64 n) {
    counts_[index_of(v)] += n;
    count_ += n;
    sum_ += v * n;
    if (v < min_) min_ = v;
    if (v > max_) max_ = v;
  }
  void merge(const LatencyHistogram& o) {
    for (u32 i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    count_ += o.count_;
    sum_ += o.sum_;
    if (o.min_ < min_) min_ = o.min_;
    if (o.max_ > max_) max_ = o.max_;
  }
  void reset() { *this = LatencyHistogram(); }

  u64 count() const { return count_; }
  u64 min() const { return count_ == 0 ? 0 : min_; }
  u64 max() const { return max_; }
  u64 mean() const { return count_ == 0 ? 0 : sum_ / count_; }

  // The smallest bucket upper bound below which at least ppm/1e6 of the values lie (clamped to max()). 0 when empty.
  u64 value_at_ppm(u32 ppm) const {
    if (count_ == 0) return 0;
    // rank = ceil(count * ppm / 1e6), at least 1; in 128-bit-free arithmetic.
    const u64 whole = count_ / 1'000'000 * ppm;
    const u64 part = (count_ % 1'000'000 * ppm + 999'999) / 1'000'000;
    u64 rank = whole + part;
    if (rank == 0) rank = 1;
    u64 seen = 0;
    for (u32 i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        const u64 hi = upper_bound_of(i);
        return hi < max_ ? hi : max_;
      }
    }
    return max_;
  }

  static constexpr u32 index_of(u64 v) {
    if (v < kLinear) return static_cast<u32>(v);
    const u32 e = 63 - static_cast<u32>(__builtin_clzll(v));  // >= 6
    const u32 mantissa = static_cast<u32>(v >> (e - kSubBits)) & (kSub - 1);
    return kLinear + (e - kSubBits - 1) * kSub + mantissa;
  }
  // Largest value that falls into bucket i.
  static constexpr u64 upper_bound_of(u32 i) {
    if (i < kLinear) return i;
    const u32 e = (i - kLinear) / kSub + kSubBits + 1;
    const u64 mantissa = (i - kLinear) % kSub;
    const u64 base = (u64{1} << e) | (mantissa << (e - kSubBits));
    return base + ((u64{1} << (e - kSubBits)) - 1);
  }
  u64 bucket_count(u32 i) const { return counts_[i]; }

 private:
  u64 counts_[kBuckets] = {};
  u64 count_ = 0;
  u64 sum_ = 0;
  u64 min_ = ~u64{0};
  u64 max_ = 0;
};

static_assert(LatencyHistogram::index_of(~u64{0}) == LatencyHistogram::kBuckets - 1);
static_assert(LatencyHistogram::upper_bound_of(LatencyHistogram::kBuckets - 1) == ~u64{0});
static_assert(LatencyHistogram::index_of(64) == LatencyHistogram::kLinear);

}  // namespace platypos
