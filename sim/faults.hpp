#pragma once
// Seeded fault injection for platypos-sim --faults / --explore (BUGGIFY, after FoundationDB). From the run's seed,
// each fault point (platypos/base/fault.hpp, plus killing processes) is switched on or off for the whole run, half
// of them on average; an enabled point then fires at its own rate. Different seeds thus try different mixes, and
// the decisions come from a generator of their own, so a given seed replays exactly. Sim mode only: the simulator's
// CPUs run on one host thread, which is what makes the sequence of decisions deterministic.

#include <platypos/base/fault.hpp>
#include <platypos/base/random.hpp>

#include <array>
#include <string>

namespace platypos::simtool {

class SimFaults {
 public:
  explicit SimFaults(u64 seed);
  SimFaults(const SimFaults&) = delete;
  SimFaults& operator=(const SimFaults&) = delete;
  ~SimFaults() { disarm(); }

  // Installs the injector (kernel code starts seeing faults) / removes it.
  void arm();
  void disarm();

  // Killing processes at random points (the scenario's chaos task does it): on for this run? And the next gap.
  bool kills_enabled() const { return kills_; }
  u64 next_kill_gap_ns();
  u64 pick(u64 bound) { return bound == 0 ? 0 : rng_.next() % bound; }
  void count_kill() { ++kills_done_; }

  // "alloc 1/400, cq_full 1/16, ...; kill every ~4 ms" (the plan), and what fired.
  std::string plan() const;
  std::string fired() const;

 private:
  static bool fire(void* self, fault::Point p);
  static u64 random(void* self, u64 bound);

  Xoshiro256 rng_;
  std::array<u32, fault::kPointCount> one_in_{};  // 0: off
  std::array<u64, fault::kPointCount> fired_{};
  bool kills_ = false;
  u64 kills_done_ = 0;
  fault::Injector injector_;
  bool armed_ = false;
};

}  // namespace platypos::simtool
