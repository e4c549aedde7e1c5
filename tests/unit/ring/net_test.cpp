// Sockets end to end in hosted threads mode: a program with a net grant listens, accepts and echoes; real Linux
// clients (this test's threads) connect over loopback. Also: what the grant does not allow is refused, malformed
// endpoints get invalid_argument, and nothing stays open or allocated afterwards.

#include <platypos/cap/process_object.hpp>
#include <platypos/cap/wait.hpp>
#include <platypos/hosted/uring_net.hpp>
#include <platypos/io/net.hpp>
#include <platypos/user/context.hpp>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "raw_op.hpp"
#include "ring_world.hpp"

namespace platypos::ring {
namespace {

using testing::RingWorld;
using user::Context;
using user::Handle;
using user::Status;
using user::Task;

constexpr u32 kLoopback = 0x7f000001;

struct NetShared {
  std::atomic<u16> port{0};
  std::atomic<int> connections{1};
  std::atomic<bool> finished{false};
  std::atomic<std::uint64_t> late_ns{0};  // t-net-echo waits this long after each accept before it reads  // the machine stopped (the program is gone): clients stop waiting
};
constinit NetShared* g_net = nullptr;
constexpr int kClients = 8;

// Echoes one stream until its end; returns the bytes echoed, or -1.
Task<std::int64_t> echo_stream(Context& cx, Handle s) {
  char buf[4096];
  std::int64_t total = 0;
  for (;;) {
    auto n = co_await cx.recv(s, buf);
    if (!n) co_return -1;
    if (*n == 0) break;
    std::uint64_t off = 0;
    while (off < *n) {
      auto w = co_await cx.send(s, {buf + off, static_cast<std::size_t>(*n - off)});
      if (!w) co_return -1;
      off += *w;
    }
    total += static_cast<std::int64_t>(*n);
  }
  (void)co_await cx.close(s);
  co_return total;
}

Task<int> net_echo_main(Context& cx) {
  if (cx.initial_handles().size() != 1) co_return 10;
  const Handle net = cx.initial_handles()[0];
  // What the grant does not allow, and what is malformed.
  auto other = co_await cx.listen(net, abi::ipv4_endpoint(0x0a000001, 0));  // 10.0.0.1: not granted
  if (other || other.status() != Status::access_denied) co_return 11;
  auto bad = co_await cx.listen(net, std::uint64_t{1} << 50);
  if (bad || bad.status() != Status::invalid_argument) co_return 12;
  auto c = co_await cx.connect(net, abi::ipv4_endpoint(kLoopback, 9));  // a listen-only grant
  if (c || c.status() != Status::access_denied) co_return 13;

  auto l = co_await cx.listen(net, abi::ipv4_endpoint(kLoopback, 0));
  if (!l || l->port == 0) co_return 14;
  // A second listener on the same port: the host says it is taken.
  auto again = co_await cx.listen(net, abi::ipv4_endpoint(kLoopback, l->port));
  if (again || again.status() != Status::address_in_use) co_return 15;
  g_net->port.store(l->port);
  for (int i = 0; i < g_net->connections.load(); ++i) {
    auto s = co_await cx.accept(l->listener);
    if (!s) co_return 16;
    if (const std::uint64_t late = g_net->late_ns.load(); late != 0) (void)co_await cx.sleep(late);
    const std::int64_t n = co_await echo_stream(cx, *s);
    if (n < 0) co_return 17;
  }
  (void)co_await cx.close(l->listener);
  co_return 0;
}
PLATYPOS_USER_PROGRAM("t-net-echo", net_echo_main);

// Multishot: one accept entry for every connection; each stream gets its own echo task.
struct MultiState {
  Context* cx;
  int accepted = 0;
};
Task<void> echo_task(Context& cx, Handle s, int* done) {
  // (Not `if (co_await ...)` as a Task<void>'s last statement: g++ 12 miscompiles that shape, docs/rings.md.)
  const std::int64_t n = co_await echo_stream(cx, s);
  *done += n >= 0 ? 1 : 0;
  co_return;
}
Task<int> net_multi_main(Context& cx) {
  const Handle net = cx.initial_handles()[0];
  auto l = co_await cx.listen(net, abi::ipv4_endpoint(kLoopback, 0));
  if (!l) co_return 20;
  static int done = 0;
  done = 0;
  MultiState st{&cx};
  auto on_connection = [](void* c, Handle h) {
    auto* m = static_cast<MultiState*>(c);
    ++m->accepted;
    m->cx->spawn(echo_task(*m->cx, h, &done));
  };
  cx.spawn([](Context& c, Handle listener, MultiState* m, void (*f)(void*, Handle)) -> Task<void> {
    (void)co_await c.accept_each(listener, f, m);  // armed until the process ends
  }(cx, l->listener, &st, on_connection));
  g_net->port.store(l->port);
  const int want = g_net->connections.load();
  while (done < want) (void)co_await cx.sleep(1'000'000);
  co_return st.accepted == want ? 0 : 21;
}
PLATYPOS_USER_PROGRAM("t-net-multi", net_multi_main);

// Out of handles: a table of 5 (the process itself, the grant, the listener, two streams). The third connection is closed by the kernel
// and the accept fails with no_resources; once a stream is closed, the next connection is accepted again.
Task<int> net_full_main(Context& cx) {
  const Handle net = cx.initial_handles()[0];
  auto l = co_await cx.listen(net, abi::ipv4_endpoint(kLoopback, 0));
  if (!l) co_return 30;
  g_net->port.store(l->port);
  auto a = co_await cx.accept(l->listener);
  auto b = co_await cx.accept(l->listener);
  if (!a || !b) co_return 31;
  auto c = co_await cx.accept(l->listener);
  if (c || c.status() != Status::no_resources) co_return 32;
  g_net->connections.store(-1);  // tells the client the third was refused
  (void)co_await cx.close(*a);
  auto d = co_await cx.accept(l->listener);
  if (!d) co_return 33;
  if (co_await echo_stream(cx, *d) < 0) co_return 34;
  (void)co_await cx.close(*b);
  co_return 0;
}
PLATYPOS_USER_PROGRAM("t-net-full", net_full_main);

// Malformed and hostile entries for the socket ops, raw: each gets its specific status and changes nothing (the
// stream still echoes afterwards).
using testing::raw;
using testing::st;

Task<int> net_hostile_main(Context& cx) {
  using abi::Op;
  const Handle net = cx.initial_handles()[0];
  auto l = co_await cx.listen(net, abi::ipv4_endpoint(kLoopback, 0));
  if (!l) co_return 40;
  const std::uint32_t lh = l->listener.value;
  if (co_await raw(cx, Op::net_listen, net.value, 0, 0, abi::ipv4_endpoint(kLoopback, 0), abi::kMaxBacklog + 1) !=
      st(Status::invalid_argument))
    co_return 41;  // backlog above the limit
  if (co_await raw(cx, Op::net_accept, lh, 0, 0, 2) != st(Status::invalid_argument)) co_return 42;  // unknown flag
  if (co_await raw(cx, Op::net_accept, lh, 0, 0, abi::kAcceptMultishot, 0, abi::kSqeNonBlocking) !=
      st(Status::invalid_argument))
    co_return 43;  // multishot cannot be non-blocking
  if (co_await raw(cx, Op::net_accept, lh, 0, 0, 0, 0, abi::kSqeNonBlocking) != st(Status::would_block))
    co_return 44;
  if (co_await raw(cx, Op::net_accept, net.value) != st(Status::wrong_type)) co_return 45;  // a grant, not a listener
  if (co_await raw(cx, Op::net_listen, lh, 0, 0, abi::ipv4_endpoint(kLoopback, 0)) != st(Status::wrong_type))
    co_return 46;
  g_net->port.store(l->port);
  auto s = co_await cx.accept(l->listener);
  if (!s) co_return 47;
  const std::uint32_t sh = s->value;
  char buf[64];
  const auto at = reinterpret_cast<std::uint64_t>(buf);
  const auto mem = reinterpret_cast<std::uint64_t>(cx.env().memory);
  const std::uint64_t end = mem + cx.env().memory_bytes;
  if (co_await raw(cx, Op::net_recv, sh, end - 8, 64) != st(Status::out_of_range)) co_return 48;  // runs off the end
  if (co_await raw(cx, Op::net_send, sh, 8, 64) != st(Status::out_of_range)) co_return 49;        // not its memory
  if (co_await raw(cx, Op::net_recv, lh, at, 64) != st(Status::wrong_type)) co_return 50;          // a listener
  if (co_await raw(cx, Op::net_send, sh, at, 8, 1) != st(Status::invalid_argument)) co_return 51;  // arg0 unused
  if (co_await raw(cx, Op::net_shutdown, sh, 0, 0, 0) != st(Status::invalid_argument)) co_return 52;
  if (co_await raw(cx, Op::net_shutdown, sh, 0, 0, 4) != st(Status::invalid_argument)) co_return 53;
  auto ro = co_await cx.duplicate(*s, abi::rights::read | abi::rights::wait);
  if (!ro || co_await raw(cx, Op::net_send, ro->value, at, 8) != st(Status::access_denied)) co_return 54;
  (void)co_await cx.close(*ro);
  if (co_await raw(cx, Op::net_recv, ro->value, at, 8) != st(Status::bad_handle)) co_return 55;  // closed
  // Nothing above changed the stream: it echoes as if they had not happened.
  if (co_await echo_stream(cx, *s) < 0) co_return 56;
  (void)co_await cx.close(l->listener);
  co_return 0;
}
PLATYPOS_USER_PROGRAM("t-net-hostile", net_hostile_main);

// Provided buffers: echo through a pool of 4 buffers, single-shot and multishot; the pool's rules on bad input.
constexpr std::uint32_t kPoolBuf = 16 * 1024, kPoolBufs = 4;
struct PoolEcho {
  Context* cx;
  char* region;
  std::int64_t queue[64] = {};  // arrivals (bytes | buffer << 32), in order
  unsigned head = 0, tail = 0;
  bool failed = false;
};
Task<int> net_pool_main(Context& cx) {
  using abi::Op;
  const Handle net = cx.initial_handles()[0];
  auto l = co_await cx.listen(net, abi::ipv4_endpoint(kLoopback, 0));
  if (!l) co_return 60;
  char* region = static_cast<char*>(cx.heap().alloc(kPoolBuf * kPoolBufs));
  auto pool = co_await cx.pool_create({region, kPoolBuf * kPoolBufs}, kPoolBuf);
  if (!pool) co_return 61;
  // Bad input: sizes, a region outside the program, providing what is free, beyond the pool; no duplicates.
  const auto at = reinterpret_cast<std::uint64_t>(region);
  if (co_await raw(cx, Op::net_pool_create, 0, at, 1000, 300) != st(Status::invalid_argument)) co_return 62;
  if (co_await raw(cx, Op::net_pool_create, 0, at, 4096, 32) != st(Status::invalid_argument)) co_return 63;
  if (co_await raw(cx, Op::net_pool_create, 0, 8, 4096, 1024) != st(Status::out_of_range)) co_return 64;
  if (co_await raw(cx, Op::net_pool_provide, pool->value, 0, 0, 0, 1) != st(Status::bad_state)) co_return 65;
  if (co_await raw(cx, Op::net_pool_provide, pool->value, 0, 0, 3, 2) != st(Status::out_of_range)) co_return 66;
  auto dup = co_await cx.duplicate(*pool, abi::rights::read);
  if (dup || dup.status() != Status::access_denied) co_return 67;
  g_net->port.store(l->port);
  // Connection 1: single-shot receives into the pool, each buffer sent back, then provided again.
  auto s = co_await cx.accept(l->listener);
  if (!s) co_return 68;
  if (co_await raw(cx, Op::net_recv_pool, s->value, 0, 0, net.value) != st(Status::wrong_type)) co_return 69;
  if (co_await raw(cx, Op::net_recv_pool, s->value, 0, 0, pool->value, 2) != st(Status::invalid_argument)) co_return 70;
  for (;;) {
    auto r = co_await cx.recv_pooled(*s, *pool);
    if (!r) co_return 71;
    if (r->bytes == 0) break;
    if (r->buffer >= kPoolBufs || r->bytes > kPoolBuf) co_return 72;
    const char* data = region + std::size_t{r->buffer} * kPoolBuf;
    std::uint64_t off = 0;
    while (off < r->bytes) {
      auto w = co_await cx.send(*s, {data + off, static_cast<std::size_t>(r->bytes - off)});
      if (!w) co_return 73;
      off += *w;
    }
    if (!co_await cx.pool_provide(*pool, r->buffer, 1)) co_return 74;
  }
  (void)co_await cx.close(*s);
  // Connection 2: one multishot receive; arrivals queue up and one task sends them back in order. When the pool
  // runs dry the receive ends with no_resources: re-armed once buffers come back.
  auto s2 = co_await cx.accept(l->listener);
  if (!s2) co_return 75;
  static PoolEcho e;
  e = PoolEcho{};
  e.cx = &cx;
  e.region = region;
  auto on_data = [](void* ctx, std::int64_t v) {
    auto* pe = static_cast<PoolEcho*>(ctx);
    if (pe->tail - pe->head == 64) {
      pe->failed = true;
      return;
    }
    pe->queue[pe->tail++ % 64] = v;
  };
  bool ended = false;
  static bool* ended_flag;
  ended_flag = &ended;
  cx.spawn([](Context& c, Handle stream, Handle p, void (*f)(void*, std::int64_t)) -> Task<void> {
    for (;;) {
      auto r = co_await c.recv_each(stream, p, f, &e);
      if (r && r->bytes == 0) break;  // the end of the stream
      if (!r && r.status() == Status::no_resources) {
        while (e.tail - e.head == kPoolBufs) (void)co_await c.sleep(100'000);  // until one is provided
        continue;
      }
      e.failed = true;
      break;
    }
    *ended_flag = true;
  }(cx, *s2, *pool, on_data));
  for (;;) {
    if (e.head == e.tail) {
      if (ended || e.failed) break;
      (void)co_await cx.sleep(50'000);
      continue;
    }
    const auto v = static_cast<std::uint64_t>(e.queue[e.head % 64]);
    const std::uint32_t id = static_cast<std::uint32_t>(v >> 32);
    const std::uint64_t n = v & 0xffffffffu;
    const char* data = region + std::size_t{id} * kPoolBuf;
    std::uint64_t off = 0;
    while (off < n) {
      auto w = co_await cx.send(*s2, {data + off, static_cast<std::size_t>(n - off)});
      if (!w) co_return 76;
      off += *w;
    }
    ++e.head;
    if (!co_await cx.pool_provide(*pool, id, 1)) co_return 77;
  }
  if (e.failed) co_return 78;
  (void)co_await cx.close(*s2);
  (void)co_await cx.close(l->listener);
  co_return 0;
}
PLATYPOS_USER_PROGRAM("t-net-pool", net_pool_main);

int connect_loopback(u16 port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{5, 0};  // a program that died must not hang the test
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(kLoopback);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends `payload` and reads back as many bytes; true if they match.
bool echo_once(u16 port, const std::string& payload) {
  const int fd = connect_loopback(port);
  if (fd < 0) return false;
  std::thread writer([&] {
    usize off = 0;
    while (off < payload.size()) {
      const ssize_t n = ::send(fd, payload.data() + off, payload.size() - off, MSG_NOSIGNAL);
      if (n <= 0) break;
      off += static_cast<usize>(n);
    }
    ::shutdown(fd, SHUT_WR);
  });
  std::string back;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    back.append(buf, static_cast<usize>(n));
  }
  writer.join();
  ::close(fd);
  return back == payload;
}

struct NetRun {
  i64 exit_code = -1;
  u64 open_after = 0;
  u64 sockets_after = 0;
};

NetRun run_echo(std::function<void(u16)> client, int connections, const char* program = "t-net-echo",
             u32 handles = abi::kProcessHandles, std::uint64_t late_ns = 0) {
  NetShared shared;
  shared.connections = connections;
  shared.late_ns = late_ns;
  g_net = &shared;
  NetRun out;
  RingWorld w(4, 1, 7, RingWorld::Mode::threads);
  hosted::UringNet net(1);
  w.runtime().set_net(net.device());
  struct Ctx {
    RingWorld* w;
    NetRun* out;
    const char* program;
    u32 handles;
  } ctx{&w, &out, program, handles};
  w.scheduler()
      .create_task(
          sched::kNoProcess, "supervisor",
          [](void* a) {
            auto* c = static_cast<Ctx*>(a);
            Runtime& rt = c->w->runtime();
            rt.start(1).expect("ring servers");
            const io::NetRule rule{.address = kLoopback, .port_first = 0, .port_last = 65535, .listen = true};
            auto grant = io::NetGrant::create(nullptr, {&rule, 1}).expect("grant");
            cap::Capability caps[1] = {{grant.leak(), cap::Rights::listen | cap::Rights::duplicate, 0}};
            auto p = rt.launch({.program = c->program, .memory_bytes = 8 * MiB, .handles = c->handles}, caps).expect("launch");
            (void)cap::wait_signals(*p, cap::kSignalExited, 0);
            c->out->exit_code = p->exit_code();
            p.reset();
            RingWorld::finish(rt);
          },
          &ctx)
      .expect("supervisor");
  std::thread client_thread([&] {
    // (A program that ends before it listens must not leave the client waiting for good.)
    while (shared.port.load() == 0 && !shared.finished.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (shared.port.load() != 0) client(shared.port.load());
  });
  w.simulate();
  shared.finished.store(true);
  client_thread.join();
  out.open_after = net.open_sockets();
  out.sockets_after = io::Socket::live_sockets();
  g_net = nullptr;
  return out;
}

// recv from provided buffers, single-shot then multishot, with a 3 MiB transfer through a pool of four 16 KiB
// buffers (so it runs dry, again and again, and is re-armed).
TEST(NetHosted, ReceivesIntoProvidedBuffersEchoAndThePoolRefusesBadInput) {
  std::string payload(3 * 1024 * 1024, '\0');
  for (usize i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + (i * 7919) % 26);
  bool ok1 = false, ok2 = false;
  const NetRun r = run_echo(
      [&](u16 port) {
        ok1 = echo_once(port, payload);
        ok2 = echo_once(port, payload);
      },
      2, "t-net-pool");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(ok1);
  EXPECT_TRUE(ok2);
  EXPECT_EQ(r.open_after, 0u);
  EXPECT_EQ(r.sockets_after, 0u);
}

TEST(NetHosted, AProgramEchoesARealClientOverLoopback) {
  bool ok = false;
  const NetRun r = run_echo([&](u16 port) { ok = echo_once(port, "hello, platypos\n"); }, 1);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(ok);
  EXPECT_EQ(r.open_after, 0u);
  EXPECT_EQ(r.sockets_after, 0u);
}

// More than the receive and send queues hold (256 KiB each way), so both fill: the program's recv/send and the
// device's backpressure carry it through, byte for byte.
TEST(NetHosted, ABulkTransferLargerThanTheQueuesArrivesIntact) {
  std::string payload(3 * 1024 * 1024, '\0');
  for (usize i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + (i * 7919) % 26);
  bool ok = false;
  const NetRun r = run_echo([&](u16 port) { ok = echo_once(port, payload); }, 1);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(ok);
  EXPECT_EQ(r.open_after, 0u);
  EXPECT_EQ(r.sockets_after, 0u);
}

// The program reads only once the client has sent a megabyte: the receive queue fills up to its limit and the device
// stops, and the program's reads must start it again. (A queue filled to exactly its limit once left the device
// waiting for good. This test does not hit that exact fill reliably, since Linux decides the recv sizes; the kv
// clients test's 1 MB item on a fresh connection did, every time, until the fix.)
TEST(NetHosted, AReceiveQueueFilledToItsLimitResumesWhenTheProgramReads) {
  std::string payload(1024 * 1024, 'q');
  bool ok = false;
  const NetRun r = run_echo([&](u16 port) { ok = echo_once(port, payload); }, 1, "t-net-echo",
                            abi::kProcessHandles, 300'000'000);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(ok);
  EXPECT_EQ(r.sockets_after, 0u);
}

TEST(NetHosted, MalformedAndHostileEntriesGetTheirStatusAndChangeNothing) {
  bool ok = false;
  const NetRun r = run_echo([&](u16 port) { ok = echo_once(port, "still echoes"); }, 1, "t-net-hostile");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(ok);
  EXPECT_EQ(r.open_after, 0u);
  EXPECT_EQ(r.sockets_after, 0u);
}

TEST(NetHosted, ConnectionsOneAfterAnotherEachGetTheirOwnStream) {
  int good = 0;
  const NetRun r = run_echo(
      [&](u16 port) {
        for (int i = 0; i < 5; ++i) good += echo_once(port, "connection " + std::to_string(i)) ? 1 : 0;
      },
      5);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(good, 5);
  EXPECT_EQ(r.open_after, 0u);
  EXPECT_EQ(r.sockets_after, 0u);
}

TEST(NetHosted, AMultishotAcceptServesConcurrentClients) {
  std::atomic<int> good{0};
  const NetRun r = run_echo(
      [&](u16 port) {
        std::vector<std::thread> clients;
        for (int i = 0; i < kClients; ++i) {
          clients.emplace_back([&, i] {
            if (echo_once(port, std::string(1000 + i * 5000, static_cast<char>('A' + i)))) ++good;
          });
        }
        for (auto& t : clients) t.join();
      },
      kClients, "t-net-multi");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(good.load(), kClients);
  EXPECT_EQ(r.open_after, 0u);
  EXPECT_EQ(r.sockets_after, 0u);
}

TEST(NetHosted, AProgramOutOfHandlesHasTheNewConnectionClosedAndGoesOn) {
  bool third_closed = false;
  bool fourth_echoed = false;
  const NetRun r = run_echo(
      [&](u16 port) {
        const int a = connect_loopback(port);
        const int b = connect_loopback(port);
        const int c = connect_loopback(port);
        // The third: closed by the kernel, so the client reads the end of the stream (or a reset).
        char byte = 0;
        const ssize_t n = ::recv(c, &byte, 1, 0);
        third_closed = n <= 0;
        while (g_net->connections.load() != -1 && !g_net->finished.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        fourth_echoed = echo_once(port, "after a close");
        ::close(a);
        ::close(b);
        ::close(c);
      },
      1, "t-net-full", 5);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(third_closed);  // (exit codes: net_full_main's checks)
  EXPECT_TRUE(fourth_echoed);
  EXPECT_EQ(r.open_after, 0u);
  EXPECT_EQ(r.sockets_after, 0u);
}

}  // namespace
}  // namespace platypos::ring
