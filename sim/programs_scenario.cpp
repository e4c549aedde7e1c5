// The `programs` scenario (platypos-sim's default): the example programs (examples/) running together as processes
// on their dedicated app cores, every system call through their rings, served by ring servers on the kernel cores.
//
// The `demo` program spawns echo-server + echo-client (Poisson load, latency percentiles), a log daemon with its
// apps (write-only log namespaces, records shipped and printed by namespace) and an object store with two clients
// passing opaque references to each other; it waits for them all and exits 0 only if each one verified its part.
// The programs print on the kernel console (stderr); the summary (stdout) adds what the kernel saw: the demo's
// verdict, ring traffic (entries, parked operations, doorbells and blocking waits per operation), the CPUs, and the
// leak check.
//
// With --faults (and under --explore) the run injects seeded faults (sim/faults.hpp): allocation failures, full
// channel queues, a CQ that counts as full, delayed completions, spurious wake-ups, and a chaos task that kills
// processes at random points. The programs may then fail (the demo's verdict is reported, not judged); what must
// hold is checked after the run: nothing leaked, every accepted ring entry completed or cancelled exactly once, the
// handle tables consistent whenever sampled, and no task stuck. Every wait is bounded, and the processes the demo
// leaves behind when it ends (it may have been killed) are killed after a grace period.

#include <platypos/cap/process_object.hpp>
#include <platypos/cap/wait.hpp>
#include <platypos/examples/demo.hpp>
#include <platypos/mm/kernel_heap.hpp>
#include <platypos/ring/ring.hpp>
#include <platypos/runtime/runtime.hpp>

#include <cinttypes>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "faults.hpp"
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
  // --faults
  SimFaults* faults = nullptr;
  bool demo_done = false;
  bool chaos_running = false;
  u32 killed_at_teardown = 0;
  u64 table_checks = 0;
  std::vector<std::string> problems;  // invariant violations seen during the run
};

// Virtual-time bounds of a run with --faults (each far beyond what a healthy run takes: ~40 ms).
constexpr u64 kDemoDeadlineNs = 2'000'000'000;
constexpr u64 kGraceNs = 100'000'000;
constexpr u64 kTeardownNs = 500'000'000;

// What every live process and its rings wait for (a run that did not finish says this next to the verdict).
std::string describe_waiting(World* w) {
  sched::Scheduler& s = sched::scheduler();
  std::string out;
  char buf[256];
  s.for_each_process([&](sched::Process& p) {
    std::snprintf(buf, sizeof buf, "  process %s (%#x), %s:", p.name(), p.id(),
                  p.state() == sched::Process::State::running ? "running" : "exiting");
    out += buf;
    s.for_each_task(p, [&](sched::Task& t) { out += std::string(" task ") + sched::task_state_name(t.state()); });
    out += "\n";
  });
  for (u32 i = 0; i < w->runtime->server_count(); ++i) {
    w->runtime->server(i).for_each_ring([&](const ring::Ring& r) {
      std::snprintf(buf, sizeof buf, "  ring of %#x (server %u): %u in flight, %u not consumed;", r.pid(), i,
                    r.in_flight(), r.unconsumed());
      out += buf;
      r.for_each_waiting(
          [](void* ctx, const ring::Ring::WaitingOp& op) {
            char b[160];
            std::snprintf(b, sizeof b, " %s(h=%#x, waits for signals %#x, has %#x%s%s%s)",
                          abi::op_name(static_cast<abi::Op>(op.opcode)), op.handle, op.wanted, op.signals,
                          op.deadline != 0 ? ", deadline" : "", op.ready ? ", ready" : "",
                          op.delayed ? ", delayed completion" : "");
            *static_cast<std::string*>(ctx) += b;
          },
          &out);
      out += "\n";
    });
  }
  return out;
}

// Checks every live process's handle table (the chaos task, at each of its wake-ups).
void check_tables(World* w) {
  std::vector<std::string> bad;
  w->runtime->processes().for_each_live([&](proc::Process& p) {
    ++w->table_checks;
    if (!p.handles().check_invariants()) bad.push_back(p.name());
  });
  for (const std::string& name : bad) {
    w->problems.push_back("handle table of process " + name + " inconsistent at " + std::to_string(Platform::now_ns()) +
                          " ns");
  }
}

// Kills a random running process every few milliseconds (when this seed's plan has kills), checking the handle
// tables as it goes, until the demo is done.
void chaos(void* arg) {
  auto* w = static_cast<World*>(arg);
  sched::Scheduler& s = sched::scheduler();
  while (!w->demo_done) {
    s.sleep_for(w->faults->kills_enabled() ? w->faults->next_kill_gap_ns() : 1'000'000);
    if (w->demo_done) break;
    check_tables(w);
    if (!w->faults->kills_enabled()) continue;
    std::vector<sched::ProcessId> running;
    s.for_each_process([&](sched::Process& p) {
      if (p.state() == sched::Process::State::running) running.push_back(p.id());
    });
    if (running.empty()) continue;
    if (s.exit_process(running[w->faults->pick(running.size())], -9).has_value()) {
      w->faults->count_kill();
      // Planted bugs (--plant): the checks after the run must catch them, and --explore must report the seed.
      if (w->opt->plant == "leak-on-kill") (void)kernel_heap().alloc(64, 16);
      if (w->opt->plant == "stuck-on-kill") {
        w->chaos_running = false;
        for (;;) s.block();  // nobody wakes it
      }
    }
  }
  w->chaos_running = false;
}

