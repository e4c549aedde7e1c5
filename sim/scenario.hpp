#pragma once
// Scenarios of platypos-sim: each boots a hosted kernel (on a SimMachine or a threads-mode Machine), sets up
// processes and tasks, runs, and prints a summary on stdout. Logs go to stderr.

#include "options.hpp"

#include <platypos/hosted/kernel.hpp>
#include <platypos/hosted/sim_machine.hpp>

#include <functional>
#include <span>
#include <string>
#include <vector>

namespace platypos::simtool {

struct Scenario {
  const char* name;
  const char* summary;
  // Returns the process exit status: 0 success, 1 the scenario found a problem (leak, stuck run).
  int (*run)(const Options& opt);
};

std::span<const Scenario> scenarios();

// The programs scenario (programs_scenario.cpp).
int run_programs_scenario(const Options& opt);
// The hostile scenario (hostile_scenario.cpp).
int run_hostile_scenario(const Options& opt);
// kv_scenario.cpp
int run_kv_scenario(const Options& opt);
int run_files_scenario(const Options& opt);

// --trace FILE / --trace-level LEVEL (main.cpp): run_kernel() records the run into FILE (hosted::TraceSession).
struct TraceOptions {
  std::string path;  // empty: no tracing
  std::string level = "fine";
  bool failed = false;  // set by run_kernel when the trace file is incomplete (platypos-sim then exits 1)
};
TraceOptions& trace_options();

// Tells the trace drain worker to make its last pass and exit (nothing when not tracing). A scenario whose
// controller waits for every other task to end calls this first: the worker is a kernel task too.
void stop_tracing();

struct RunResult {
  bool stuck = false;
  std::string stuck_reason;
  u64 events = 0;        // sim mode
  u64 cpu_switches = 0;  // sim mode
  u64 digest = 0;        // sim mode
  u64 wall_ns = 0;       // threads mode only (never printed in sim mode: output must not depend on it)
  std::string trace;     // with --trace: what was written (print_run_footer prints it)
};

// Boots a kernel on the machine `opt` asks for, calls setup(kernel) (spawn processes, create tasks), runs every CPU's
// scheduler until it stops, then calls report(kernel, result) while the kernel still exists.
void run_kernel(const Options& opt, const std::function<void(hosted::Kernel&)>& setup,
                const std::function<void(hosted::Kernel&, const RunResult&)>& report);

// Who owns each CPU right now ("kernel", a process name, "free", or "shared" under timeshare): call after setup,
// while the processes exist, and pass the result to print_cpu_table.
std::vector<std::string> cpu_owners(hosted::Kernel& k, const Options& opt);
// Prints the per-CPU table (role, owner, utilization, switches, preemptions) for a finished run of `elapsed_ns`.
void print_cpu_table(hosted::Kernel& k, const Options& opt, const std::vector<std::string>& owners, u64 elapsed_ns);

// Checks that every process is gone and every page is back; prints the verdict (problems always, success when
// `print`). Returns false on a leak.
bool check_no_leaks(hosted::Kernel& k, bool print);

// Prints the simulation line and the replay command.
void print_run_footer(const Options& opt, const RunResult& r, u64 elapsed_ns);

// The end of a program-running scenario's report: the ring entries' exactly-once check (every accepted entry
// completed, or cancelled because its process exited) added to `problems`, every problem printed, the leak check,
// the stuck check, the footer. Returns 0 when all held, else 1.
int finish_report(hosted::Kernel& k, const Options& opt, const RunResult& r, std::vector<std::string>& problems,
                  u64 elapsed_ns);

// From a kernel task: sleeps (10 us at a time) until done() or the deadline; returns done().
template <class F>
bool wait_until(F&& done, u64 deadline_ns) {
  while (!done()) {
    if (Platform::now_ns() >= deadline_ns) return false;
    sched::scheduler().sleep_for(10'000);
  }
  return true;
}

}  // namespace platypos::simtool
