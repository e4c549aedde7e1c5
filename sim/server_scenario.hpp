#pragma once
// The server scenario as a function, for platypos-sim and for the benchmarks (server_scenario.cpp explains it).

#include <platypos/base/histogram.hpp>

#include <string>
#include <vector>

#include "scenario.hpp"

namespace platypos::simtool {

struct ServerProcessResult {
  std::string name;
  u32 cores = 0;
  u64 generated = 0;
  LatencyHistogram latency;  // intended arrival to completion, ns
  LatencyHistogram ideal;    // the same requests, FIFO on as many cores, with zero scheduling cost
};

struct ServerResult {
  std::vector<ServerProcessResult> servers;
  u32 batch_cores = 0;
  usize batch_tasks = 0;
  u64 batch_units = 0;  // 10 ms chunks the neighbour computed
  RunResult run;
  u64 elapsed_ns = 0;
  bool ok = true;  // every request served, nothing leaked, not stuck
};

// Runs the scenario; with `print`, writes platypos-sim's summary on stdout. Needs at least 3 app cores.
ServerResult run_server_scenario(const Options& opt, bool print);

}  // namespace platypos::simtool
