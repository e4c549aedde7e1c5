#include "explore.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

extern char** environ;

namespace platypos::simtool {
namespace {

using Clock = std::chrono::steady_clock;

struct Child {
  u64 seed = 0;
  Clock::time_point started;
  std::string log;
};

std::string self_exe() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "platypos-sim";
  buf[n] = '\0';
  return buf;
}

// What went wrong, from a failing seed's output: its verdict lines (failed checks, panics, sanitizer reports), or
// the last lines when there are none.
std::string problems(const std::string& path, usize max_lines) {
  static const char* const kMarks[] = {
      "KERNEL PANIC", "INVARIANT:", "LEAK:", "STUCK:", "fatal:", "Sanitizer", "runtime error:", "faults:"};
  std::ifstream in(path);
  std::vector<std::string> all, marked;
  for (std::string l; std::getline(in, l);) {
    for (const char* m : kMarks) {
      if (l.find(m) != std::string::npos) {
        if (marked.size() < max_lines) marked.push_back(l);
        break;
      }
    }
    all.push_back(std::move(l));
  }
  // Only the plan ("faults: ...") matched: nothing specific was said; show the end instead.
  if (marked.size() <= 1) {
    marked.clear();
    for (usize i = all.size() > max_lines ? all.size() - max_lines : 0; i < all.size(); ++i) marked.push_back(all[i]);
  }
  std::string out;
  for (const std::string& l : marked) out += "    " + l + "\n";
  return out;
}

std::string status_text(int status, bool timed_out, u64 timeout_s) {
  if (timed_out) return "did not finish in " + std::to_string(timeout_s) + " s (killed)";
  if (WIFEXITED(status)) {
    const int code = WEXITSTATUS(status);
    if (code == 1) return "an invariant or leak check failed (exit status 1)";
    if (code == 70) return "kernel panic (exit status 70)";
    return "exit status " + std::to_string(code);
  }
  if (WIFSIGNALED(status)) return std::string("crashed: ") + strsignal(WTERMSIG(status));
  return "unknown status";
}

void progress(u64 done, u64 total, u64 failed, double seconds, bool tty) {
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  if (tty) {
    constexpr int kWidth = 30;
    const int filled = total == 0 ? kWidth : static_cast<int>(kWidth * done / total);
    std::fprintf(stderr, "\rexplore: [%.*s%*s] %" PRIu64 "/%" PRIu64 " seeds, %" PRIu64 " failed, %.1f seeds/s ",
                 filled, "##############################", kWidth - filled, "", done, total, failed, rate);
    if (done == total) std::fprintf(stderr, "\n");
  } else {
    std::fprintf(stderr, "explore: %" PRIu64 "/%" PRIu64 " seeds, %" PRIu64 " failed, %.1f seeds/s\n", done, total,
                 failed, rate);
  }
}

}  // namespace

int explore(const ExploreOptions& opt, const std::vector<std::string>& child_args) {
  std::string dir = opt.log_dir;
  if (dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/platypos-explore-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      std::fprintf(stderr, "platypos-sim: --explore: cannot create a log directory: %s\n", std::strerror(errno));
      return 2;
    }
    dir = pattern;
  } else if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    std::fprintf(stderr, "platypos-sim: --explore-logs %s: %s\n", dir.c_str(), std::strerror(errno));
    return 2;
  }
  const std::string exe = self_exe();
  const bool tty = isatty(STDERR_FILENO) != 0;
  const u64 last_seed = opt.first_seed + opt.runs - 1;
  std::printf("explore: %" PRIu64 " seeds (%" PRIu64 "..%" PRIu64
              ") with --faults, %u at a time; logs of failing seeds in %s\n",
              opt.runs, opt.first_seed, last_seed, opt.jobs, dir.c_str());
  std::fflush(stdout);

  const auto t0 = Clock::now();
  std::map<pid_t, Child> running;
  std::map<u64, std::string> failures;  // by seed: what happened
  u64 next = opt.first_seed, done = 0;
  u64 report_every = opt.runs / 20 == 0 ? 1 : opt.runs / 20;
  bool stop = false;

  auto launch = [&](u64 seed) -> bool {
    Child c{.seed = seed, .started = Clock::now(), .log = dir + "/seed-" + std::to_string(seed) + ".log"};
    std::vector<std::string> args = {exe};
    args.insert(args.end(), child_args.begin(), child_args.end());
    args.push_back("--faults");
    args.push_back("--seed");
    args.push_back(std::to_string(seed));
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, c.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      std::fprintf(stderr, "platypos-sim: --explore: cannot start %s: %s\n", exe.c_str(), std::strerror(rc));
      return false;
    }
    running.emplace(pid, std::move(c));
    return true;
  };

  while (!running.empty() || (!stop && next <= last_seed)) {
    while (!stop && next <= last_seed && running.size() < opt.jobs) {
      if (!launch(next)) return 2;
      ++next;
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid == 0) {
      // Nobody finished: enforce the per-seed limit, then wait a little.
      for (auto& [p, c] : running) {
        if (Clock::now() - c.started > std::chrono::seconds(opt.timeout_s)) kill(p, SIGKILL);
      }
      usleep(2000);
      continue;
    }
    if (pid < 0) break;
    auto it = running.find(pid);
    if (it == running.end()) continue;
    Child c = std::move(it->second);
    running.erase(it);
    const bool timed_out = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL &&
                           Clock::now() - c.started > std::chrono::seconds(opt.timeout_s);
    ++done;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      std::remove(c.log.c_str());
    } else {
      failures[c.seed] = status_text(status, timed_out, opt.timeout_s);
      if (!opt.keep_going) stop = true;
    }
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    if (tty || done % report_every == 0 || done == opt.runs || stop)
      progress(done, opt.runs, failures.size(), secs, tty);
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  if (tty && done != opt.runs) std::fprintf(stderr, "\n");
  std::fflush(stderr);

  for (const auto& [seed, what] : failures) {
    const std::string log = dir + "/seed-" + std::to_string(seed) + ".log";
    std::printf("\nFAILED seed %" PRIu64 ": %s\n  replay: %s\n  output: %s, which says:\n%s", seed, what.c_str(),
                opt.replay(seed).c_str(), log.c_str(), problems(log, 10).c_str());
  }
  std::printf("\nexplore: %" PRIu64 " of %" PRIu64 " seeds run, %zu failed%s\n", done, opt.runs, failures.size(),
              failures.empty() || opt.keep_going || done == opt.runs
                  ? ""
                  : " (stopped at the first failure; --keep-going runs them all)");
  std::fflush(stdout);
  std::fprintf(stderr, "explore: %.1f s wall clock, %.2f seeds/s with %u jobs\n", secs,
               secs > 0 ? static_cast<double>(done) / secs : 0.0, opt.jobs);
  if (failures.empty()) rmdir(dir.c_str());  // empty: passing seeds' logs are removed
  return failures.empty() ? 0 : 1;
}

}  // namespace platypos::simtool
