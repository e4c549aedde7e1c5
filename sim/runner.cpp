#include <platypos/hosted/machine.hpp>
#include <platypos/hosted/trace_session.hpp>
#include <platypos/ring/ring.hpp>

#include <chrono>
#include <cinttypes>
#include <cstdio>

#include "scenario.hpp"

namespace platypos::simtool {

const char* mode_name(Mode m) { return m == Mode::sim ? "sim" : "threads"; }

TraceOptions& trace_options() {
  static TraceOptions options;
  return options;
}

namespace {

hosted::TraceSession* g_trace = nullptr;

trace::Level trace_level(const std::string& name) {
  if (name == "coarse") return trace::Level::coarse;
  if (name == "normal") return trace::Level::normal;
  return trace::Level::fine;
}

// Starts tracing the kernel when --trace was given (before the scenario creates its tasks, so they are all named
// in the trace).
std::unique_ptr<hosted::TraceSession> start_tracing(hosted::Kernel& kernel, const Options& opt) {
  const TraceOptions& t = trace_options();
  if (t.path.empty()) return nullptr;
  auto session = std::make_unique<hosted::TraceSession>(
      kernel,
      hosted::TraceSessionConfig{.path = t.path, .level = trace_level(t.level), .producer = opt.replay_command()});
  g_trace = session.get();
  return session;
}

void finish_tracing(hosted::TraceSession* session, RunResult& result) {
  if (session == nullptr) return;
  g_trace = nullptr;
  const hosted::TraceSession::Summary s = session->finish();
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "trace: %" PRIu64 " records, %" PRIu64 " dropped, %" PRIu64 " bytes in %" PRIu64
                " writes to %s (decode: platypos-trace %s)",
                s.records, s.dropped, s.bytes, s.write_requests, trace_options().path.c_str(),
                trace_options().path.c_str());
  result.trace = buf;
  if (!s.error.empty()) {
    result.trace += "\nTRACE INCOMPLETE: " + s.error;
    trace_options().failed = true;
  }
}

}  // namespace

void stop_tracing() {
  if (g_trace != nullptr) g_trace->request_stop();
}

std::string Options::replay_command() const {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "platypos-sim --scenario %s --mode %s --policy %s --cpus %u --kernel-cores %u --seed %" PRIu64
                " --load %g --duration %s --quantum %s",
                scenario.c_str(), mode_name(mode), sched::policy_name(policy), cpus, kernel_cores, seed, load,
                duration_text.c_str(), quantum_text.c_str());
  std::string cmd = buf;
  if (faults) cmd += " --faults";
  if (!plant.empty()) cmd += " --plant " + plant;
  if (!program_args.empty()) cmd += " --program-args '" + program_args + "'";
  if (scenario == "kv" || scenario == "files") {
    if (server_cores != 1) cmd += " --server-cores " + std::to_string(server_cores);
    if (mode == Mode::sim) {
      char kv[160];
      std::snprintf(kv, sizeof kv, " --kv-clients %u --kv-rate %g --kv-resets %u", kv_clients, kv_rate,
                    kv_resets_per_million);
      cmd += kv;
    } else if (!listen.empty()) {
      cmd += " --listen " + listen;
    }
    if (scenario == "files" && !root.empty()) cmd += " --root " + root;
  }
  // Tracing changes the schedule (recording takes scheduling points): a traced run replays only traced.
  if (!trace_options().path.empty()) return cmd + " --trace FILE --trace-level " + trace_options().level;
  return cmd;
}

void run_kernel(const Options& opt, const std::function<void(hosted::Kernel&)>& setup,
                const std::function<void(hosted::Kernel&, const RunResult&)>& report) {
  const sched::Scheduler::Config cfg{
      .cpus = opt.cpus, .kernel_cores = opt.kernel_cores, .policy = opt.policy, .quantum_ns = opt.quantum_ns};
  RunResult result;
  if (opt.mode == Mode::sim) {
    hosted::SimMachine sim({.cpus = opt.cpus, .seed = opt.seed, .memory_bytes = opt.memory_bytes});
    hosted::Kernel kernel(cfg);
    auto trace = start_tracing(kernel, opt);
    setup(kernel);
    const hosted::SimReport r = sim.run([&](CpuId) { kernel.scheduler().run_cpu(); });
    result.stuck = r.stuck;
    result.stuck_reason = r.stuck_reason;
    result.events = r.events;
    result.cpu_switches = r.cpu_switches;
    result.digest = r.digest;
    finish_tracing(trace.get(), result);
    report(kernel, result);
  } else {
    hosted::Machine machine({.cpus = opt.cpus, .memory_bytes = opt.memory_bytes, .pin_threads = true});
    hosted::Kernel kernel(cfg);
    auto trace = start_tracing(kernel, opt);
    setup(kernel);
    const auto t0 = std::chrono::steady_clock::now();
    machine.run([&](CpuId) { kernel.scheduler().run_cpu(); });
    result.wall_ns = static_cast<u64>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
    finish_tracing(trace.get(), result);
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
  if (!r.trace.empty()) std::printf("%s\n", r.trace.c_str());
  std::printf("seed: %" PRIu64 "\nreplay: %s\n", opt.seed, opt.replay_command().c_str());
}

int finish_report(hosted::Kernel& k, const Options& opt, const RunResult& r, std::vector<std::string>& problems,
                  u64 elapsed_ns) {
  const ring::Ring::Stats t = ring::Ring::totals();
  if (t.submitted != t.completed + t.cancelled || t.lost != 0) {
    problems.push_back("ring entries: " + std::to_string(t.submitted) + " accepted, " + std::to_string(t.completed) +
                       " completed + " + std::to_string(t.cancelled) + " cancelled at exit" +
                       (t.lost != 0 ? " (in-flight counts wrong at exit)" : ""));
  }
  for (const std::string& p : problems) std::printf("INVARIANT: %s\n", p.c_str());
  int status = problems.empty() ? 0 : 1;
  if (!check_no_leaks(k, true)) status = 1;
  if (r.stuck) status = 1;
  print_run_footer(opt, r, elapsed_ns);
  return status;
}

}  // namespace platypos::simtool
