// platypos-loom: runs the loom tests (loom.hpp) under the exploration strategies, prints every failure with an exact
// replay command, and measures how many schedules each planted bug takes to find.
#include "loom.hpp"

#include "strategies.hpp"

#include <platypos/hosted/sim_machine.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>

namespace platypos::loom {

std::vector<Test>& registry() {
  static std::vector<Test> tests;
  return tests;
}

namespace {
std::string g_failure;
}  // namespace

void fail(std::string message) {
  if (!g_failure.empty()) return;
  g_failure = std::move(message);
  on_failure();
}
bool failed() { return !g_failure.empty(); }
// Kept out of line and visible: `just loom-debug` breaks here.
__attribute__((noinline)) void on_failure() { asm volatile(""); }

namespace {

enum class Kind { random, pct, dfs, replay };
const char* kind_name(Kind k) {
  switch (k) {
    case Kind::random: return "random";
    case Kind::pct: return "pct";
    case Kind::dfs: return "dfs";
    case Kind::replay: return "replay";
  }
  return "?";
}

struct Options {
  u32 pct_depth = 3;
  u64 pct_steps = 0;  // 0: estimated from one run
  u32 preemption_bound = 2;
  std::string schedule;  // replay
};

// Forwards to whichever strategy drives the current run (the machine keeps the pointer it was built with).
struct Forward final : SimStrategy {
  SimStrategy* to = nullptr;
  u32 choose(const SimChoice& c) override { return to->choose(c); }
};

struct RunResult {
  bool failed = false;
  std::string failure;
  u64 choices = 0;
};

RunResult run_once(const Test& t, hosted::SimMachine& m, Forward& fwd, SimStrategy& s) {
  fwd.to = &s;
  g_failure.clear();
  std::unique_ptr<Instance> inst = t.make();
  const hosted::SimReport r = m.run([&](CpuId cpu) { inst->run(cpu); });
  if (r.stuck) fail("stuck: " + r.stuck_reason);
  if (!failed()) inst->check();
  RunResult out;
  out.failed = failed();
  out.failure = g_failure;
  out.choices = r.choices;
  g_failure.clear();
  return out;
}

struct Outcome {
  bool found = false;
  u64 schedules = 0;       // schedules run (including the failing one)
  bool exhausted = false;  // dfs: every schedule within the bound ran
  std::string failure;
  std::string replay_args;  // flags of platypos-loom that replay the failing schedule
  std::string debug_args;   // the same for `just loom-debug TEST SEED [flags]`
  u64 pct_steps = 0;
  double seconds = 0;
};

// Estimated decisions per run (PCT's k): one random run.
u64 estimate_steps(const Test& t, hosted::SimMachine& m, Forward& fwd, u64 seed) {
  RandomStrategy s(seed ^ 0x5eedull);
  return std::max<u64>(1, run_once(t, m, fwd, s).choices);
}

Outcome explore(const Test& t, Kind kind, u64 budget, u64 base_seed, const Options& opt) {
  Forward fwd;
  hosted::SimMachine m({.cpus = t.cpus, .seed = 1, .stack_bytes = 128 * 1024, .strategy = &fwd, .max_events = 200'000});
  Outcome o;
  const auto start = std::chrono::steady_clock::now();
  const std::string test_flag = "--test " + t.name;
  if (kind == Kind::random || kind == Kind::pct) {
    if (kind == Kind::pct) o.pct_steps = opt.pct_steps != 0 ? opt.pct_steps : estimate_steps(t, m, fwd, base_seed);
    for (u64 i = 0; i < budget; ++i) {
      const u64 seed = base_seed + i;
      std::optional<RandomStrategy> rs;
      std::optional<PctStrategy> ps;
      SimStrategy* s = nullptr;
      if (kind == Kind::random) {
        s = &rs.emplace(seed);
      } else {
        s = &ps.emplace(seed, t.cpus, opt.pct_depth, o.pct_steps);
      }
      const RunResult r = run_once(t, m, fwd, *s);
      ++o.schedules;
      if (r.failed) {
        o.found = true;
        o.failure = r.failure;
        o.replay_args =
            test_flag + " --strategy " + kind_name(kind) + " --seed " + std::to_string(seed) + " --budget 1";
        o.debug_args = t.name + " " + std::to_string(seed);
        if (kind == Kind::pct) {
          const std::string pct =
              " --pct-depth " + std::to_string(opt.pct_depth) + " --pct-steps " + std::to_string(o.pct_steps);
          o.replay_args += pct;
          o.debug_args += " --strategy pct" + pct;
        }
        break;
      }
    }
  } else if (kind == Kind::dfs) {
    DfsStrategy d(opt.preemption_bound);
    for (;;) {
      if (o.schedules == budget) break;
      d.begin_run();
      const RunResult r = run_once(t, m, fwd, d);
      ++o.schedules;
      if (r.failed) {
        o.found = true;
        o.failure = r.failure;
        o.replay_args = test_flag + " --strategy replay --schedule '" + d.schedule() + "'";
        o.debug_args = t.name + " 0 --strategy replay --schedule '" + d.schedule() + "'";
        break;
      }
      if (!d.advance()) {
        o.exhausted = true;
        break;
      }
    }
  } else {
    ReplayStrategy rp;
    std::string error;
    if (!rp.parse(opt.schedule, &error)) {
      std::fprintf(stderr, "platypos-loom: %s\n", error.c_str());
      std::exit(2);
    }
    const RunResult r = run_once(t, m, fwd, rp);
    o.schedules = 1;
    if (!rp.mismatch().empty()) std::fprintf(stderr, "platypos-loom: replay: %s\n", rp.mismatch().c_str());
    o.found = r.failed;
    o.failure = r.failure;
    o.replay_args = test_flag + " --strategy replay --schedule '" + opt.schedule + "'";
    o.debug_args = t.name + " 0 --strategy replay --schedule '" + opt.schedule + "'";
  }
  o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return o;
}

std::string replay_command(const Outcome& o) { return "build/hosted/tests/loom/platypos-loom " + o.replay_args; }

void print_failure(const Test& t, Kind kind, const Outcome& o) {
  std::printf("  FAILURE %s [%s] after %llu schedule(s): %s\n", t.name.c_str(), kind_name(kind),
              static_cast<unsigned long long>(o.schedules), o.failure.c_str());
  std::printf("    replay: %s\n", replay_command(o).c_str());
  std::printf("    debug:  just loom-debug %s\n", o.debug_args.c_str());
}

std::vector<const Test*> select(const std::string& pattern) {
  std::vector<const Test*> out;
  for (const Test& t : registry())
    if (pattern == "all" || t.name == pattern || t.name.find(pattern) != std::string::npos) out.push_back(&t);
  return out;
}

std::vector<Kind> kinds_of(const std::string& s) {
  if (s == "all") return {Kind::random, Kind::pct, Kind::dfs};
  if (s == "random") return {Kind::random};
  if (s == "pct") return {Kind::pct};
  if (s == "dfs") return {Kind::dfs};
  if (s == "replay") return {Kind::replay};
  std::fprintf(stderr, "platypos-loom: unknown strategy '%s'\n", s.c_str());
  std::exit(2);
}

// The suite: every selected test under every selected strategy. A correct test must pass its whole budget; a
// planted bug must be found within it. Returns the process exit status.
int suite(const std::vector<const Test*>& tests, const std::vector<Kind>& kinds, u64 budget, u64 dfs_budget, u64 seed,
          const Options& opt, bool verbose) {
  int bad = 0;
  std::printf("%-28s %-7s %-10s %10s %9s %10s  %s\n", "test", "strategy", "result", "schedules", "seconds", "sched/s",
              "expected");
  for (const Test* t : tests) {
    for (Kind k : kinds) {
      const Outcome o = explore(*t, k, k == Kind::dfs ? dfs_budget : budget, seed, opt);
      const bool ok = t->planted_bug ? o.found : !o.found;
      const char* result = o.found ? "FOUND" : (o.exhausted ? "exhausted" : "passed");
      std::printf("%-28s %-7s %-10s %10llu %9.3f %10.0f  %s%s\n", t->name.c_str(), kind_name(k), result,
                  static_cast<unsigned long long>(o.schedules), o.seconds, o.schedules / std::max(o.seconds, 1e-9),
                  t->planted_bug ? "bug found" : "no failure", ok ? "" : "   <-- UNEXPECTED");
      if (o.found && (verbose || !ok || k == Kind::replay)) print_failure(*t, k, o);
      if (!ok) ++bad;
    }
  }
  std::printf("loom: %s (%d unexpected)\n", bad == 0 ? "ok" : "FAILED", bad);
  return bad == 0 ? 0 : 1;
}

// For each planted bug and strategy: schedules until found, over `runs` different base seeds (dfs is deterministic:
// one search). Prints median, min, max.
int bench(const std::vector<const Test*>& tests, const std::vector<Kind>& kinds, u64 budget, u64 dfs_budget, u32 runs,
          const Options& opt) {
  std::printf(
      "schedules to find each planted bug: median over %u base seeds (1, 1000001, ...), budget %llu (dfs %llu)\n", runs,
      static_cast<unsigned long long>(budget), static_cast<unsigned long long>(dfs_budget));
  std::printf("%-28s %-7s %8s %8s %8s %6s %10s\n", "test", "strategy", "median", "min", "max", "found", "sched/s");
  int missed = 0;
  for (const Test* t : tests) {
    if (!t->planted_bug) continue;
    for (Kind k : kinds) {
      std::vector<u64> n;
      u32 found = 0;
      u64 total = 0;
      double secs = 0;
      const u32 reps = k == Kind::dfs ? 1 : runs;
      for (u32 r = 0; r < reps; ++r) {
        const Outcome o = explore(*t, k, k == Kind::dfs ? dfs_budget : budget, 1 + u64{r} * 1000000, opt);
        n.push_back(o.found ? o.schedules : ~u64{0});
        found += o.found ? 1 : 0;
        total += o.schedules;
        secs += o.seconds;
      }
      std::sort(n.begin(), n.end());
      const auto show = [](u64 v) { return v == ~u64{0} ? std::string(">budget") : std::to_string(v); };
      std::printf("%-28s %-7s %8s %8s %8s %3u/%-2u %10.0f\n", t->name.c_str(), kind_name(k),
                  show(n[n.size() / 2]).c_str(), show(n.front()).c_str(), show(n.back()).c_str(), found, reps,
                  total / std::max(secs, 1e-9));
      if (found * 2 <= reps) ++missed;
    }
  }
  return missed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace platypos::loom

int main(int argc, char** argv) {
  using namespace platypos::loom;
  CLI::App app{"platypos-loom: schedule exploration of shared kernel structures on the simulator"};
  std::string test = "all";
  std::string strategy = "all";
  unsigned long long budget = 2000;
  unsigned long long dfs_budget = 0;
  unsigned long long seed = 1;
  unsigned bench_runs = 0;
  bool list = false;
  bool verbose = false;
  Options opt;
  app.add_option("--test", test, "Test name, substring, or 'all'");
  app.add_option("--strategy", strategy, "random, pct, dfs, replay or all");
  app.add_option("--budget", budget, "Schedules per test and strategy (random, pct)");
  app.add_option("--dfs-budget", dfs_budget, "Schedules per test for dfs (default: --budget)");
  app.add_option("--seed", seed, "Base seed: schedule i of random/pct uses seed + i");
  app.add_option("--pct-depth", opt.pct_depth, "PCT bug depth d (d - 1 priority change points)");
  app.add_option("--pct-steps", opt.pct_steps, "PCT k: decisions per run (default: measured by one run)");
  app.add_option("--preemption-bound", opt.preemption_bound, "dfs: preemptions per schedule");
  app.add_option("--schedule", opt.schedule, "replay: the schedule string a dfs failure printed");
  app.add_option("--bench", bench_runs, "Measure schedules-to-find for each planted bug over this many base seeds");
  app.add_flag("--list", list, "List the tests");
  app.add_flag("-v,--verbose", verbose, "Print every failure found, expected ones too");
  CLI11_PARSE(app, argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (dfs_budget == 0) dfs_budget = budget;
  if (list) {
    for (const Test& t : registry())
      std::printf("%-28s %u cpus%s  %s\n", t.name.c_str(), t.cpus, t.planted_bug ? ", planted bug" : "",
                  t.what.c_str());
    return 0;
  }
  const auto tests = select(test);
  if (tests.empty()) {
    std::fprintf(stderr, "platypos-loom: no test matches '%s' (--list)\n", test.c_str());
    return 2;
  }
  if (strategy == "replay" && opt.schedule.empty() && !app.count("--schedule")) {
    // An empty schedule is the default one: fine.
  }
  const auto kinds = kinds_of(strategy);
  if (bench_runs > 0) return bench(tests, kinds, budget, dfs_budget, bench_runs, opt);
  return suite(tests, kinds, budget, dfs_budget, seed, opt, verbose);
}
