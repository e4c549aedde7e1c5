#pragma once
// platypos-sim --explore N: runs the scenario with --faults under N seeds (from --seed on), each in a child process
// of its own (a crash, an assertion or a hang then fails one seed, not the exploration), --jobs at a time. Shows a
// progress bar on stderr, stops at the first failure unless --keep-going, and prints each failure's replay command
// and the tail of its output (the whole output stays in a log file). Exit status: 0 all passed, 1 a seed failed.

#include <platypos/base/types.hpp>

#include <functional>
#include <string>
#include <vector>

namespace platypos::simtool {

struct ExploreOptions {
  u64 runs = 0;
  u64 first_seed = 1;
  u32 jobs = 1;
  bool keep_going = false;
  u64 timeout_s = 120;                          // wall-clock limit per seed (a run that never ends)
  std::string log_dir;                          // where failing seeds' output is kept
  std::function<std::string(u64 seed)> replay;  // the command that replays one seed
};

// `child_args`: this program's arguments for one run, without --explore and its companions and without --seed
// (explore adds --faults and --seed S).
int explore(const ExploreOptions& opt, const std::vector<std::string>& child_args);

}  // namespace platypos::simtool
