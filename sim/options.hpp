#pragma once
// platypos-sim's options, shared by every scenario.

#include <platypos/base/types.hpp>
#include <platypos/sched/scheduler.hpp>

#include <string>

namespace platypos::simtool {

enum class Mode { sim, threads };

struct Options {
  std::string scenario = "programs";
  u32 cpus = 8;  // main.cpp: 12 for the programs scenario unless --cpus is given
  u32 kernel_cores = 2;
  Mode mode = Mode::sim;
  sched::Policy policy = sched::Policy::dedicated;
  u64 seed = 1;
  u64 duration_ns = 200'000'000;
  double load = 0.7;
  u64 quantum_ns = 4'000'000;
  u64 memory_bytes = 512ull << 20;
  std::string log_level = "warn";  // main.cpp: info for the programs scenario (their console) unless given
  std::string program_args;        // programs scenario: appended to the demo's command line
  std::string duration_text = "200ms";
  std::string quantum_text = "4ms";
  bool faults = false;
  std::string listen;                   // kv and files scenarios (empty: the scenario's default)
  u64 kv_memory_bytes = 128ull << 20;   // kv and files scenarios: the server's memory
  std::string root;                     // files scenario: the directory served (empty: the current one)
  u32 server_cores = 1;                 // kv and files scenarios: the server's app cores
  u64 connections = 4096;
  u32 kv_clients = 16;                  // kv scenario, sim mode: modelled client connections
  double kv_rate = 20'000;              // kv scenario, sim mode: requests per second offered, all clients
  u32 kv_resets_per_million = 0;        // kv scenario, sim mode: client resets per million requests               // kv scenario: connections open at once (the server's handle table fits them)
  std::string plant;  // --plant BUG: a planted bug for testing the checks (leak-on-kill, stuck-on-kill)  // --faults:
                      // seeded fault injection (sim/faults.hpp), programs scenario in sim mode

  // The command line that reproduces this run.
  std::string replay_command() const;
};

const char* mode_name(Mode m);

}  // namespace platypos::simtool
