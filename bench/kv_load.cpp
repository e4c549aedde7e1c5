// platypos-kv-load: an open-loop load generator for memcached's text protocol, on liburing (Debian packages no
// open-loop memcached generator: memtier_benchmark is not there, memcslap and wrk are closed loop). What Shenango's and
// Caladan's evaluations did:
//
//   - arrivals are a Poisson process at the offered rate, fixed in advance from the seed, whatever the server does;
//   - each request goes out on the next of many connections (round robin), pipelined behind earlier ones if the
//     connection has some outstanding: the generator never waits for a reply before sending the next request;
//   - latency is measured from the request's *intended* send time (its arrival), not from when it went out, so a
//     server that falls behind is charged for the queueing it caused (no coordinated omission);
//   - a request without a reply `--timeout` after its arrival counts as infinitely slow (it sorts last, and a
//     percentile that lands on it is reported as the timeout, with the count).
//
// The mix: --get-ratio of the requests are gets, the rest sets, over --keys keys (uniform), keys of --key-size
// bytes, values of --value-size bytes ("N", or "A-B" uniform). Every key is set once before the measurement.
// Several rates in one run (--rates 10000,20000,...): each gets a warm-up, then --duration of measurement.
//
// Output: one line per rate, and with --json FILE a Google Benchmark-shaped JSON file (a context and one entry per
// rate named NAME/rate:R, with offered_per_s, req_per_s, p50_us, p99_us, p999_us, max_us, timeouts) that
// platypos-bench-report reads like any suite's.

#include <CLI/CLI.hpp>
#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

using u64 = std::uint64_t;

u64 now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<u64>(ts.tv_sec) * 1'000'000'000ull + static_cast<u64>(ts.tv_nsec);
}

struct Options {
  std::string server = "127.0.0.1:11211";
  unsigned connections = 32;
  std::vector<double> rates{10000};
  double duration_s = 5;
  double warmup_s = 1;
  double get_ratio = 0.9;
  unsigned keys = 10000;
  unsigned key_size = 16;
  std::string value_size = "100";
  double timeout_s = 1;
  u64 seed = 1;
  std::string json;
  std::string name = "BM_Kv";
  std::string command;  // recorded in the JSON context (how the run was made)
};

std::string first_line_with(const char* path, const std::string& prefix) {
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
  return "";
}

std::string trim_quotes(std::string s) {
  while (!s.empty() && (s.front() == '"' || s.front() == ' ' || s.front() == '\t' || s.front() == ':')) s.erase(0, 1);
  while (!s.empty() && (s.back() == '"' || s.back() == ' ')) s.pop_back();
  return s;
}

// A reply being parsed: what kind of request it answers.
enum class Kind : std::uint8_t { get, set };

struct Pending {
  u64 intended_ns;
  Kind kind;
  bool measured;  // inside the measurement window
};

struct Conn {
  int fd = -1;
  std::string out;          // bytes not handed to the kernel yet
  std::string sending;      // bytes of the send in flight
  bool send_armed = false;
  std::vector<char> in;     // the recv buffer
  std::string partial;      // reply bytes not parsed yet
  std::deque<Pending> pending;
  bool broken = false;
  bool retired = false;  // replaced after a rate that left it with requests outstanding: its completions are ignored
};

enum Op : u64 { kRecv = 1, kSend = 2, kTimer = 3 };

struct Stats {
  std::vector<u64> latencies;  // ns, measured replies
  u64 sent_measured = 0;
  u64 errors = 0;
  u64 timeouts = 0;
};

class Load {
 public:
  explicit Load(const Options& o) : o_(o), rng_(o.seed) {
    if (io_uring_queue_init(4096, &ring_, 0) != 0) throw std::runtime_error("io_uring_queue_init");
    parse_sizes();
  }
  ~Load() {
    for (Conn& c : all_)
      if (c.fd >= 0) ::close(c.fd);
    io_uring_queue_exit(&ring_);
  }