u32 live_processes() {
  u32 n = 0;
  sched::scheduler().for_each_process([&](sched::Process&) { ++n; });
  return n;
}

// --faults: after the demo, the processes it left are given a grace period, then killed; every wait is bounded.
void teardown_with_faults(World* w) {
  sched::Scheduler& s = sched::scheduler();
  w->demo_done = true;
  if (!wait_until([] { return live_processes() == 0; }, Platform::now_ns() + kGraceNs)) {
    std::vector<sched::ProcessId> left;
    s.for_each_process([&](sched::Process& p) {
      if (p.state() == sched::Process::State::running) left.push_back(p.id());
    });
    for (sched::ProcessId pid : left)
      if (s.exit_process(pid, -9).has_value()) ++w->killed_at_teardown;
  }
  if (!wait_until([] { return live_processes() == 0 && ring::Ring::live_rings() == 0; },
                  Platform::now_ns() + kTeardownNs)) {
    w->problems.push_back(std::to_string(live_processes()) + " processes and " +
                          std::to_string(ring::Ring::live_rings()) + " rings still there " +
                          std::to_string(kTeardownNs / 1'000'000) + " ms after they were killed");
  }
  (void)wait_until([w] { return !w->chaos_running; }, Platform::now_ns() + kTeardownNs);
  w->faults->disarm();
}

void supervisor(void* arg) {
  auto* w = static_cast<World*>(arg);
  sched::Scheduler& s = sched::scheduler();
  w->runtime->start(w->opt->kernel_cores).expect("ring servers");
  if (w->faults != nullptr) {
    w->faults->arm();
    w->chaos_running = true;
    if (s.create_task(sched::kNoProcess, "chaos", &chaos, w).is_error()) w->chaos_running = false;
  }
  const examples::DemoLaunch& d = examples::kDemo;
  auto demo =
      w->runtime->launch({.program = d.program, .cores = d.cores, .memory_bytes = d.memory_bytes, .args = w->args}, {});
  if (demo.is_error()) {
    w->launch_error = demo.error();
  } else {
    const u64 deadline = w->faults != nullptr ? Platform::now_ns() + kDemoDeadlineNs : 0;
    if (cap::wait_signals(**demo, cap::kSignalExited, deadline).is_error()) {
      w->problems.push_back("the demo did not finish in " + std::to_string(kDemoDeadlineNs / 1'000'000) +
                            " ms of virtual time (a program waits forever); waiting then:\n" + describe_waiting(w));
      (void)s.exit_process((*demo)->pid(), -9);
      (void)cap::wait_signals(**demo, cap::kSignalExited, 0);
    }
    w->exit_code = (*demo)->exit_code();
    demo->reset();
  }
  if (w->faults != nullptr) teardown_with_faults(w);
  // The servers retire the rings of exited processes, then end after a last pass (and the trace drain worker, with
  // --trace): wait for them, then stop.
  (void)w->runtime->shutdown();
  w->end_ns = Platform::now_ns();
  stop_tracing();
  if (w->faults == nullptr) {
    while (s.live_tasks() > 1) s.sleep_for(10'000);
  } else if (!wait_until([&s] { return s.live_tasks() <= 1; }, Platform::now_ns() + kTeardownNs)) {
    std::string names;
    s.for_each_kernel_task([&](sched::Task& t) {
      if (&t != s.current()) names += std::string(names.empty() ? "" : ", ") + t.name();
    });
    w->problems.push_back("kernel tasks stuck (" + std::to_string(kTeardownNs / 1'000'000) +
                          " ms after everything else ended): " + names);
  }
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
  std::unique_ptr<SimFaults> faults;
  if (opt.faults) {
    faults = std::make_unique<SimFaults>(opt.seed);
    w.faults = faults.get();
    std::printf("faults: %s\n", faults->plan().c_str());
  }
  int status = 0;
  ring::Ring::reset_totals();
  run_kernel(
      opt,
      [&](hosted::Kernel& k) {
        w.runtime = std::make_unique<ring::Runtime>(k.processes(), ring::linked_programs());
        k.scheduler().create_task(sched::kNoProcess, "supervisor", &supervisor, &w).expect("supervisor");
      },
      [&](hosted::Kernel& k, const RunResult& r) {
        std::printf("\n");
        // Under --faults the programs may fail (that is what faults do): their verdict is reported, not judged.
        const bool judge = !opt.faults;
        if (w.launch_error != Error::none) {
          std::printf("demo: not launched: %s\n", error_name(w.launch_error));
          if (judge) status = 1;
        } else {
          std::printf("demo: exit code %" PRIi64 " (%s)\n", w.exit_code,
                      w.exit_code == 0 ? "every program verified its part"
                      : judge          ? "FAILED: see the console"
                                       : "faults injected: see the console");
          if (judge && w.exit_code != 0) status = 1;
        }
        if (faults) {
          std::printf("faults fired: %s; %u processes killed at teardown; %" PRIu64 " handle-table checks\n",
                      faults->fired().c_str(), w.killed_at_teardown, w.table_checks);
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
        if (finish_report(k, opt, r, w.problems, w.end_ns) != 0) status = 1;
      });
  return status;
}

}  // namespace

int run_programs_scenario(const Options& opt) { return run_programs(opt); }

}  // namespace platypos::simtool
