// Channel benchmarks, with Linux baselines in the same run.
//
//   channel round trip: two PlatypOS tasks on one core (threads-mode Machine, one CPU): A writes a message, B
//                       (waiting on READABLE) reads it and writes it back, A reads the reply. 64 B, 1 KiB, and 64 B
//                       plus one handle (which travels there and back).
//   write+read:         the channel operations alone, one task writing and reading its own channel (no switch).
//   Linux pipe:         the same round trip between two threads over two pipes (64 B).
//   Unix socket + fd:   a round trip that passes a file descriptor both ways (SCM_RIGHTS).

#include <platypos/cap/channel.hpp>
#include <platypos/cap/event.hpp>
#include <platypos/cap/wait.hpp>
#include <platypos/hosted/kernel.hpp>
#include <platypos/hosted/machine.hpp>

#include <benchmark/benchmark.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>
#include <vector>

#include "bench_main.hpp"

namespace platypos {
namespace {

using namespace cap;

struct Domain {
  explicit Domain(KernelMemory& m) {
    account = MemoryAccount::create(m.page_source(), 4 * MiB).value();
    table.init(*account, 64).expect("table");
  }
  ~Domain() {
    table.close_all();
    account->release();
  }
  MemoryAccount* account;
  HandleTable table;
};

struct PingPong {
  Domain* da;
  Domain* db;
  Ref<ChannelEndpoint> a, b;
  usize bytes;
  bool with_handle;
  u64 rounds;
  u64 start_ns = 0, end_ns = 0;
};

void pinger(void* arg) {
  auto* p = static_cast<PingPong*>(arg);
  std::vector<u8> msg(p->bytes, 0x5a), in(p->bytes);
  Handle h = kInvalidHandle;
  if (p->with_handle) h = p->da->table.add(Event::create().value(), Rights::transfer).value();
  p->start_ns = Platform::now_ns();
  for (u64 i = 0; i < p->rounds; ++i) {
    p->a->write(p->da->table, *p->da->account, msg, p->with_handle ? std::span(&h, 1) : std::span<Handle>())
        .expect("write");
    for (;;) {
      auto r = p->a->read(p->da->table, in, std::span(&h, 1));
      if (r.has_value()) break;
      wait_signals(*p->a, kSignalReadable, 0).expect("wait");
    }
  }
  p->end_ns = Platform::now_ns();
  p->a->write(p->da->table, *p->da->account, {}, {}).expect("stop");  // an empty message: the ponger's cue to end
  sched::scheduler().stop();
}

void ponger(void* arg) {
  auto* p = static_cast<PingPong*>(arg);
  std::vector<u8> in(p->bytes);
  Handle h = kInvalidHandle;
  for (;;) {
    auto r = p->b->read(p->db->table, in, std::span(&h, 1));
    if (r.is_error()) {
      wait_signals(*p->b, kSignalReadable, 0).expect("wait");
      continue;
    }
    if (r->bytes == 0) return;
    p->b->write(p->db->table, *p->db->account, std::span(in.data(), r->bytes),
                r->handles == 1 ? std::span(&h, 1) : std::span<Handle>())
        .expect("write back");
  }
}

void BM_ChannelRoundTrip(benchmark::State& state) {
  const auto bytes = static_cast<usize>(state.range(0));
  const bool with_handle = state.range(1) != 0;
  constexpr u64 kRounds = 50'000;
  double seconds = 0;
  u64 rounds = 0;
  for (auto _ : state) {
    hosted::Machine machine({.cpus = 1, .memory_bytes = 256 * MiB});
    hosted::Kernel kernel({.cpus = 1, .kernel_cores = 1});
    {
      Domain da(kernel.memory()), db(kernel.memory());
      auto pair = ChannelEndpoint::create().value();
      PingPong p{&da, &db, std::move(pair.a), std::move(pair.b), bytes, with_handle, kRounds};
      kernel.scheduler().create_task(sched::kNoProcess, "ping", &pinger, &p).expect("ping");
      kernel.scheduler().create_task(sched::kNoProcess, "pong", &ponger, &p).expect("pong");
      machine.run([&](CpuId) { kernel.scheduler().run_cpu(); });
      const double s = static_cast<double>(p.end_ns - p.start_ns) / 1e9;
      state.SetIterationTime(s);
      seconds += s;
      rounds += kRounds;
    }
  }
  state.counters["time_per_round_trip"] = seconds / static_cast<double>(rounds);  // seconds, shown with SI prefix
  state.SetLabel(with_handle ? "PlatypOS channel, two tasks, one core, + 1 handle"
                             : "PlatypOS channel, two tasks, one core");
}

void BM_ChannelWriteRead(benchmark::State& state) {
  const auto bytes = static_cast<usize>(state.range(0));
  hosted::Machine machine({.cpus = 1, .memory_bytes = 256 * MiB});
  hosted::Kernel kernel({.cpus = 1, .kernel_cores = 1});
  Domain d(kernel.memory());
  auto pair = ChannelEndpoint::create().value();
  std::vector<u8> msg(bytes, 1), in(bytes);
  for (auto _ : state) {
    pair.a->write(d.table, *d.account, msg, {}).expect("write");
    benchmark::DoNotOptimize(pair.b->read(d.table, in, {}).value());
  }
  state.counters["time_per_round_trip"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                             benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetLabel("PlatypOS channel write+read, no task switch");
}

void BM_PipeRoundTrip(benchmark::State& state) {
  int ping[2], pong[2];
  if (pipe(ping) != 0 || pipe(pong) != 0) std::abort();
  std::thread echo([&] {
    char buf[64];
    for (;;) {
      const ssize_t n = read(ping[0], buf, sizeof buf);
      if (n <= 0) return;
      if (write(pong[1], buf, static_cast<size_t>(n)) != n) return;
    }
  });
  char msg[64] = {}, in[64];
  for (auto _ : state) {
    if (write(ping[1], msg, sizeof msg) != sizeof msg) std::abort();
    if (read(pong[0], in, sizeof in) != sizeof in) std::abort();
  }
  close(ping[1]);
  echo.join();
  close(ping[0]);
  close(pong[0]);
  close(pong[1]);
  state.counters["time_per_round_trip"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                             benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetLabel("two Linux threads, two pipes, 64 B");
}

ssize_t send_with_fd(int sock, const char* data, size_t len, int fd) {
  iovec iov{const_cast<char*>(data), len};
  alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(int))] = {};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = ctrl;
  m.msg_controllen = sizeof ctrl;
  cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  return sendmsg(sock, &m, 0);
}

ssize_t recv_with_fd(int sock, char* data, size_t len, int* fd) {
  iovec iov{data, len};
  alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(int))] = {};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = ctrl;
  m.msg_controllen = sizeof ctrl;
  const ssize_t n = recvmsg(sock, &m, 0);
  cmsghdr* c = CMSG_FIRSTHDR(&m);
  if (n > 0 && c != nullptr && c->cmsg_type == SCM_RIGHTS) std::memcpy(fd, CMSG_DATA(c), sizeof(int));
  return n;
}