  void connect_all() {
    conns_.clear();
    for (unsigned i = 0; i < o_.connections; ++i) conns_.push_back(&all_.emplace_back());
    const auto colon = o_.server.rfind(':');
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(o_.server.substr(colon + 1))));
    if (colon == std::string::npos || inet_pton(AF_INET, o_.server.substr(0, colon).c_str(), &a.sin_addr) != 1) {
      throw std::runtime_error("--server: expected IPV4:PORT");
    }
    for (Conn* cp : conns_) {
      Conn& c = *cp;
      c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (::connect(c.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        throw std::runtime_error(std::string("connect ") + o_.server + ": " + std::strerror(errno));
      }
      const int one = 1;
      setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      c.in.resize(64 * 1024);
      arm_recv(c);
    }
  }

  // Every key once, then wait for every reply.
  void preload() {
    for (unsigned k = 0; k < o_.keys; ++k) {
      Conn& c = *conns_[k % conns_.size()];
      append_set(c, k);
      c.pending.push_back({now_ns(), Kind::set, false});
    }
    for (Conn* c : conns_) flush(*c);
    submit();
    const u64 deadline = now_ns() + 30'000'000'000ull;
    while (outstanding() > 0) {
      if (now_ns() > deadline) throw std::runtime_error("preload: the server did not answer every set in 30 s");
      wait_and_handle(now_ns() + 10'000'000);
    }
  }

  // One rate: warm-up, then the measured window; then wait up to the timeout for the stragglers.
  Stats run(double rate) {
    stats_ = Stats{};
    std::exponential_distribution<double> gap(rate / 1e9);
    const u64 start = now_ns();
    const u64 measure_from = start + static_cast<u64>(o_.warmup_s * 1e9);
    const u64 end = measure_from + static_cast<u64>(o_.duration_s * 1e9);
    double next = static_cast<double>(start);
    std::size_t rr = 0;
    while (true) {
      const u64 now = now_ns();
      // Every arrival due by now goes out (late ones keep their intended time).
      bool any = false;
      while (next <= static_cast<double>(now) && next < static_cast<double>(end)) {
        const u64 at = static_cast<u64>(next);
        Conn& c = *conns_[rr++ % conns_.size()];
        const bool get = uni_(rng_) < o_.get_ratio;
        const unsigned key = static_cast<unsigned>(rng_() % o_.keys);
        if (get) {
          append_get(c, key);
        } else {
          append_set(c, key);
        }
        const bool measured = at >= measure_from;
        c.pending.push_back({at, get ? Kind::get : Kind::set, measured});
        if (measured) ++stats_.sent_measured;
        next += gap(rng_);
        any = true;
      }
      if (any) {
        for (Conn* c : conns_) flush(*c);
        submit();
      }
      if (next >= static_cast<double>(end)) break;
      wait_and_handle(static_cast<u64>(next));
    }
    // Stragglers: up to the timeout after the last arrival.
    const u64 give_up = end + static_cast<u64>(o_.timeout_s * 1e9);
    while (outstanding() > 0 && now_ns() < give_up) wait_and_handle(std::min(give_up, now_ns() + 10'000'000));
    // What is still outstanding, or answered after its timeout, is infinitely slow.
    const u64 limit = static_cast<u64>(o_.timeout_s * 1e9);
    bool stragglers = false;
    for (Conn* c : conns_) {
      for (const Pending& p : c->pending)
        if (p.measured) stats_.latencies.push_back(std::numeric_limits<u64>::max());
      stragglers = stragglers || !c->pending.empty() || c->broken;
    }
    for (u64& l : stats_.latencies) {
      if (l > limit) {
        l = std::numeric_limits<u64>::max();
        ++stats_.timeouts;
      }
    }
    // Connections with requests still outstanding are out of step for the next rate: retire them (their replies,
    // when they come, are ignored) and start over on fresh ones.
    Stats out = std::move(stats_);
    stats_ = Stats{};
    if (stragglers) {
      for (Conn* c : conns_) {
        c->retired = true;
        ::shutdown(c->fd, SHUT_RDWR);
      }
      connect_all();
    }
    return out;
  }

 private:
  void parse_sizes() {
    const std::string& v = o_.value_size;
    const auto dash = v.find('-');
    if (dash == std::string::npos) {
      vmin_ = vmax_ = std::stoul(v);
    } else {
      vmin_ = std::stoul(v.substr(0, dash));
      vmax_ = std::stoul(v.substr(dash + 1));
    }
    if (vmin_ > vmax_ || vmax_ > 1'000'000) throw std::runtime_error("--value-size: N or A-B, at most 1000000");
    value_.assign(vmax_, 'v');
  }

  std::string key(unsigned k) const {
    char buf[32];
    std::snprintf(buf, sizeof buf, "k%0*u", static_cast<int>(o_.key_size > 1 ? o_.key_size - 1 : 1), k);
    return buf;
  }

  void append_get(Conn& c, unsigned k) {
    c.out += "get ";
    c.out += key(k);
    c.out += "\r\n";
  }
  void append_set(Conn& c, unsigned k) {
    const unsigned n = vmin_ == vmax_ ? vmin_ : vmin_ + static_cast<unsigned>(rng_() % (vmax_ - vmin_ + 1));
    c.out += "set " + key(k) + " 0 0 " + std::to_string(n) + "\r\n";
    c.out.append(value_.data(), n);
    c.out += "\r\n";
  }

  io_uring_sqe* sqe() {
    io_uring_sqe* s = io_uring_get_sqe(&ring_);
    while (s == nullptr) {
      io_uring_submit(&ring_);
      s = io_uring_get_sqe(&ring_);
    }
    return s;
  }
  void submit() { io_uring_submit(&ring_); }

  static u64 tag(const Conn& c, Op op) { return reinterpret_cast<u64>(&c) | op; }

  void arm_recv(Conn& c) {
    io_uring_sqe* s = sqe();
    io_uring_prep_recv(s, c.fd, c.in.data(), c.in.size(), 0);
    io_uring_sqe_set_data64(s, tag(c, kRecv));
  }
  void flush(Conn& c) {
    if (c.send_armed || c.out.empty() || c.broken) return;
    c.sending.swap(c.out);
    c.out.clear();
    io_uring_sqe* s = sqe();
    io_uring_prep_send(s, c.fd, c.sending.data(), c.sending.size(), MSG_NOSIGNAL);
    io_uring_sqe_set_data64(s, tag(c, kSend));
    c.send_armed = true;
  }

  u64 outstanding() const {
    u64 n = 0;
    for (const Conn* c : conns_) n += c->pending.size();
    return n;
  }

  // Waits for completions until `until` (absolute ns), handles them all.
  void wait_and_handle(u64 until) {
    io_uring_cqe* cqe = nullptr;
    const u64 now = now_ns();
    if (until > now) {
      __kernel_timespec ts{};
      const u64 d = until - now;
      ts.tv_sec = static_cast<long long>(d / 1'000'000'000ull);
      ts.tv_nsec = static_cast<long long>(d % 1'000'000'000ull);
      const int r = io_uring_wait_cqe_timeout(&ring_, &cqe, &ts);
      if (r == -ETIME || r == -EINTR) return;
    }
    unsigned head = 0, n = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++n;
      handle(io_uring_cqe_get_data64(cqe), cqe->res);
    }
    io_uring_cq_advance(&ring_, n);
    submit();
  }

  void handle(u64 data, int res) {
    auto* c = reinterpret_cast<Conn*>(data & ~u64{7});
    const Op op = static_cast<Op>(data & 7);
    if (c->retired) {
      if (op == kSend) c->send_armed = false;
      return;
    }
    if (op == kSend) {
      c->send_armed = false;
      if (res < 0) {
        c->broken = true;
        ++stats_.errors;
        return;
      }
      if (static_cast<std::size_t>(res) < c->sending.size()) {
        c->out.insert(0, c->sending, static_cast<std::size_t>(res));  // the rest goes first
      }
      c->sending.clear();
      flush(*c);
      return;
    }
    if (res <= 0) {
      c->broken = true;
      if (res < 0) ++stats_.errors;
      return;
    }
    const u64 t = now_ns();
    c->partial.append(c->in.data(), static_cast<std::size_t>(res));
    parse(*c, t);
    arm_recv(*c);
  }

  // Consumes every complete reply in c.partial, in order.
  void parse(Conn& c, u64 t) {
    std::size_t pos = 0;
    const std::string& b = c.partial;
    while (!c.pending.empty()) {
      const Pending& p = c.pending.front();
      std::size_t end = std::string::npos;
      if (p.kind == Kind::set) {
        const auto nl = b.find("\r\n", pos);
        if (nl == std::string::npos) break;
        if (b.compare(pos, 8, "STORED\r\n") != 0) ++stats_.errors;
        end = nl + 2;
      } else {
        // "VALUE <key> <flags> <bytes>\r\n<data>\r\n" (at most one), then "END\r\n".
        std::size_t at = pos;
        bool complete = false;
        for (;;) {
          const auto nl = b.find("\r\n", at);
          if (nl == std::string::npos) break;
          if (b.compare(at, 5, "END\r\n") == 0) {
            end = at + 5;
            complete = true;
            break;
          }
          if (b.compare(at, 6, "VALUE ") != 0) {  // an error line ends the reply
            ++stats_.errors;
            end = nl + 2;
            complete = true;
            break;
          }
          const auto sp = b.rfind(' ', nl);
          const std::size_t bytes = std::stoul(b.substr(sp + 1, nl - sp - 1));
          const std::size_t data_end = nl + 2 + bytes + 2;
          if (data_end > b.size()) break;
          at = data_end;
        }
        if (!complete) break;
      }
      if (p.measured) stats_.latencies.push_back(t - p.intended_ns);
      c.pending.pop_front();
      pos = end;
    }
    c.partial.erase(0, pos);
  }

  const Options& o_;
  io_uring ring_{};
  std::deque<Conn> all_;       // every connection ever made (stable addresses: completions name them)
  std::vector<Conn*> conns_;   // the ones in use
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> uni_{0.0, 1.0};
  unsigned vmin_ = 0, vmax_ = 0;
  std::string value_;
  Stats stats_;
};

