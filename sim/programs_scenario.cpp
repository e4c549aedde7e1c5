// The `programs` scenario (platypos-sim's default): the example programs (examples/) running together as processes
// on their dedicated app cores, every system call through their rings, served by ring servers on the kernel cores.
//
// The `demo` program spawns echo-server + echo-client (Poisson load, latency percentiles), a log daemon with its
// apps (write-only log namespaces, records shipped and printed by namespace) and an object store with two clients
// passing opaque references to each other; it waits for them all and exits 0 only if each one verified its part.
// The programs print on the kernel console (stderr); the summary (stdout) adds what the kernel saw: the demo's
// verdict, ring traffic (entries, parked operations, doorbells and blocking waits per operation), the CPUs, and the
// leak check.

#include <platypos/cap/process_object.hpp>
#include <platypos/cap/wait.hpp>
#include <platypos/examples/demo.hpp>
#include <platypos/ring/ring.hpp>
#include <platypos/ring/runtime.hpp>

#include <cinttypes>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "scenario.hpp"

namespace platypos::simtool {
namespace {

struct World {
  const Options* opt = nullptr;
  std::unique_ptr<ring::Runtime> runtime;
  std::string args;
  i64 exit_code = -1;
  Error launch_error = Error::none;
  u64 end_ns = 0;
};

void supervisor(void* arg) {
  auto* w = static_cast<World*>(arg);
  sched::Scheduler& s = sched::scheduler();
  w->runtime->start(w->opt->kernel_cores).expect("ring servers");
  const examples::DemoLaunch& d = examples::kDemo;
  auto demo =
      w->runtime->launch({.program = d.program, .cores = d.cores, .memory_bytes = d.memory_bytes, .args = w->args}, {});
  if (demo.is_error()) {
    w->launch_error = demo.error();
  } else {
    (void)cap::wait_signals(**demo, cap::kSignalExited, 0);
    w->exit_code = (*demo)->exit_code();
    demo->reset();
  }
  // The servers retire the rings of exited processes; then everything stops.
  while (ring::Ring::live_rings() != 0) s.sleep_for(10'000);
  w->end_ns = Platform::now_ns();
  // The ring servers and the trace drain worker (with --trace) end after a last pass: wait for them, then stop.
  w->runtime->stop();
  stop_tracing();
  while (s.live_tasks() > 1) s.sleep_for(10'000);
  s.stop();
}

int run_programs(const Options& opt) {
  const examples::DemoLaunch& d = examples::kDemo;
  const u32 app_cores = opt.cpus - opt.kernel_cores;
  if (opt.policy == sched::Policy::dedicated && app_cores < d.app_cores) {
    std::fprintf(stderr,
                 "platypos-sim: the programs scenario needs %u app cores, one per process (--cpus %u --kernel-cores %u "
                 "leaves %u)\nRun with --help for more information.\n",
                 d.app_cores, opt.cpus, opt.kernel_cores, app_cores);
    return 2;
  }
  if (opt.kernel_cores > ring::Runtime::kMaxServers) {
    std::fprintf(stderr, "platypos-sim: at most %u kernel cores (one ring server each)\n", ring::Runtime::kMaxServers);
    return 2;
  }
  World w;
  w.opt = &opt;
  w.args = "seed=" + std::to_string(opt.seed);
  if (!opt.program_args.empty()) w.args += " " + opt.program_args;
  if (w.args.size() >= abi::kMaxProgramArgs) {
    std::fprintf(stderr, "platypos-sim: --program-args: at most %u characters\n", abi::kMaxProgramArgs - 12);
    return 2;
  }
  std::printf(
      "platypos-sim: scenario programs, mode %s, policy %s, %u cpus (%u kernel cores, one ring server each), "
      "seed %" PRIu64 "\n",
      mode_name(opt.mode), sched::policy_name(opt.policy), opt.cpus, opt.kernel_cores, opt.seed);
  std::printf("launch: %.*s %s (it spawns %u processes; their output is the kernel console on stderr)\n",
              static_cast<int>(d.program.size()), d.program.data(), w.args.c_str(), d.app_cores - 1);
  int status = 0;
  ring::Ring::reset_totals();
  run_kernel(
      opt,
      [&](hosted::Kernel& k) {
        w.runtime = std::make_unique<ring::Runtime>(k.scheduler(), ring::linked_programs());
        k.scheduler().create_task(sched::kNoProcess, "supervisor", &supervisor, &w).expect("supervisor");
      },
      [&](hosted::Kernel& k, const RunResult& r) {
        std::printf("\n");
        if (w.launch_error != Error::none) {
          std::printf("demo: not launched: %s\n", error_name(w.launch_error));
          status = 1;
        } else {
          std::printf("demo: exit code %" PRIi64 " (%s)\n", w.exit_code,
                      w.exit_code == 0 ? "every program verified its part" : "FAILED: see the console");
          if (w.exit_code != 0) status = 1;
        }
        const ring::Ring::Stats t = ring::Ring::totals();
        const double ops = t.submitted == 0 ? 1.0 : static_cast<double>(t.submitted);
        std::printf("rings: %" PRIu64 " entries submitted, %" PRIu64 " completed, %" PRIu64 " parked, %" PRIu64
                    " rejected; %" PRIu64 " doorbells (%.4f per entry), %" PRIu64 " blocking waits (%.4f per entry)\n",
                    t.submitted, t.completed, t.parked, t.rejected, t.doorbells, static_cast<double>(t.doorbells) / ops,
                    t.waits, static_cast<double>(t.waits) / ops);
        w.runtime.reset();
        // Processes came and went during the run: the owner column says only which cores were the kernel's.
        std::vector<std::string> owners(opt.cpus, "-");
        for (u32 c = 0; c < opt.kernel_cores && c < opt.cpus; ++c) owners[c] = "kernel";
        print_cpu_table(k, opt, owners, w.end_ns);
        if (!check_no_leaks(k, true)) status = 1;
        if (r.stuck) status = 1;
        print_run_footer(opt, r, w.end_ns);
      });
  return status;
}

}  // namespace

int run_programs_scenario(const Options& opt) { return run_programs(opt); }

}  // namespace platypos::simtool
