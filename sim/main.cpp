// platypos-sim: runs PlatypOS scenarios on the hosted backend, in the deterministic simulator (default) or with one
// OS thread per simulated CPU. `platypos-sim --help` lists the options, `--list-scenarios` the scenarios.

#include <platypos/abi/limits.hpp>
#include <platypos/base/log.hpp>
#include <platypos/hosted/console.hpp>

#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>

#include "explore.hpp"
#include "scenario.hpp"

namespace {

using platypos::u64;
using platypos::usize;
using namespace platypos::simtool;

// "200ms", "1s", "500us", "750000ns" -> nanoseconds. Returns false on anything else.
bool parse_duration(const std::string& text, u64* out) {
  usize digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 12) return false;
  const u64 v = std::stoull(text.substr(0, digits));
  const std::string unit = text.substr(digits);
  static const std::map<std::string, u64> units = {{"ns", 1}, {"us", 1'000}, {"ms", 1'000'000}, {"s", 1'000'000'000}};
  auto it = units.find(unit);
  if (it == units.end()) return false;
  *out = v * it->second;
  return *out > 0;
}

// argv without the options that only --explore reads (and without --seed: explore gives each run its own).
std::vector<std::string> child_args(int argc, char** argv) {
  static const std::vector<std::string> with_value = {"--explore", "--jobs", "--explore-timeout", "--explore-logs",
                                                      "--seed"};
  static const std::vector<std::string> flags = {"--keep-going", "--faults"};
  std::vector<std::string> out;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    bool drop = false;
    for (const std::string& o : with_value) {
      if (a == o) {
        drop = true;
        ++i;  // and its value
      } else if (a.rfind(o + "=", 0) == 0) {
        drop = true;
      }
    }
    for (const std::string& f : flags) drop = drop || a == f;
    if (!drop) out.push_back(a);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  CLI::App app{
      "platypos-sim: run PlatypOS scenarios on the hosted backend.\n"
      "In sim mode (the default) every simulated CPU is a fiber and time is virtual: the same seed gives the same "
      "output, byte for byte. In threads mode each CPU is an OS thread on the real clock.",
      "platypos-sim"};
  app.option_defaults()->always_capture_default();
  bool list = false;
  std::string mode = "sim", policy = "dedicated";
  app.add_option("--scenario", opt.scenario, "Scenario to run (see --list-scenarios)");
  app.add_flag("--list-scenarios", list, "List the scenarios and exit");
  app.add_option("--cpus", opt.cpus, "Simulated CPUs")->check(CLI::Range(1u, 256u));
  app.add_option("--kernel-cores", opt.kernel_cores, "CPUs reserved for kernel tasks (the first ones)")
      ->check(CLI::Range(1u, 255u));
  app.add_option("--mode", mode, "sim: deterministic fibers, virtual time; threads: OS threads, real time")
      ->check(CLI::IsMember({"sim", "threads"}));
  app.add_option("--policy", policy,
                 "dedicated: processes own their cores, never preempted; timeshare: all cores shared, round-robin")
      ->check(CLI::IsMember({"dedicated", "timeshare"}));
  app.add_option("--listen", opt.listen,
                 "kv and files scenarios: the address the server listens on, IPV4:PORT (port 0: any; default "
                 "127.0.0.1:11311 for kv, 127.0.0.1:8080 for files)");
  app.add_option("--server-cores", opt.server_cores,
                 "kv and files scenarios: app cores the server gets (kv-server serves on all of them; file-server "
                 "on the first); --cpus must leave room for them beside the kernel cores")
      ->check(CLI::Range(1u, 16u));
  app.add_option("--kv-clients", opt.kv_clients, "kv scenario in sim mode: modelled client connections (default 16)")
      ->check(CLI::Range(1u, 1000u));
  app.add_option("--kv-rate", opt.kv_rate, "kv scenario in sim mode: requests per second the clients offer (default 20000)")
      ->check(CLI::Range(1.0, 10'000'000.0));
  app.add_option("--kv-resets", opt.kv_resets_per_million,
                 "kv scenario in sim mode: client connection resets per million requests (default 0)");
  app.add_option("--connections", opt.connections,
                 "kv scenario: connections kv-server holds open at once; beyond, a new one gets memcached's "
                 "'SERVER_ERROR too many open connections' (default 4096)")
      ->check(CLI::Range(1u, 65000u));
  app.add_option("--root", opt.root, "files scenario: the directory file-server serves, read-only (default: .)");
  app.add_option("--kv-memory", opt.kv_memory_bytes,
                 "kv and files scenarios: the server's memory in bytes (kv-server's items get most)")
      ->check(CLI::Range(platypos::abi::kMinProcessMemory, platypos::abi::kMaxProcessMemory));
  app.add_option("--seed", opt.seed, "Seed of the simulated schedule and of the workload");
  app.add_option("--duration", opt.duration_text, "Run length (virtual time in sim mode): e.g. 200ms, 1s, 500us");
  app.add_option("--load", opt.load, "Offered load, as a fraction of each server's capacity")
      ->check(CLI::Range(0.01, 0.99));
  app.add_option("--quantum", opt.quantum_text, "Timeshare time slice: e.g. 4ms");
  app.add_option("--trace", trace_options().path,
                 "Record a trace of the run into FILE (decode with platypos-trace FILE [--format perfetto])")
      ->option_text("FILE");
  app.add_option("--trace-level", trace_options().level, "Trace detail: coarse, normal or fine")
      ->check(CLI::IsMember({"coarse", "normal", "fine"}));
  app.add_option("--program-args", opt.program_args,
                 "programs scenario: extra arguments for the demo program, e.g. 'echo_count=5000 echo_rate=80000'; "
                 "hostile scenario: 'count=N' round trips of the well-behaved pair, 'hostile=N' programs, 'iters=N' "
                 "iterations of each");
  app.add_flag("--faults", opt.faults,
               "Inject seeded faults (programs scenario, sim mode): allocation failures, full queues, delayed "
               "completions, spurious wake-ups, processes killed at random points; then check the invariants");
  app.add_option("--plant", opt.plant,
                 "With --faults: plant a bug the checks must catch (testing the checks themselves): leak-on-kill "
                 "(a kernel object leaked per killed process), stuck-on-kill (a kernel task blocks for good)")
      ->check(CLI::IsMember({"leak-on-kill", "stuck-on-kill"}))
      ->option_text("BUG");
  ExploreOptions ex;
  app.add_option("--explore", ex.runs,
                 "Run N seeds (from --seed on) with --faults, each in a child process; stop at the first failure and "
                 "print its replay command")
      ->option_text("N")
      ->check(CLI::Range(u64{1}, u64{100'000'000}));
  app.add_option("--jobs", ex.jobs, "--explore: seeds run at a time (default: the host's CPUs)")
      ->check(CLI::Range(1u, 256u));
  app.add_flag("--keep-going", ex.keep_going, "--explore: run every seed even after a failure");
  app.add_option("--explore-timeout", ex.timeout_s, "--explore: wall-clock seconds a seed may take before it fails")
      ->check(CLI::Range(u64{1}, u64{86'400}));
  app.add_option("--explore-logs", ex.log_dir,
                 "--explore: directory for the output of failing seeds (default: a new one under $TMPDIR or /tmp)")
      ->option_text("DIR");
  auto* cpus_opt = app.get_option("--cpus");
  app.add_option("--log-level", opt.log_level,
                 "Kernel log level on stderr (default: warn; info for the programs scenario, whose programs print on "
                 "the console)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;  // every usage error: exit code 2
  }
  auto usage = [](const std::string& msg) {
    std::fprintf(stderr, "platypos-sim: %s\nRun with --help for more information.\n", msg.c_str());
    return 2;
  };
  if (list) {
    for (const Scenario& s : scenarios()) std::printf("%-10s %s\n", s.name, s.summary);
    return 0;
  }
  if (!parse_duration(opt.duration_text, &opt.duration_ns)) {
    return usage("--duration: '" + opt.duration_text + "' is not a duration like 200ms, 1s or 500us");
  }
  if (!parse_duration(opt.quantum_text, &opt.quantum_ns)) {
    return usage("--quantum: '" + opt.quantum_text + "' is not a duration like 4ms");
  }
  if (opt.scenario == "programs" && cpus_opt->count() == 0) opt.cpus = 12;
  if ((opt.scenario == "programs" || opt.scenario == "kv" || opt.scenario == "files") && app.get_option("--log-level")->count() == 0) {
    opt.log_level = "info";
  }
  if (opt.kernel_cores >= opt.cpus) {
    return usage("--kernel-cores must leave at least one app core (--cpus " + std::to_string(opt.cpus) + ")");
  }
  opt.mode = mode == "sim" ? Mode::sim : Mode::threads;
  opt.policy = policy == "dedicated" ? platypos::sched::Policy::dedicated : platypos::sched::Policy::timeshare;
  if ((opt.faults || ex.runs > 0) &&
      (opt.mode != Mode::sim || (opt.scenario != "programs" && opt.scenario != "hostile" && opt.scenario != "kv"))) {
    return usage(
        "--faults and --explore need the programs, hostile or kv scenario in sim mode (the injector's "
        "decisions are deterministic only there)");
  }
  if (!opt.plant.empty() && !opt.faults && ex.runs == 0) return usage("--plant needs --faults (or --explore)");
  if (!trace_options().path.empty() && ex.runs > 0) return usage("--explore runs many seeds: it cannot --trace them");
  if (ex.runs > 0) {
    if (app.get_option("--jobs")->count() == 0) {
      const long n = sysconf(_SC_NPROCESSORS_ONLN);
      ex.jobs = n > 0 ? static_cast<unsigned>(n) : 1u;
    }
    ex.first_seed = opt.seed;
    ex.replay = [opt](u64 seed) mutable {
      opt.seed = seed;
      opt.faults = true;
      return opt.replay_command();
    };
    return explore(ex, child_args(argc, argv));
  }

  static const std::map<std::string, spdlog::level::level_enum> levels = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug}, {"info", spdlog::level::info},
      {"warn", spdlog::level::warn},   {"error", spdlog::level::err},   {"off", spdlog::level::off}};
  platypos::hosted::console_logger().set_level(levels.at(opt.log_level));
  static const std::map<std::string, platypos::LogLevel> klevels = {
      {"trace", platypos::LogLevel::trace}, {"debug", platypos::LogLevel::debug}, {"info", platypos::LogLevel::info},
      {"warn", platypos::LogLevel::warn},   {"error", platypos::LogLevel::error}, {"off", platypos::LogLevel::error}};
  platypos::set_log_level(klevels.at(opt.log_level));

  for (const Scenario& s : scenarios()) {
    if (opt.scenario != s.name) continue;
    try {
      const int status = s.run(opt);
      return status == 0 && trace_options().failed ? 1 : status;
    } catch (const std::runtime_error& e) {  // a trace file that cannot be written, io_uring unavailable
      std::fprintf(stderr, "platypos-sim: %s\n", e.what());
      return 2;
    }
  }
  std::string names;
  for (const Scenario& s : scenarios()) names += std::string(names.empty() ? "" : ", ") + s.name;
  return usage("unknown scenario '" + opt.scenario + "' (scenarios: " + names + ")");
}
