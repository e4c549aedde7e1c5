#include <platypos/base/assert.hpp>
#include <platypos/base/units.hpp>
#include <platypos/trace/trace_ring.hpp>

namespace platypos::trace {

void TraceRing::init(TraceRecord* slots, u32 capacity) {
  PLATYPOS_ASSERT(slots != nullptr && capacity >= 2 && is_power_of_two(capacity),
                  "trace ring of {} slots: needs a power of two >= 2", capacity);
  // Nobody records or drains yet: plain initialization, no scheduling points.
  for (u32 i = 0; i < capacity; ++i) slots[i].seq.unobserved().store(0, std::memory_order_relaxed);
  slots_ = slots;
  mask_ = capacity - 1;
  capacity_ = capacity;
  head_.unobserved().store(0, std::memory_order_relaxed);
  tail_.unobserved().store(0, std::memory_order_relaxed);
  dropped_.unobserved().store(0, std::memory_order_release);
}

void TraceRing::reset() {
  capacity_ = 0;
  mask_ = 0;
  slots_ = nullptr;
  head_.unobserved().store(0, std::memory_order_relaxed);
  tail_.unobserved().store(0, std::memory_order_relaxed);
  dropped_.unobserved().store(0, std::memory_order_release);
}

u64 TraceRing::uncommitted() const {
  if (capacity_ == 0) return 0;
  const u64 head = head_.unobserved().load(std::memory_order_acquire);
  u64 n = 0;
  for (u64 p = tail_.unobserved().load(std::memory_order_acquire); p < head; ++p) {
    n += slots_[p & mask_].seq.unobserved().load(std::memory_order_acquire) != p + 1 ? 1 : 0;
  }
  return n;
}

}  // namespace platypos::trace