void BM_UnixSocketFdRoundTrip(benchmark::State& state) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0) std::abort();
  std::thread echo([&] {
    char buf[64];
    for (;;) {
      int fd = -1;
      const ssize_t n = recv_with_fd(sv[1], buf, sizeof buf, &fd);
      if (n <= 0) return;
      send_with_fd(sv[1], buf, static_cast<size_t>(n), fd);
      close(fd);  // the echo side's copy
    }
  });
  int devnull = dup(STDIN_FILENO);
  char msg[64] = {}, in[64];
  for (auto _ : state) {
    send_with_fd(sv[0], msg, sizeof msg, devnull);
    int back = -1;
    if (recv_with_fd(sv[0], in, sizeof in, &back) != sizeof in) std::abort();
    close(back);
  }
  shutdown(sv[0], SHUT_RDWR);
  echo.join();
  close(devnull);
  close(sv[0]);
  close(sv[1]);
  state.counters["time_per_round_trip"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                             benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetLabel("two Linux threads, Unix socket, 64 B + an fd each way");
}

BENCHMARK(BM_ChannelRoundTrip)
    ->ArgNames({"bytes", "handle"})
    ->Args({64, 0})
    ->Args({1024, 0})
    ->Args({64, 1})
    ->UseManualTime()
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ChannelWriteRead)->Arg(64)->Arg(1024);
BENCHMARK(BM_PipeRoundTrip)->UseRealTime();
BENCHMARK(BM_UnixSocketFdRoundTrip)->UseRealTime();

PLATYPOS_BENCH_COUNTER_RATIO("channel round trip 64 B / pipe round trip 64 B",
                             "BM_ChannelRoundTrip/bytes:64/handle:0/iterations:3/manual_time",
                             "BM_PipeRoundTrip/real_time", "time_per_round_trip");
PLATYPOS_BENCH_COUNTER_RATIO("channel round trip 64 B + handle / Unix socket + fd",
                             "BM_ChannelRoundTrip/bytes:64/handle:1/iterations:3/manual_time",
                             "BM_UnixSocketFdRoundTrip/real_time", "time_per_round_trip");

}  // namespace
}  // namespace platypos