double percentile_us(const std::vector<u64>& sorted, double q, double timeout_us) {
  if (sorted.empty()) return 0;
  const auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size()))) - 1;
  const u64 v = sorted[std::min(i, sorted.size() - 1)];
  return v == std::numeric_limits<u64>::max() ? timeout_us : static_cast<double>(v) / 1000.0;
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"platypos-kv-load: open-loop memcached load (Poisson arrivals, latency from intended send time)"};
  app.add_option("--server", o.server, "IPV4:PORT of the memcached-protocol server");
  app.add_option("--connections", o.connections, "connections; requests go round robin, pipelined")
      ->check(CLI::Range(1u, 10000u));
  app.add_option("--rates", o.rates, "offered rates in requests per second, one run each, in order")->delimiter(',');
  app.add_option("--duration", o.duration_s, "seconds measured per rate");
  app.add_option("--warmup", o.warmup_s, "seconds of load before each measurement");
  app.add_option("--get-ratio", o.get_ratio, "fraction of gets (the rest are sets)")->check(CLI::Range(0.0, 1.0));
  app.add_option("--keys", o.keys, "keys (uniform)")->check(CLI::Range(1u, 10'000'000u));
  app.add_option("--key-size", o.key_size, "key bytes")->check(CLI::Range(2u, 250u));
  app.add_option("--value-size", o.value_size, "value bytes: N, or A-B uniform");
  app.add_option("--timeout", o.timeout_s, "seconds after its arrival a request counts as infinitely slow");
  app.add_option("--seed", o.seed, "seed of the arrivals and the mix");
  app.add_option("--json", o.json, "write Google Benchmark-shaped JSON here");
  app.add_option("--name", o.name, "benchmark name prefix in the JSON (NAME/rate:R)");
  app.add_option("--command", o.command, "how this run was made, for the JSON context (e.g. just bench-kv)");
  CLI11_PARSE(app, argc, argv);

  std::vector<std::string> entries;
  try {
    Load load(o);
    load.connect_all();
    load.preload();
    std::printf("%-12s %12s %12s %10s %10s %10s %10s %9s\n", "offered/s", "achieved/s", "measured", "p50 us",
                "p99 us", "p99.9 us", "max us", "timeouts");
    for (double rate : o.rates) {
      Stats s = load.run(rate);
      std::sort(s.latencies.begin(), s.latencies.end());
      const double timeout_us = o.timeout_s * 1e6;
      const u64 answered = s.latencies.size() - s.timeouts;
      const double achieved = static_cast<double>(answered) / o.duration_s;
      const double p50 = percentile_us(s.latencies, 0.50, timeout_us);
      const double p99 = percentile_us(s.latencies, 0.99, timeout_us);
      const double p999 = percentile_us(s.latencies, 0.999, timeout_us);
      const double max = percentile_us(s.latencies, 1.0, timeout_us);
      std::printf("%-12.0f %12.0f %12zu %10.1f %10.1f %10.1f %10.1f %9llu%s\n", rate, achieved, s.latencies.size(),
                  p50, p99, p999, max, static_cast<unsigned long long>(s.timeouts),
                  s.errors != 0 ? "  (errors!)" : "");
      std::fflush(stdout);
      std::ostringstream e;
      e << "    {\"name\": \"" << json_escape(o.name) << "/rate:" << static_cast<u64>(rate)
        << "\", \"run_name\": \"" << json_escape(o.name) << "/rate:" << static_cast<u64>(rate)
        << "\", \"run_type\": \"iteration\", \"iterations\": " << s.latencies.size()
        << ", \"real_time\": " << p50 * 1000 << ", \"cpu_time\": " << p50 * 1000 << ", \"time_unit\": \"ns\""
        << ", \"offered_per_s\": " << rate << ", \"req_per_s\": " << achieved << ", \"p50_us\": " << p50
        << ", \"p99_us\": " << p99 << ", \"p999_us\": " << p999 << ", \"max_us\": " << max
        << ", \"timeouts\": " << s.timeouts << ", \"errors\": " << s.errors << "}";
      entries.push_back(e.str());
      if (s.errors != 0) {
        std::fprintf(stderr, "platypos-kv-load: %llu replies were errors\n",
                     static_cast<unsigned long long>(s.errors));
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "platypos-kv-load: %s\n", e.what());
    if (entries.empty()) return 1;
  }
  if (!o.json.empty()) {
    utsname u{};
    uname(&u);
    char date[64];
    const std::time_t t = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S+00:00", std::gmtime(&t));
    const std::string cpu = trim_quotes(first_line_with("/proc/cpuinfo", "model name"));
    const std::string os = trim_quotes(first_line_with("/etc/os-release", "PRETTY_NAME="));
    const bool virt = first_line_with("/proc/cpuinfo", "flags").find(" hypervisor") != std::string::npos;
    const auto mem = static_cast<unsigned long long>(sysconf(_SC_PHYS_PAGES)) *
                     static_cast<unsigned long long>(sysconf(_SC_PAGE_SIZE));
    std::ofstream f(o.json);
    f << "{\n  \"context\": {\"date\": \"" << date << "\", \"platypos_command\": \"" << json_escape(o.command)
      << "\", \"platypos_cpu_model\": \"" << json_escape(cpu) << "\", \"platypos_virtualized\": \""
      << (virt ? "yes" : "no") << "\", \"platypos_memory_bytes\": " << mem << ", \"platypos_kernel\": \"Linux "
      << json_escape(u.release) << "\", \"platypos_os\": \"" << json_escape(os)
      << "\", \"executable\": \"platypos-kv-load\", \"host_name\": \"" << json_escape(u.nodename)
      << "\", \"num_cpus\": " << sysconf(_SC_NPROCESSORS_ONLN) << ", \"server\": \"" << json_escape(o.server)
      << "\", \"connections\": " << o.connections << ", \"get_ratio\": " << o.get_ratio << ", \"keys\": " << o.keys
      << ", \"value_size\": \"" << json_escape(o.value_size) << "\", \"duration_s\": " << o.duration_s
      << ", \"timeout_s\": " << o.timeout_s << "},\n  \"benchmarks\": [\n";
    for (std::size_t i = 0; i < entries.size(); ++i) f << entries[i] << (i + 1 < entries.size() ? ",\n" : "\n");
    f << "  ]\n}\n";
  }
  return 0;
}
