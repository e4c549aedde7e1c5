#include <platypos/hosted/machine.hpp>

#include <chrono>
#include <cinttypes>
#include <cstdio>

#include "scenario.hpp"

namespace platypos::simtool {

const char* mode_name(Mode m) { return m == Mode::sim ? "sim" : "threads"; }

std::string Options::replay_command() const {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "platypos-sim --scenario %s --mode %s --policy %s --cpus %u --kernel-cores %u --seed %" PRIu64
                " --load %g --duration %s --quantum %s",
                scenario.c_str(), mode_name(mode), sched::policy_name(policy), cpus, kernel_cores, seed, load,
                duration_text.c_str(), quantum_text.c_str());
  return buf;
}

void run_kernel(const Options& opt, const std::function<void(hosted::Kernel&)>& setup,
                const std::function<void(hosted::Kernel&, const RunResult&)>& report) {
  const sched::Scheduler::Config cfg{
      .cpus = opt.cpus, .kernel_cores = opt.kernel_cores, .policy = opt.policy, .quantum_ns = opt.quantum_ns};
  RunResult result;
  if (opt.mode == Mode::sim) {
    hosted::SimMachine sim({.cpus = opt.cpus, .seed = opt.seed, .memory_bytes = opt.memory_bytes});
    hosted::Kernel kernel(cfg);
    setup(kernel);
    const hosted::SimReport r = sim.run([&](CpuId) { kernel.scheduler().run_cpu(); });
    result.stuck = r.stuck;
    result.stuck_reason = r.stuck_reason;
    result.events = r.events;
    result.cpu_switches = r.cpu_switches;
    result.digest = r.digest;
    report(kernel, result);
  } else {
    hosted::Machine machine({.cpus = opt.cpus, .memory_bytes = opt.memory_bytes, .pin_threads = true});
    hosted::Kernel kernel(cfg);
    setup(kernel);
    const auto t0 = std::chrono::steady_clock::now();
    machine.run([&](CpuId) { kernel.scheduler().run_cpu(); });
    result.wall_ns = static_cast<u64>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
    report(kernel, result);
  }
}

std::vector<std::string> cpu_owners(hosted::Kernel& k, const Options& opt) {
  sched::Scheduler& s = k.scheduler();
  std::vector<std::string> owners(opt.cpus);
  for (CpuId c = 0; c < opt.cpus; ++c) {
    if (opt.policy == sched::Policy::timeshare) {
      owners[c] = "shared";
    } else if (s.role(c) == sched::CoreRole::kernel) {
      owners[c] = "kernel";
    } else if (sched::Process* p = s.find_process(s.owner(c))) {
      owners[c] = p->name();
    } else {
      owners[c] = "free";
    }
  }
  return owners;
}

void print_cpu_table(hosted::Kernel& k, const Options& opt, const std::vector<std::string>& owners, u64 elapsed_ns) {
  // Utilization over the whole run (start to the scheduler's stop): idle time is counted until each CPU stops.
  sched::Scheduler& s = k.scheduler();
  std::printf("\n%-4s %-11s %-10s %7s %10s %12s %10s\n", "cpu", "role", "owner", "util%", "switches", "preemptions",
              "timer irqs");
  for (CpuId c = 0; c < opt.cpus; ++c) {
    const auto& st = s.cpu_stats(c);
    const double util =
        elapsed_ns == 0 ? 0.0 : 100.0 * (1.0 - static_cast<double>(st.idle_ns) / static_cast<double>(elapsed_ns));
    const char* role = c < opt.kernel_cores ? "kernel" : "app";
    std::printf("%-4u %-11s %-10s %7.1f %10" PRIu64 " %12" PRIu64 " %10" PRIu64 "\n", c, role, owners[c].c_str(),
                util < 0 ? 0 : util, st.switches, st.preemptions, st.timer_irqs);
  }
}

bool check_no_leaks(hosted::Kernel& k, bool print) {
  bool ok = true;
  sched::Scheduler& s = k.scheduler();
  u32 left = 0;
  s.for_each_process([&](sched::Process&) { ++left; });
  if (left != 0 || s.live_tasks() != 0) {
    std::printf("LEAK: %u processes and %" PRIu64 " tasks left\n", left, s.live_tasks());
    ok = false;
  }
  k.reclaim();
  const u64 now_free = k.pages().free_pages();
  if (now_free != k.boot_free_pages()) {
    std::printf("LEAK: %" PRIu64 " of %" PRIu64 " pages not returned\n", k.boot_free_pages() - now_free,
                k.boot_free_pages());
    ok = false;
  }
  if (k.heap().live_objects() != 0) {
    std::printf("LEAK: %" PRIu64 " kernel heap objects live\n", k.heap().live_objects());
    ok = false;
  }
  if (!k.pages().check_invariants()) ok = false;
  if (ok && print)
    std::printf("memory: every page returned (%" PRIu64 " free, as at boot), no kernel object left\n", now_free);
  return ok;
}

void print_run_footer(const Options& opt, const RunResult& r, u64 elapsed_ns) {
  if (opt.mode == Mode::sim) {
    std::printf("simulation: %" PRIu64 " scheduling events, %" PRIu64
                " cpu switches, %.3f ms virtual, digest %016" PRIx64 "\n",
                r.events, r.cpu_switches, static_cast<double>(elapsed_ns) / 1e6, r.digest);
  } else {
    std::printf("threads mode: %.3f ms wall clock\n", static_cast<double>(r.wall_ns) / 1e6);
  }
  if (r.stuck) std::printf("STUCK: %s\n", r.stuck_reason.c_str());
  std::printf("seed: %" PRIu64 "\nreplay: %s\n", opt.seed, opt.replay_command().c_str());
}

}  // namespace platypos::simtool
