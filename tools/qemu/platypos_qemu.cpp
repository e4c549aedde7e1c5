// platypos_qemu: boots the PlatypOS kernel in QEMU, streams its serial console, and reports how the run ended.
//
//   platypos_qemu [options] KERNEL.elf
//
// QEMU runs with -kernel KERNEL -serial stdio -display none -no-reboot and the isa-debug-exit device, so the kernel
// ends the run with a status (Platform::shutdown). The runner
//   - prints the serial output line by line, naming every address of a backtrace (and every `rip 0x...`) from the
//     kernel ELF's symbol table, since the kernel carries none;
//   - enforces a timeout (kills QEMU and says which ktest was running);
//   - exits with a status that says how the run ended (below): 0 only when the kernel reported success.
//   - with --debug, starts the machine halted with a gdbstub on a free port and runs gdb with tools/gdb/gdbinit in
//     the foreground (or, with --gdb-batch, a gdb command file in batch mode, for tests).
//   - with --trace FILE, connects a second serial port (COM2) to FILE and adds `trace` to the kernel command line:
//     the kernel runs its traced workload and streams the trace there (decode with platypos-trace FILE).
//
// Exit status (0, 1 and 70 mean the same as for the hosted ktest binary):
//     0  the kernel shut down with success (QEMU exit 33)
//     1  the kernel shut down with failure (QEMU exit 35)
//    70  the kernel panicked (QEMU exit 37)
//    71  the machine reset itself, i.e. a triple fault (QEMU exit 0 with -no-reboot)
//    72  the boot stub could not start the kernel (QEMU exit 39)
//   124  timeout
//   125  QEMU could not run, or exited with an unknown status
//     2  bad usage
// In --debug mode the status is gdb's (or 124 on timeout).

#include <elf_symbols.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#ifndef PLATYPOS_SOURCE_DIR
#error "PLATYPOS_SOURCE_DIR must point at the source tree (tools/qemu/CMakeLists.txt)"
#endif

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kExitSuccess = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitPanic = 70;
constexpr int kExitReset = 71;
constexpr int kExitBootFailure = 72;
constexpr int kExitTimeout = 124;
constexpr int kExitQemuError = 125;

struct Options {
  std::string kernel;
  std::string memory = "128M";
  unsigned cpus = 1;
  std::string append;
  std::vector<std::string> examples;  // --example: sets of example programs (the kernel's run=...)
  std::optional<double> timeout_s;
  std::string machine = "pc";
  std::string qemu = "qemu-system-x86_64";
  std::vector<std::string> qemu_args;
  bool icount = false;  // --icount: QEMU's -icount shift=0 (virtual time counts instructions)
  bool timestamps = false;
  bool symbolize = true;
  bool print_command = false;
  bool debug = false;
  unsigned gdb_port = 0;
  std::string gdb = "gdb";
  std::string gdbinit = PLATYPOS_SOURCE_DIR "/tools/gdb/gdbinit";
  std::string gdb_batch;
  std::string trace;
};

[[gnu::format(printf, 1, 2)]] void say(const char* fmt, ...) {
  std::va_list args;
  va_start(args, fmt);
  std::fprintf(stderr, "platypos_qemu: ");
  std::vfprintf(stderr, fmt, args);
  std::fputc('\n', stderr);
  va_end(args);
}

// ---- signals: a terminated runner must not leave QEMU behind --------------------------------------------------------

volatile sig_atomic_t g_signal = 0;
int g_signal_pipe[2] = {-1, -1};

void on_signal(int sig) {
  g_signal = sig;
  const char c = 0;
  [[maybe_unused]] ssize_t n = write(g_signal_pipe[1], &c, 1);
}

void install_signal_handlers(bool debug) {
  if (pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    say("pipe: %s", std::strerror(errno));
    std::exit(kExitQemuError);
  }
  struct sigaction sa {};
  sa.sa_handler = &on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
  if (debug) {
    // Ctrl-C belongs to gdb (it interrupts the target); QEMU has its own process group and never sees it.
    signal(SIGINT, SIG_IGN);
  } else {
    sigaction(SIGINT, &sa, nullptr);
  }
}

// ---- child processes -----------------------------------------------------------------------------------------------

