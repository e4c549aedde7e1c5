#pragma once
// Exploration strategies for the simulator (hosted::SimStrategy): which runnable CPU takes the next step.
//
//   RandomStrategy  a uniformly random candidate at every decision, from a seed.
//   PctStrategy     probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010): every CPU gets a random
//                   priority, d - 1 random decisions among the first k lower the running CPU's priority below all
//                   others; the highest-priority candidate always runs. A CPU that spins drops to the bottom. A bug of
//                   depth d is found with probability at least 1 / (n * k^(d-1)) per run.
//   DfsStrategy     bounded exhaustive search: depth first over the decisions of a run, re-running from scratch for
//                   every schedule, with at most `preemption_bound` preemptions (switching away from a CPU that
//                   could have gone on; a CPU that spins, idles or finishes is never preempted) per schedule.
//   ReplayStrategy  replays a schedule string printed by DfsStrategy.
//
// Schedule strings name only the decisions that differ from the non-preemptive default (keep running the current
// CPU, else the lowest-numbered candidate): "step:cpu,step:cpu", empty for the default schedule.

#include <platypos/base/random.hpp>
#include <platypos/hosted/sim_machine.hpp>

#include <string>
#include <vector>

namespace platypos::loom {

using hosted::SimChoice;
using hosted::SimStrategy;

// The decision that preempts nothing: the current CPU if it may go on, else the lowest-numbered candidate.
u32 default_choice(const SimChoice& c);

class RandomStrategy final : public SimStrategy {
 public:
  explicit RandomStrategy(u64 seed);
  u32 choose(const SimChoice& c) override;

 private:
  Xoshiro256 rng_;
};

class PctStrategy final : public SimStrategy {
 public:
  // cpus: the machine's CPU count; depth: d (>= 1); steps: k, the estimated decisions in a run.
  PctStrategy(u64 seed, u32 cpus, u32 depth, u64 steps);
  u32 choose(const SimChoice& c) override;

 private:
  std::vector<i64> priority_;   // per CPU; higher runs first
  i64 spin_floor_ = 0;          // spinners go below every priority (and below earlier spinners)
  std::vector<u64> change_at_;  // decision numbers, ascending
  size_t next_change_ = 0;
};

class DfsStrategy final : public SimStrategy {
 public:
  explicit DfsStrategy(u32 preemption_bound) : bound_(preemption_bound) {}
  // Call before every run (the first one too).
  void begin_run() { depth_ = 0; }
  // After a run: moves to the next schedule. False once every schedule within the bound has run.
  bool advance();
  u32 choose(const SimChoice& c) override;
  // The schedule of the run that just ended.
  std::string schedule() const;

 private:
  struct Node {
    std::vector<CpuId> candidates;
    CpuId current = 0;
    bool current_eligible = false;
    u32 chosen = 0;
    u32 preemptions_before = 0;
    u64 tried = 0;  // bit per candidate index
  };
  u32 cost(const Node& n, u32 index) const { return n.current_eligible && n.candidates[index] != n.current ? 1 : 0; }
  u32 bound_;
  std::vector<Node> path_;
  size_t depth_ = 0;
};

class ReplayStrategy final : public SimStrategy {
 public:
  // Returns false (with a message) for a malformed string.
  bool parse(const std::string& schedule, std::string* error);
  u32 choose(const SimChoice& c) override;
  // Set when the run did not match the schedule (a decision named a CPU that was not a candidate).
  const std::string& mismatch() const { return mismatch_; }

 private:
  std::vector<std::pair<u64, CpuId>> forced_;  // ascending steps
  size_t next_ = 0;
  std::string mismatch_;
};

}  // namespace platypos::loom
