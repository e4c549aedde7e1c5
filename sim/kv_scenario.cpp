// The serving scenarios, on the hosted backend in threads mode with real Linux sockets (and files):
//   kv     kv-server (examples/kv, `just serve`): memcached clients on this machine can use it
//   files  file-server (examples/files, `just serve-files`): HTTP/1.1 for the files beneath --root
// Each runs until SIGINT or SIGTERM (Ctrl-C), then ends the process, waits until the ring servers have let go of
// every socket and file request, and checks that nothing leaked.

#include <platypos/cap/wait.hpp>
#include <platypos/hosted/uring_net.hpp>
#include <platypos/io/file.hpp>
#include <platypos/io/net.hpp>
#include <platypos/runtime/runtime.hpp>

#include <arpa/inet.h>
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

#include "scenario.hpp"
#include "sim_net.hpp"

#include <algorithm>

namespace platypos::simtool {
namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop.store(true); }

struct ServeSpec {
  const char* scenario;
  const char* program;
  const char* default_listen;
};
constexpr ServeSpec kKv{"kv", "kv-server", "127.0.0.1:11311"};
constexpr ServeSpec kFiles{"files", "file-server", "127.0.0.1:8080"};

struct KvWorld {
  const Options* opt = nullptr;
  const ServeSpec* spec = nullptr;
  u64 root = 0;  // files: the directory's host descriptor
  std::unique_ptr<ring::Runtime> runtime;
  std::unique_ptr<hosted::UringNet> net;
  u32 address = 0;
  u16 port = 0;
  std::string args;
  Error launch_error = Error::none;
  i64 exit_code = 0;
  bool stopped_by_signal = false;
  std::vector<std::string> problems;
  u64 end_ns = 0;
};

