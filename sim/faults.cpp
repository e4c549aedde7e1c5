#include "faults.hpp"

#include <cinttypes>
#include <cstdio>

namespace platypos::simtool {
namespace {

// How often an enabled point fires (1 in N passes). Allocation is on every message and parked operation, so it
// fires rarely; the others are cheap slow paths the kernel must take in its stride.
constexpr std::array<u32, fault::kPointCount> kOneIn = {
    /*alloc*/ 300, /*channel_full*/ 40, /*cq_full*/ 8, /*completion_delay*/ 10, /*spurious_wakeup*/ 6};
constexpr u64 kMeanKillGapNs = 4'000'000;

}  // namespace

SimFaults::SimFaults(u64 seed) : rng_(seed ^ 0xb5ad4eceda1ce2a9ull) {
  for (u32 i = 0; i < fault::kPointCount; ++i) one_in_[i] = (rng_.next() & 1) != 0 ? kOneIn[i] : 0;
  kills_ = (rng_.next() & 1) != 0;
  injector_.fire = &SimFaults::fire;
  injector_.random = &SimFaults::random;
  injector_.context = this;
}

void SimFaults::arm() {
  fault::install(&injector_);
  armed_ = true;
}

void SimFaults::disarm() {
  if (!armed_) return;
  fault::install(nullptr);
  armed_ = false;
}

bool SimFaults::fire(void* self, fault::Point p) {
  auto* f = static_cast<SimFaults*>(self);
  const auto i = static_cast<u32>(p);
  if (f->one_in_[i] == 0 || f->rng_.next() % f->one_in_[i] != 0) return false;
  ++f->fired_[i];
  return true;
}

u64 SimFaults::random(void* self, u64 bound) { return static_cast<SimFaults*>(self)->pick(bound); }

u64 SimFaults::next_kill_gap_ns() { return kMeanKillGapNs / 2 + pick(kMeanKillGapNs); }

std::string SimFaults::plan() const {
  std::string s;
  char buf[64];
  for (u32 i = 0; i < fault::kPointCount; ++i) {
    if (one_in_[i] == 0) continue;
    std::snprintf(buf, sizeof buf, "%s%s 1/%u", s.empty() ? "" : ", ", fault::point_name(static_cast<fault::Point>(i)),
                  one_in_[i]);
    s += buf;
  }
  if (kills_) {
    std::snprintf(buf, sizeof buf, "%skill every %.1f-%.1f ms", s.empty() ? "" : ", ", kMeanKillGapNs / 2e6,
                  kMeanKillGapNs * 1.5 / 1e6);
    s += buf;
  }
  return s.empty() ? "none (this seed drew no fault point)" : s;
}

std::string SimFaults::fired() const {
  std::string s;
  char buf[64];
  for (u32 i = 0; i < fault::kPointCount; ++i) {
    if (one_in_[i] == 0) continue;
    std::snprintf(buf, sizeof buf, "%s%s %" PRIu64, s.empty() ? "" : ", ",
                  fault::point_name(static_cast<fault::Point>(i)), fired_[i]);
    s += buf;
  }
  if (kills_) {
    std::snprintf(buf, sizeof buf, "%skill %" PRIu64, s.empty() ? "" : ", ", kills_done_);
    s += buf;
  }
  return s.empty() ? "nothing" : s;
}

}  // namespace platypos::simtool