struct Child {
  pid_t pid = -1;
  int out = -1;  // read end of its stdout (QEMU's serial console, a batch gdb's output), or -1
};

// Starts argv. own_group: in a new process group (the terminal's Ctrl-C does not reach it). capture: stdout into a
// pipe, stdin from /dev/null.
Child spawn(const std::vector<std::string>& argv, bool own_group, bool capture) {
  int pipefd[2] = {-1, -1};
  if (capture && pipe2(pipefd, O_CLOEXEC) != 0) {
    say("pipe: %s", std::strerror(errno));
    std::exit(kExitQemuError);
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    say("fork: %s", std::strerror(errno));
    std::exit(kExitQemuError);
  }
  if (pid == 0) {
    if (own_group) setpgid(0, 0);
    // Dies with the runner, even if the runner is SIGKILLed (ctest's timeout).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    if (capture) {
      dup2(pipefd[1], STDOUT_FILENO);
      const int null_fd = open("/dev/null", O_RDONLY);
      if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    }
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::fprintf(stderr, "platypos_qemu: cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  if (capture) close(pipefd[1]);
  return Child{pid, capture ? pipefd[0] : -1};
}

// Kills a child (and its process group) and reaps it; returns its wait status.
int kill_and_reap(pid_t pid) {
  kill(-pid, SIGTERM);
  kill(pid, SIGTERM);
  for (int i = 0; i < 40; ++i) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return status;
    usleep(50'000);
  }
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

// A free TCP port on 127.0.0.1 for the gdbstub (or `port` itself, checked to be free). QEMU binds it a moment later:
// another process could take it in between, in which case QEMU fails to start and says so. (Handing QEMU the
// listening socket itself, `-chardev socket,fd=N`, closes that gap but makes gdb's first packets wait a second or
// two: gdb connects before QEMU's gdbstub reads them.)
bool find_gdb_port(unsigned port, unsigned* free_port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  socklen_t len = sizeof addr;
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  close(fd);
  if (ok) *free_port = ntohs(addr.sin_port);
  return ok;
}

// ---- the serial console --------------------------------------------------------------------------------------------

class Console {
 public:
  Console(const Options& opt, Clock::time_point start) : opt_(opt), start_(start) {
    if (!opt.symbolize) return;
    std::string error;
    symbols_ = platypos::tools::ElfSymbols::load(opt.kernel, &error);
    if (!symbols_) say("no symbols, backtraces stay numeric: %s", error.c_str());
  }

  // Feeds raw serial bytes; complete lines are printed.
  void feed(const char* data, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      if (data[i] == '\r') continue;
      if (data[i] == '\n') {
        emit(pending_);
        pending_.clear();
      } else {
        pending_ += data[i];
      }
    }
  }

  void flush() {
    if (!pending_.empty()) emit(pending_);
    pending_.clear();
  }

  const std::string& running_test() const { return running_test_; }

 private:
  void emit(const std::string& raw) {
    const std::string line = symbolize(raw);
    track_tests(line);
    if (opt_.timestamps) {
      const double t = std::chrono::duration<double>(Clock::now() - start_).count();
      std::printf("[%8.3f] %s\n", t, line.c_str());
    } else {
      std::printf("%s\n", line.c_str());
    }
    std::fflush(stdout);
  }

  void track_tests(const std::string& line) {
    static constexpr std::string_view kRun = "[ RUN      ] ";
    if (line.starts_with(kRun)) {
      running_test_ = line.substr(kRun.size(), line.find(' ', kRun.size()) - kRun.size());
    } else if (line.starts_with("[       OK ] ") || line.starts_with("[  FAILED  ] ")) {
      running_test_.clear();
    }
  }

  // 16 hex digits at `pos` as an address, or nullopt.
  static std::optional<uint64_t> address_at(const std::string& s, size_t pos) {
    if (pos + 16 > s.size()) return std::nullopt;
    uint64_t v = 0;
    for (size_t i = pos; i < pos + 16; ++i) {
      const char c = s[i];
      const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (d < 0) return std::nullopt;
      v = v << 4 | static_cast<uint64_t>(d);
    }
    return v;
  }

  std::string describe(uint64_t addr, bool return_address) const {
    // A return address points after the call: look up the byte before it, which is inside the calling function.
    const auto* sym = symbols_->lookup(return_address ? addr - 1 : addr);
    if (sym == nullptr) return "";
    char off[32];
    std::snprintf(off, sizeof off, "+%#llx", static_cast<unsigned long long>(addr - sym->addr));
    return sym->name + off;
  }

  // "  #3  0xffffffff80104d31"    -> "  #3  0xffffffff80104d31 crash_panic_outer()+0x9"   (a return address)
  // "rip 0xffffffff80104be9"      -> "rip 0xffffffff80104be9 <crash_page_fault()+0x5>"   (an instruction)
  // "stack top 0xffffffff8010..." -> "stack top 0xffffffff8010... <caller()+0x9>"       (a return address)
  // (Parsed by hand: std::regex is slow, and GCC 12 warns inside it under the sanitizers.)
  std::string symbolize(const std::string& line) const {
    if (!symbols_) return line;
    // A backtrace frame: an optional level tag ("[error] "), spaces, '#', digits, spaces, 0x + 16 hex digits,
    // nothing else.
    size_t i = 0;
    if (line.starts_with('[')) {
      const size_t close = line.find("] ");
      if (close != std::string::npos && close < 8) i = close + 2;
    }
    i = line.find_first_not_of(' ', i);
    if (i != std::string::npos && line[i] == '#') {
      size_t j = line.find_first_not_of("0123456789", i + 1);
      if (j != std::string::npos && j > i + 1 && line[j] == ' ') {
        j = line.find_first_not_of(' ', j);
        const auto addr =
            j != std::string::npos && line.compare(j, 2, "0x") == 0 ? address_at(line, j + 2) : std::nullopt;
        if (addr && line.find_first_not_of(' ', j + 18) == std::string::npos) {
          const std::string name = describe(*addr, true);
          return name.empty() ? line : line.substr(0, j + 18) + " " + name;
        }
      }
    }
    static constexpr std::string_view kRip = "rip 0x";             // an instruction address
    static constexpr std::string_view kStackTop = "stack top 0x";  // a return address
    std::string out;
    size_t copied = 0;
    for (size_t from = 0;;) {
      const size_t rip = line.find(kRip, from);
      const size_t top = line.find(kStackTop, from);
      const size_t at = std::min(rip, top);
      if (at == std::string::npos) break;
      const bool return_address = at == top;
      const size_t digits = at + (return_address ? kStackTop : kRip).size();
      from = digits;
      const auto addr = address_at(line, digits);
      if (!addr) continue;
      const std::string name = describe(*addr, return_address);
      if (name.empty()) continue;
      out.append(line, copied, digits + 16 - copied);
      out += " <" + name + ">";
      copied = digits + 16;
      from = copied;
    }
    out.append(line, copied, std::string::npos);
    return out;
  }

  const Options& opt_;
  Clock::time_point start_;
  std::optional<platypos::tools::ElfSymbols> symbols_;
  std::string pending_;
  std::string running_test_;
};

// ---- one run -------------------------------------------------------------------------------------------------------

std::vector<std::string> qemu_command(const Options& opt, unsigned gdb_port) {
  std::vector<std::string> cmd = {opt.qemu, "-machine", opt.machine, "-m", opt.memory, "-smp", std::to_string(opt.cpus),
                                  "-kernel", opt.kernel, "-serial", "stdio", "-display", "none", "-monitor", "none",
                                  // No VGA and no network card: their option ROMs only slow down the firmware.
                                  "-vga", "none", "-net", "none", "-no-reboot", "-device",
                                  "isa-debug-exit,iobase=0xf4,iosize=0x04"};
  if (!opt.trace.empty()) {
    // The second -serial is COM2: the trace stream, byte for byte, beside the console on COM1.
    const auto console = std::find(cmd.begin(), cmd.end(), "stdio");
    cmd.insert(console + 1, {"-serial", "file:" + opt.trace});
  }
  std::string append = opt.append;
  if (!opt.trace.empty() && (" " + append + " ").find(" trace ") == std::string::npos) {
    append += append.empty() ? "trace" : " trace";
  }
  if (!append.empty()) {
    cmd.push_back("-append");
    cmd.push_back(append);
  }
  if (gdb_port != 0) {
    cmd.push_back("-gdb");
    cmd.push_back("tcp:127.0.0.1:" + std::to_string(gdb_port));
    cmd.push_back("-S");
  }
  if (opt.icount) {
    cmd.push_back("-icount");
    cmd.push_back("shift=0");
  }
  cmd.insert(cmd.end(), opt.qemu_args.begin(), opt.qemu_args.end());
  return cmd;
}

std::vector<std::string> gdb_command(const Options& opt, unsigned port) {
  std::vector<std::string> cmd = {opt.gdb, "-q"};
  if (!opt.gdb_batch.empty()) {
    cmd.push_back("-batch");
    cmd.push_back("-nx");  // a test must not depend on the user's ~/.gdbinit
  }
  cmd.insert(cmd.end(),
             {"-ex", "set $platypos_port = " + std::to_string(port), "-d", PLATYPOS_SOURCE_DIR, "-x", opt.gdbinit});
  if (!opt.gdb_batch.empty()) cmd.insert(cmd.end(), {"-x", opt.gdb_batch});
  cmd.push_back(opt.kernel);
  return cmd;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& a : v) {
    if (!s.empty()) s += ' ';
    s += a.find_first_of(" ,$") == std::string::npos ? a : "'" + a + "'";
  }
  return s;
}