// A serving supervisor's last act, once its server has exited: the runtime lets go of every ring, socket and file
// request (a problem if that takes 5 s), then the scheduler stops. Returns when the runtime was done.
u64 finish_serving(ring::Runtime& rt, std::vector<std::string>& problems) {
  sched::Scheduler& s = sched::scheduler();
  if (rt.shutdown(Platform::now_ns() + 5'000'000'000ull).is_error()) {
    problems.push_back(std::to_string(rt.ring_count()) + " rings, " + std::to_string(rt.open_sockets()) +
                       " sockets and " + std::to_string(rt.file_requests()) +
                       " file requests still there 5 s after the server ended");
    rt.stop();
  }
  const u64 end = Platform::now_ns();
  while (s.live_tasks() > 1) s.sleep_for(10'000);
  s.stop();
  return end;
}

// A receive waits on every open connection: the CQ must have room for all of them, and for the rest.
u32 cq_entries_for(u64 connections) {
  u32 n = abi::kDefaultCqEntries;
  while (n < connections + 512 && n < abi::kMaxCqEntries) n *= 2;
  return n;
}

void kv_supervisor(void* arg) {
  auto* w = static_cast<KvWorld*>(arg);
  sched::Scheduler& s = sched::scheduler();
  ring::Runtime& rt = *w->runtime;
  rt.start(w->opt->kernel_cores).expect("ring servers");
  const io::NetRule rule{.address = w->address, .port_first = w->port, .port_last = w->port, .listen = true};
  auto grant = io::NetGrant::create(nullptr, {&rule, 1}).expect("net grant");
  cap::Capability caps[2] = {{grant.leak(), cap::Rights::listen, 0}, {}};
  usize ncaps = 1;
  if (w->spec == &kFiles) {
    // Read-only: the server can open what lies beneath --root, and write nothing.
    auto dir = io::FileObject::create(nullptr, w->net->files(), cap::ObjectType::directory, w->root).expect("root");
    caps[ncaps++] = {dir.leak(), cap::Rights::read, 0};
  }
  // A handle per connection, and a few for the grant, the listener, the directory and the files being served.
  auto p = rt.launch({.program = w->spec->program, .cores = w->opt->server_cores,
                      .memory_bytes = w->opt->kv_memory_bytes,
                      .args = w->args, .handles = static_cast<u32>(w->opt->connections + 64),
                      .cq_entries = cq_entries_for(w->opt->connections)},
                     {caps, ncaps});
  if (p.is_error()) {
    w->launch_error = p.error();
  } else {
    // Until the program ends by itself, or a signal asks.
    while ((*p)->signals() & cap::kSignalExited ? false : !g_stop.load()) s.sleep_for(10'000'000);
    if (g_stop.load() && ((*p)->signals() & cap::kSignalExited) == 0) {
      w->stopped_by_signal = true;
      (void)s.exit_process((*p)->pid(), 0);
    }
    (void)cap::wait_signals(**p, cap::kSignalExited, 0);
    w->exit_code = (*p)->exit_code();
    p->reset();
  }
  w->end_ns = finish_serving(rt, w->problems);
}

}  // namespace

// --- kv-server in the deterministic simulator, against the modelled network (sim_net.hpp) ---

struct KvSimWorld {
  const Options* opt = nullptr;
  std::unique_ptr<ring::Runtime> runtime;
  std::unique_ptr<SimNet> net;
  Error launch_error = Error::none;
  i64 exit_code = 0;
  std::vector<std::string> problems;
  u64 end_ns = 0;
};

void kv_sim_supervisor(void* arg) {
  auto* w = static_cast<KvSimWorld*>(arg);
  sched::Scheduler& s = sched::scheduler();
  ring::Runtime& rt = *w->runtime;
  rt.start(w->opt->kernel_cores).expect("ring servers");
  const io::NetRule rule{.any_address = true, .port_first = 11211, .port_last = 11211, .listen = true};
  auto grant = io::NetGrant::create(nullptr, {&rule, 1}).expect("net grant");
  cap::Capability caps[1] = {{grant.leak(), cap::Rights::listen, 0}};
  auto p = rt.launch({.program = "kv-server", .cores = w->opt->server_cores, .memory_bytes = w->opt->kv_memory_bytes,
                      .args = "port=11211 address=0 connections=1024", .handles = 1024 + 64,
                      .cq_entries = cq_entries_for(1024)},
                     caps);
  if (p.is_error()) {
    w->launch_error = p.error();
  } else {
    // The clients send until --duration; then the replies in flight drain; then the server is ended.
    s.sleep_for(w->opt->duration_ns + 20'000'000);
    if (((*p)->signals() & cap::kSignalExited) == 0) (void)s.exit_process((*p)->pid(), 0);
    (void)cap::wait_signals(**p, cap::kSignalExited, 0);
    w->exit_code = (*p)->exit_code();
    p->reset();
  }
  w->end_ns = finish_serving(rt, w->problems);
}

double percentile_us(std::vector<u64> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<usize>(q * static_cast<double>(v.size() - 1));
  return static_cast<double>(v[i]) / 1000.0;
}

int run_kv_sim(const Options& opt) {
  KvSimWorld w;
  w.opt = &opt;
  SimNetConfig net;
  net.clients = opt.kv_clients;
  net.rate = opt.kv_rate;
  net.start_ns = 1'000'000;
  net.stop_ns = opt.duration_ns;
  net.reset_per_million = opt.kv_resets_per_million;
  net.seed = opt.seed;
  std::printf("platypos-sim: scenario kv, mode sim, %u cpus (%u kernel cores), seed %" PRIu64
              ": kv-server against %u modelled clients at %.0f req/s for %s (simulated network)\n",
              opt.cpus, opt.kernel_cores, opt.seed, net.clients, net.rate, opt.duration_text.c_str());
  int status = 0;
  run_kernel(
      opt,
      [&](hosted::Kernel& k) {
        w.net = std::make_unique<SimNet>(net);
        w.runtime = std::make_unique<ring::Runtime>(k.processes(), ring::linked_programs());
        w.runtime->set_net(w.net->device());
        k.scheduler().create_task(sched::kNoProcess, "supervisor", &kv_sim_supervisor, &w).expect("supervisor");
      },
      [&](hosted::Kernel& k, const RunResult& r) {
        const SimNetReport& rep = w.net->report();
        if (w.launch_error != Error::none) {
          std::printf("kv-server: not launched: %s\n", error_name(w.launch_error));
          status = 1;
        }
        std::printf("clients: %" PRIu64 " connections, %" PRIu64 " resets; %" PRIu64 " requests sent, %" PRIu64
                    " answered, %" PRIu64 " error replies; %" PRIu64 " bytes to the server, %" PRIu64 " back\n",
                    rep.connections, rep.resets, rep.sent, rep.answered, rep.errors, rep.bytes_to_server,
                    rep.bytes_from_server);
        std::printf("latency from intended send: p50 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us\n",
                    percentile_us(rep.latencies_ns, 0.5), percentile_us(rep.latencies_ns, 0.99),
                    percentile_us(rep.latencies_ns, 0.999), percentile_us(rep.latencies_ns, 1.0));
        std::printf("reply bytes digest: %016" PRIx64 "\n", rep.digest);
        // (With faults injected, the server may answer SERVER_ERROR out of memory, or lose connections: what must
        // hold then is the kernel's side, checked below: nothing leaked, nothing stuck.)
        if (rep.errors != 0 && !opt.faults) {
          w.problems.push_back(std::to_string(rep.errors) + " error replies (the first: '" + rep.first_error + "')");
        }
        if (rep.answered == 0 && !opt.faults) w.problems.push_back("no request was answered");
        w.runtime.reset();
        if (w.net->open_sockets() != 0) {
          w.problems.push_back(std::to_string(w.net->open_sockets()) + " modelled sockets still held");
        }
        if (finish_report(k, opt, r, w.problems, w.end_ns) != 0) status = 1;
      });
  return status;
}

int run_serve(const Options& opt, const ServeSpec& spec) {
  if (opt.mode == Mode::sim && &spec == &kKv) return run_kv_sim(opt);
  if (opt.mode != Mode::threads) {
    std::fprintf(stderr,
                 "platypos-sim: the %s scenario serves real sockets: it needs --mode threads (the simulator's network "
                 "model is not there yet)\n",
                 spec.scenario);
    return 2;
  }
  KvWorld w;
  w.opt = &opt;
  w.spec = &spec;
  // --listen ADDRESS:PORT
  const std::string l = opt.listen.empty() ? spec.default_listen : opt.listen;
  const auto colon = l.rfind(':');
  in_addr a{};
  unsigned long port = 0;
  char* end = nullptr;
  if (colon == std::string::npos || inet_pton(AF_INET, l.substr(0, colon).c_str(), &a) != 1 ||
      (port = std::strtoul(l.c_str() + colon + 1, &end, 10), *end != '\0') || colon + 1 == l.size() || port > 65535) {
    std::fprintf(stderr, "platypos-sim: --listen '%s': expected IPV4:PORT, e.g. 127.0.0.1:11311\n", l.c_str());
    return 2;
  }
  w.address = ntohl(a.s_addr);
  w.port = static_cast<u16>(port);
  w.args = "port=" + std::to_string(w.port) + " address=" + std::to_string(w.address);
  if (&spec == &kKv) {
    w.args += " connections=" + std::to_string(opt.connections) +
              " epoch=" + std::to_string(static_cast<unsigned long long>(std::time(nullptr)));
  }
  // Every connection is a host descriptor too: as many as the hard limit allows.
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &nofile);
  }
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < opt.connections + 256) {
    std::fprintf(stderr, "platypos-sim: warning: the descriptor limit (%llu) is below --connections %llu\n",
                 static_cast<unsigned long long>(nofile.rlim_cur), static_cast<unsigned long long>(opt.connections));
  }
  std::string root_path;
  if (&spec == &kFiles) {
    root_path = opt.root.empty() ? "." : opt.root;
    Result<u64> root = hosted::UringNet::open_directory(root_path.c_str());
    if (root.is_error()) {
      std::fprintf(stderr, "platypos-sim: --root '%s': %s\n", root_path.c_str(), error_name(root.error()));
      return 2;
    }
    w.root = *root;
  }
  if (!opt.program_args.empty()) w.args += " " + opt.program_args;
  if (w.args.size() >= abi::kMaxProgramArgs) {
    std::fprintf(stderr, "platypos-sim: --program-args: too long\n");
    return 2;
  }
  struct sigaction sa{};
  sa.sa_handler = &on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::printf("platypos-sim: scenario %s, mode threads, %u cpus (%u kernel cores, one ring server each)\n",
              spec.scenario, opt.cpus, opt.kernel_cores);
  if (&spec == &kKv) {
    std::printf("kv-server: memcached text protocol on %s (Ctrl-C stops it)\n", l.c_str());
    if (w.port != 0) {
      std::printf("try:  printf 'set k 0 0 1\\r\\nv\\r\\nget k\\r\\n' | nc -q 1 %s %u\n",
                  l.substr(0, colon).c_str(), w.port);
    }
  } else {
    std::printf("file-server: HTTP/1.1 on %s for the files beneath %s, read-only (Ctrl-C stops it)\n", l.c_str(),
                root_path.c_str());
    if (w.port != 0) std::printf("try:  curl -i http://%s:%u/\n", l.substr(0, colon).c_str(), w.port);
  }
  std::fflush(stdout);
  int status = 0;
  run_kernel(
      opt,
      [&](hosted::Kernel& k) {
        w.net = std::make_unique<hosted::UringNet>(opt.kernel_cores);
        w.runtime = std::make_unique<ring::Runtime>(k.processes(), ring::linked_programs());
        w.runtime->set_net(w.net->device());
        w.runtime->set_files(w.net->files());
        k.scheduler().create_task(sched::kNoProcess, "supervisor", &kv_supervisor, &w).expect("supervisor");
      },
      [&](hosted::Kernel& k, const RunResult& r) {
        std::printf("\n");
        if (w.launch_error != Error::none) {
          std::printf("%s: not launched: %s\n", spec.program, error_name(w.launch_error));
          status = 1;
        } else if (w.stopped_by_signal) {
          std::printf("%s: stopped by a signal\n", spec.program);
        } else {
          std::printf("%s: exited with %" PRIi64 " (see the console above)\n", spec.program, w.exit_code);
          status = 1;
        }
        w.runtime.reset();
        if (w.net->open_sockets() != 0) {
          w.problems.push_back(std::to_string(w.net->open_sockets()) + " host sockets still open");
        }
        if (finish_report(k, opt, r, w.problems, w.end_ns) != 0) status = 1;
      });
  return status;
}

int run_kv_scenario(const Options& opt) { return run_serve(opt, kKv); }
int run_files_scenario(const Options& opt) { return run_serve(opt, kFiles); }

}  // namespace platypos::simtool
