#include "strategies.hpp"

#include <platypos/base/assert.hpp>

#include <algorithm>
#include <cstdlib>

namespace platypos::loom {

namespace {
u64 splitmix(u64& x) { return Xoshiro256::splitmix64(x); }
}  // namespace

u32 default_choice(const SimChoice& c) {
  if (c.current_eligible) {
    for (u32 i = 0; i < c.count; ++i)
      if (c.candidates[i] == c.current) return i;
  }
  // Round robin from the current CPU: two spinners waiting for a third must not hand the CPU back and forth.
  for (u32 i = 0; i < c.count; ++i)
    if (c.candidates[i] > c.current) return i;
  return 0;
}

RandomStrategy::RandomStrategy(u64 seed) : rng_(seed) {}

u32 RandomStrategy::choose(const SimChoice& c) {
  const u64 r = rng_.next();
  return static_cast<u32>(r % c.count);
}

PctStrategy::PctStrategy(u64 seed, u32 cpus, u32 depth, u64 steps) {
  PLATYPOS_ASSERT(depth >= 1 && steps >= 1, "pct: depth {} steps {}", depth, steps);
  // Initial priorities: a random permutation of depth .. depth + cpus - 1 (all above every change point's).
  priority_.resize(cpus);
  for (u32 i = 0; i < cpus; ++i) priority_[i] = static_cast<i64>(depth + i);
  for (u32 i = cpus; i > 1; --i) std::swap(priority_[i - 1], priority_[splitmix(seed) % i]);
  for (u32 i = 1; i < depth; ++i) change_at_.push_back(splitmix(seed) % steps);
  std::sort(change_at_.begin(), change_at_.end());
}

u32 PctStrategy::choose(const SimChoice& c) {
  // The i-th change point (i = 1 .. d-1) gives the CPU that reached it priority d - i: below every initial one.
  // A CPU that spins waits for another: it drops below everyone (round robin among spinners), or two spinners of
  // higher priority would hand the CPU back and forth forever while the one they wait for never runs.
  if (c.current_spinning) priority_[c.current] = --spin_floor_;
  while (next_change_ < change_at_.size() && change_at_[next_change_] <= c.step) {
    if (change_at_[next_change_] == c.step) priority_[c.current] = static_cast<i64>(change_at_.size() - next_change_);
    ++next_change_;
  }
  u32 best = 0;
  for (u32 i = 1; i < c.count; ++i)
    if (priority_[c.candidates[i]] > priority_[c.candidates[best]]) best = i;
  return best;
}

u32 DfsStrategy::choose(const SimChoice& c) {
  if (depth_ < path_.size()) {
    // Replaying the prefix of the schedule being explored: the run is deterministic, so the same choice appears.
    Node& n = path_[depth_++];
    PLATYPOS_ASSERT(n.candidates.size() == c.count && n.current == c.current,
                    "loom: the test is not deterministic (decision {} differs between runs)", depth_ - 1);
    return n.chosen;
  }
  Node n;
  n.candidates.assign(c.candidates, c.candidates + c.count);
  n.current = c.current;
  n.current_eligible = c.current_eligible;
  n.chosen = default_choice(c);
  n.tried = u64{1} << n.chosen;
  if (!path_.empty()) {
    const Node& prev = path_.back();
    n.preemptions_before = prev.preemptions_before + cost(prev, prev.chosen);
  }
  path_.push_back(std::move(n));
  ++depth_;
  return path_.back().chosen;
}

bool DfsStrategy::advance() {
  // Anything after depth_ belongs to a longer run than this one (cannot happen: runs replay their prefix exactly).
  path_.resize(depth_);
  while (!path_.empty()) {
    Node& n = path_.back();
    for (u32 i = 0; i < n.candidates.size() && i < 64; ++i) {
      if ((n.tried >> i) & 1) continue;
      n.tried |= u64{1} << i;
      if (n.preemptions_before + cost(n, i) > bound_) continue;
      n.chosen = i;
      return true;
    }
    path_.pop_back();
  }
  return false;
}

std::string DfsStrategy::schedule() const {
  std::string s;
  for (size_t i = 0; i < depth_ && i < path_.size(); ++i) {
    const Node& n = path_[i];
    const SimChoice c{
        n.candidates.data(), static_cast<u32>(n.candidates.size()), n.current, n.current_eligible, false, i};
    if (n.chosen == default_choice(c)) continue;
    if (!s.empty()) s += ',';
    s += std::to_string(i) + ":" + std::to_string(n.candidates[n.chosen]);
  }
  return s;
}

bool ReplayStrategy::parse(const std::string& schedule, std::string* error) {
  forced_.clear();
  next_ = 0;
  mismatch_.clear();
  size_t pos = 0;
  while (pos < schedule.size()) {
    size_t end = schedule.find(',', pos);
    if (end == std::string::npos) end = schedule.size();
    const std::string item = schedule.substr(pos, end - pos);
    const size_t colon = item.find(':');
    char* e1 = nullptr;
    char* e2 = nullptr;
    const u64 step = colon == std::string::npos ? 0 : std::strtoull(item.c_str(), &e1, 10);
    const u64 cpu = colon == std::string::npos ? 0 : std::strtoull(item.c_str() + colon + 1, &e2, 10);
    if (colon == std::string::npos || e1 != item.c_str() + colon || *e2 != '\0' ||
        (!forced_.empty() && step <= forced_.back().first)) {
      *error = "bad schedule item '" + item + "' (want ascending STEP:CPU, comma separated)";
      return false;
    }
    forced_.emplace_back(step, static_cast<CpuId>(cpu));
    pos = end + 1;
  }
  return true;
}

u32 ReplayStrategy::choose(const SimChoice& c) {
  if (next_ < forced_.size() && forced_[next_].first == c.step) {
    const CpuId want = forced_[next_++].second;
    for (u32 i = 0; i < c.count; ++i)
      if (c.candidates[i] == want) return i;
    if (mismatch_.empty()) {
      mismatch_ = "decision " + std::to_string(c.step) + ": cpu " + std::to_string(want) + " cannot run there";
    }
  }
  return default_choice(c);
}

}  // namespace platypos::loom