int status_of_qemu_exit(int code) {
  switch (code) {
    case 33: return kExitSuccess;
    case 35: return kExitFailure;
    case 37: return kExitPanic;
    case 39: return kExitBootFailure;
    case 0: return kExitReset;
    default: return kExitQemuError;
  }
}

const char* describe_outcome(int status) {
  switch (status) {
    case kExitSuccess: return "the kernel shut down with success";
    case kExitFailure: return "the kernel shut down with failure";
    case kExitPanic: return "the kernel panicked";
    case kExitBootFailure: return "the boot stub could not start the kernel";
    case kExitReset: return "the machine reset itself (triple fault?): not a pass";
    default: return "QEMU failed or exited with an unknown status";
  }
}

int run(const Options& opt) {
  install_signal_handlers(opt.debug);
  unsigned port = 0;
  if (opt.debug && !find_gdb_port(opt.gdb_port, &port)) {
    say("no free port for the gdbstub (asked for %u): %s", opt.gdb_port, std::strerror(errno));
    return kExitQemuError;
  }
  const std::vector<std::string> qemu_cmd = qemu_command(opt, port);
  if (opt.print_command) say("%s", join(qemu_cmd).c_str());

  const Clock::time_point start = Clock::now();
  const double timeout = opt.timeout_s.value_or(opt.debug ? 0.0 : 60.0);
  const bool has_deadline = timeout > 0;
  const Clock::time_point deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout));

  Console console(opt, start);
  const Child qemu = spawn(qemu_cmd, true, true);
  Child gdb;
  if (opt.debug) {
    // gdb retries while QEMU is not listening yet (its `tcp auto-retry`, 15 s by default).
    const std::vector<std::string> gdb_cmd = gdb_command(opt, port);
    say("gdbstub on 127.0.0.1:%u; starting %s", port, join(gdb_cmd).c_str());
    // Batch gdb (tests) writes through a pipe too, so its lines and the console's never interleave mid-line; an
    // interactive gdb keeps the terminal.
    gdb = spawn(gdb_cmd, false, !opt.gdb_batch.empty());
  }
  std::string gdb_pending;  // a batch gdb's incomplete last line
  const auto feed_gdb = [&gdb_pending](const char* data, size_t n) {
    gdb_pending.append(data, n);
    const size_t end = gdb_pending.rfind('\n');
    if (end == std::string::npos) return;
    std::fwrite(gdb_pending.data(), 1, end + 1, stdout);
    std::fflush(stdout);
    gdb_pending.erase(0, end + 1);
  };

  bool qemu_running = true;
  int qemu_status = 0;
  bool gdb_running = gdb.pid > 0;
  int gdb_status = 0;
  bool timed_out = false;
  int qemu_out = qemu.out;
  int gdb_out = gdb.out;
  char buf[4096];
  for (;;) {
    if (qemu_running && qemu_out < 0 && waitpid(qemu.pid, &qemu_status, 0) == qemu.pid) qemu_running = false;
    if (gdb_running && waitpid(gdb.pid, &gdb_status, WNOHANG) == gdb.pid) {
      gdb_running = false;
      if (gdb_out >= 0) {
        // Everything gdb wrote before it exited (the write end is closed now: read returns 0 at the end).
        for (ssize_t n; (n = read(gdb_out, buf, sizeof buf)) > 0;) feed_gdb(buf, static_cast<size_t>(n));
      }
    }
    if (!opt.debug && !qemu_running) break;
    if (opt.debug && !gdb_running) break;
    if (g_signal != 0) break;

    int wait_ms = 100;
    if (has_deadline) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        timed_out = true;
        break;
      }
      if (left < wait_ms) wait_ms = static_cast<int>(left);
    }
    pollfd fds[3] = {{qemu_out, POLLIN, 0}, {g_signal_pipe[0], POLLIN, 0}, {gdb_out, POLLIN, 0}};
    if (poll(fds, 3, wait_ms) < 0 && errno != EINTR) {
      say("poll: %s", std::strerror(errno));
      break;
    }
    if (qemu_out >= 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const ssize_t n = read(qemu_out, buf, sizeof buf);
      if (n > 0) {
        console.feed(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(qemu_out);  // QEMU closed its end: it is exiting; reaped at the top of the loop
        qemu_out = -1;
        if (opt.debug && qemu_running && waitpid(qemu.pid, &qemu_status, 0) == qemu.pid) qemu_running = false;
      }
    }
    if (gdb_out >= 0 && (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const ssize_t n = read(gdb_out, buf, sizeof buf);
      if (n > 0) {
        feed_gdb(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(gdb_out);  // gdb is exiting; reaped at the top of the loop
        gdb_out = -1;
      }
    }
  }
  if (qemu_running) {
    qemu_status = kill_and_reap(qemu.pid);
    if (qemu_out >= 0) {
      // Whatever QEMU wrote before it died.
      for (ssize_t n; (n = read(qemu_out, buf, sizeof buf)) > 0;) console.feed(buf, static_cast<size_t>(n));
    }
  }
  if (gdb_running) gdb_status = kill_and_reap(gdb.pid);
  if (gdb_out >= 0) {
    for (ssize_t n; (n = read(gdb_out, buf, sizeof buf)) > 0;) feed_gdb(buf, static_cast<size_t>(n));
    close(gdb_out);
  }
  if (!gdb_pending.empty()) std::printf("%s\n", gdb_pending.c_str());
  console.flush();

  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  if (g_signal != 0) {
    say("interrupted by signal %d after %.2f s; QEMU stopped", static_cast<int>(g_signal), elapsed);
    return 128 + g_signal;
  }
  if (timed_out) {
    if (console.running_test().empty()) {
      say("timeout: no shutdown after %.1f s; QEMU killed", timeout);
    } else {
      say("timeout: no shutdown after %.1f s, while running ktest %s; QEMU killed", timeout,
          console.running_test().c_str());
    }
    return kExitTimeout;
  }
  if (opt.debug) {
    const int status = WIFEXITED(gdb_status) ? WEXITSTATUS(gdb_status) : 128 + WTERMSIG(gdb_status);
    say("gdb exited with status %d after %.2f s; QEMU stopped", status, elapsed);
    return status;
  }
  if (!WIFEXITED(qemu_status)) {
    say("QEMU killed by signal %d after %.2f s", WTERMSIG(qemu_status), elapsed);
    return kExitQemuError;
  }
  const int code = WEXITSTATUS(qemu_status);
  const int status = status_of_qemu_exit(code);
  say("%s (QEMU exit status %d) after %.2f s", describe_outcome(status), code, elapsed);
  if (!opt.trace.empty()) {
    struct stat st {};
    const long long bytes = stat(opt.trace.c_str(), &st) == 0 ? static_cast<long long>(st.st_size) : -1;
    say("trace: %lld bytes in %s; decode with: platypos-trace %s --elf %s", bytes, opt.trace.c_str(), opt.trace.c_str(),
        opt.kernel.c_str());
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  CLI::App app(
      "Boots the PlatypOS kernel in QEMU, streams and symbolizes its serial console, enforces a timeout.\n"
      "Exit status: 0 success, 1 failure, 70 panic, 71 triple fault/reset, 72 boot stub failure, 124 timeout, "
      "125 QEMU error.",
      "platypos_qemu");
  app.add_option("kernel", opt.kernel, "The kernel ELF (build/baremetal/platypos.elf)")->required();
  app.add_option("-m,--memory", opt.memory, "Guest RAM, as QEMU's -m takes it")->capture_default_str();
  app.add_option("-c,--cpus", opt.cpus, "Guest CPUs (QEMU -smp)")->capture_default_str()->check(CLI::Range(1, 255));
  app.add_option("-a,--append", opt.append, "Kernel command line, e.g. 'ktest' or 'ktest=interrupts'");
  CLI::Option* cpus_option = app.get_option("--cpus");
  app.add_option("-e,--example", opt.examples,
                 "Run example programs as processes (the kernel's run=SET): echo, logship, objstore, demo, or "
                 "default (echo, then logship); the kernel's ring-3 tests faults (processes that must be killed), "
                 "isolation (one process reaching for another's memory), bench (ring round trip against syscall, in "
                 "TSC cycles); repeatable, in order. Gives 4 CPUs unless --cpus says otherwise (10 for demo)")
      ->check(CLI::IsMember({"default", "echo", "logship", "objstore", "faults", "isolation", "bench", "demo"}));
  app.add_option("-t,--timeout", opt.timeout_s,
                 "Seconds before QEMU is killed (0: never; default 60, none with --debug)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--machine", opt.machine, "QEMU machine type (pc, q35)")->capture_default_str();
  app.add_option("--qemu", opt.qemu, "QEMU executable")->capture_default_str();
  app.add_option("--qemu-arg", opt.qemu_args, "Extra argument for QEMU (repeatable)");
  CLI::Option* icount_option =
      app.add_flag("--icount,!--no-icount", opt.icount,
                   "QEMU -icount shift=0: virtual time advances one nanosecond per guest instruction, so TSC cycles "
                   "count instructions and repeat exactly from run to run (slower; on by default for --example "
                   "bench)");
  app.add_flag("--timestamps", opt.timestamps, "Prefix each console line with seconds since QEMU started");
  app.add_flag("!--no-symbolize", opt.symbolize, "Leave backtrace addresses as they are");
  app.add_flag("--print-command", opt.print_command, "Print the QEMU command line");
  app.add_flag("--debug", opt.debug, "Start halted with a gdbstub and run gdb (tools/gdb/gdbinit) in the foreground");
  app.add_option("--gdb-port", opt.gdb_port, "gdbstub port with --debug (default: a free one)");
  app.add_option("--gdb", opt.gdb, "gdb executable")->capture_default_str();
  app.add_option("--gdbinit", opt.gdbinit, "gdb setup script")->capture_default_str()->check(CLI::ExistingFile);
  app.add_option("--gdb-batch", opt.gdb_batch, "With --debug: run gdb -batch with this command file instead")
      ->check(CLI::ExistingFile);
  app.add_option("--trace", opt.trace,
                 "Record a trace: COM2 (a second -serial) into FILE, and `trace` on the kernel command line")
      ->option_text("FILE");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }
  if (access(opt.kernel.c_str(), R_OK) != 0) {
    say("no kernel at %s: build the baremetal tree first (just build)", opt.kernel.c_str());
    return kExitUsage;
  }
  if (!opt.gdb_batch.empty()) opt.debug = true;
  if (!opt.examples.empty()) {
    std::string sets;
    bool demo = false;
    for (const std::string& e : opt.examples) {
      if (!sets.empty()) sets += ',';
      sets += e == "default" ? "echo,logship" : e;
      demo = demo || e == "demo";
      // Cycle counts that measure the code, not the host's load: instruction-counted time.
      if (e == "bench" && icount_option->count() == 0) opt.icount = true;
    }
    if (!opt.append.empty()) opt.append += ' ';
    opt.append += "run=" + sets;
    // One kernel core and an app core per process of the largest set.
    if (cpus_option->count() == 0) opt.cpus = demo ? 10 : 4;
  }
  return run(opt);
}
