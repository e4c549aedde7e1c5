// The example programs (examples/), end to end in the simulator: each one's own verdict (exit code or verdict
// channel), what it printed on the console, the demo as a whole, determinism, and programs that feed the servers
// malformed or forged input. Console lines are captured from the hosted console logger (without the sim prefix).

#include <platypos/examples/demo.hpp>
#include <platypos/hosted/console.hpp>
#include <platypos/user/context.hpp>

#include <spdlog/sinks/ostream_sink.h>

#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "../../../examples/objstore/wire.hpp"
#include "../../../examples/support/args.hpp"
#include "../../../examples/support/random.hpp"
#include "../../../examples/support/verdict.hpp"
#include "ring_world.hpp"

namespace platypos::ring {
namespace {

using examples::Args;
using examples::Random;
using testing::Launch;
using testing::Outcome;
using testing::RingWorld;
using user::Context;
using user::Handle;
using user::Status;
using user::Task;

// --- Harness programs: wire examples together the way the demo does, one example at a time ---------------------

// Splits "a|b|c" into at most `n` parts.
std::size_t split(std::string_view text, std::string_view* parts, std::size_t n) {
  std::size_t k = 0;
  while (k < n) {
    const std::size_t bar = text.find('|');
    parts[k++] = text.substr(0, bar);
    if (bar == std::string_view::npos) break;
    text.remove_prefix(bar + 1);
  }
  return k;
}

// Spawns `command` (copied into program memory) with `handles` and a verdict channel; gives the process handle and
// our end of the verdict channel.
Task<Status> spawn_with_verdict(Context& cx, std::string_view command, u32 cores, u64 memory,
                                std::span<const Handle> handles, Handle* process, Handle* verdict) {
  auto v = co_await cx.channel_create();
  if (!v) co_return v.status();
  char text[128];
  if (command.size() > sizeof text) co_return Status::invalid_argument;
  for (std::size_t i = 0; i < command.size(); ++i) text[i] = command[i];
  Handle give[4];
  for (std::size_t i = 0; i < handles.size(); ++i) give[i] = handles[i];
  give[handles.size()] = v->b;
  auto p = co_await cx.spawn_process({text, command.size()}, cores, memory,
                                     std::span<const Handle>(give, handles.size() + 1));
  if (!p) co_return p.status();
  *process = *p;
  *verdict = v->a;
  co_return Status::ok;
}

// Collects a child's verdict and waits for it to exit: its code (examples::kNoVerdict if it died first).
Task<int> finish(Context& cx, Handle process, Handle verdict) {
  const int code = co_await examples::read_verdict(cx, verdict);
  auto w = co_await cx.wait(process, abi::signals::exited);
  co_return w.ok() ? code : -2000;
}

// t-echo "<server cores>|<echo-server args>|<echo-client args>": exit code 0 if both verdicts are 0, else
// 10 + server code (server failed) or 20 + client code.
Task<int> t_echo(Context& cx) {
  std::string_view parts[3];
  if (split(cx.args(), parts, 3) != 3) co_return 99;
  u64 server_cores = 1;
  if (!Args::parse_u64(parts[0], &server_cores)) co_return 98;
  auto ch = co_await cx.channel_create();
  if (!ch) co_return 97;
  char cmd[128];
  std::size_t n = 0;
  auto put = [&](std::string_view s) {
    for (char c : s)
      if (n < sizeof cmd) cmd[n++] = c;
  };
  put("echo-server ");
  put(parts[1]);
  Handle sp, sv, cp, cv;
  const Handle s_h[1] = {ch->b};
  if (co_await spawn_with_verdict(cx, {cmd, n}, static_cast<u32>(server_cores), 4 * MiB, s_h, &sp, &sv) != Status::ok) {
    co_return 96;
  }
  n = 0;
  put("echo-client ");
  put(parts[2]);
  const Handle c_h[1] = {ch->a};
  if (co_await spawn_with_verdict(cx, {cmd, n}, 1, 4 * MiB, c_h, &cp, &cv) != Status::ok) co_return 95;
  const int client = co_await finish(cx, cp, cv);
  const int server = co_await finish(cx, sp, sv);
  if (server != 0) co_return 10 + server;
  if (client != 0) co_return 20 + client;
  co_return 0;
}
PLATYPOS_USER_PROGRAM("t-echo", t_echo);

// t-echo-abuse: sends echo-server a message too big for it and one carrying a handle, then a proper one, which must
// come back as it was. 0, or the number of the check that failed.
Task<int> t_echo_abuse(Context& cx) {
  auto ch = co_await cx.channel_create();
  if (!ch) co_return 99;
  char cmd[] = "echo-server work_ns=100";
  Handle sp, sv;
  const Handle h[1] = {ch->b};
  if (co_await spawn_with_verdict(cx, {cmd, sizeof cmd - 1}, 1, 4 * MiB, h, &sp, &sv) != Status::ok) co_return 98;
  char* big = static_cast<char*>(cx.heap().alloc(20'000));
  if (big == nullptr) co_return 97;
  for (int i = 0; i < 20'000; ++i) big[i] = static_cast<char>(i);
  if (!co_await cx.write(ch->a, {big, 20'000})) co_return 1;
  auto mem = co_await cx.memory_create(4096);
  if (!mem) co_return 96;
  const Handle give[1] = {*mem};
  if (!co_await cx.write(ch->a, {big, 16}, give)) co_return 2;
  char msg[32];
  for (int i = 0; i < 32; ++i) msg[i] = static_cast<char>('a' + i % 26);
  if (!co_await cx.write(ch->a, {msg, 32})) co_return 3;
  char back[64] = {};
  auto r = co_await cx.read(ch->a, back);
  if (!r || r->bytes != 32 || std::string_view(back, 32) != std::string_view(msg, 32)) co_return 4;
  (void)co_await cx.close(ch->a);
  if (co_await finish(cx, sp, sv) != 0) co_return 5;
  co_return 0;
}
PLATYPOS_USER_PROGRAM("t-echo-abuse", t_echo_abuse);

// t-store "<alice args>|<bob args>": object-store with two clients, as in the demo. 0 if all three verdicts are 0.
Task<int> t_store(Context& cx) {
  std::string_view parts[2];
  if (split(cx.args(), parts, 2) != 2) co_return 99;
  auto conn_a = co_await cx.channel_create();
  auto conn_b = co_await cx.channel_create();
  auto peers = co_await cx.channel_create();
  if (!conn_a || !conn_b || !peers) co_return 98;
  char cmd[128];
  std::size_t n = 0;
  auto put = [&](std::string_view s) {
    for (char c : s)
      if (n < sizeof cmd) cmd[n++] = c;
  };
  Handle p[3], v[3];
  put("object-store clients=2");
  const Handle store_h[2] = {conn_a->b, conn_b->b};
  if (co_await spawn_with_verdict(cx, {cmd, n}, 1, 8 * MiB, store_h, &p[0], &v[0]) != Status::ok) co_return 97;
  n = 0;
  put("store-client role=put ");
  put(parts[0]);
  const Handle a_h[2] = {conn_a->a, peers->a};
  if (co_await spawn_with_verdict(cx, {cmd, n}, 1, 4 * MiB, a_h, &p[1], &v[1]) != Status::ok) co_return 96;
  n = 0;
  put("store-client role=get ");
  put(parts[1]);
  const Handle b_h[2] = {conn_b->a, peers->b};
  if (co_await spawn_with_verdict(cx, {cmd, n}, 1, 4 * MiB, b_h, &p[2], &v[2]) != Status::ok) co_return 95;
  int codes[3];
  for (int i = 0; i < 3; ++i) codes[i] = co_await finish(cx, p[i], v[i]);
  for (int i = 0; i < 3; ++i)
    if (codes[i] != 0) co_return 10 * (i + 1) + (codes[i] < 0 ? 9 : codes[i]);
  co_return 0;
}
PLATYPOS_USER_PROGRAM("t-store", t_store);

// t-store-abuse: talks to an object-store directly with malformed and hostile requests, then checks that it still
// serves a proper put/get. Exit code: 0, or the number of the first check that failed.
Task<int> t_store_abuse(Context& cx) {
  using namespace examples::objstore;
  auto conn = co_await cx.channel_create();
  if (!conn) co_return 99;
  char cmd[] = "object-store clients=1";
  char text[sizeof cmd];
  for (std::size_t i = 0; i < sizeof cmd; ++i) text[i] = cmd[i];
  Handle sp, sv;
  const Handle h[1] = {conn->b};
  if (co_await spawn_with_verdict(cx, {text, sizeof cmd - 1}, 1, 8 * MiB, h, &sp, &sv) != Status::ok) co_return 98;
  const Handle ch = conn->a;
  char* buf = static_cast<char*>(cx.heap().alloc(kMaxReply));
  Handle in[2];
  // Sends `bytes` with `handles`, reads the reply: its status (or -1 if the reply is malformed).
  auto exchange = [&](Context& c, std::span<const char> bytes, std::span<const Handle> handles) -> Task<int> {
    if (!co_await c.write(ch, bytes, handles)) co_return -2;
    auto r = co_await c.read(ch, {buf, kMaxReply}, in);
    if (!r || r->bytes < sizeof(ReplyHeader)) co_return -1;
    ReplyHeader rh;
    __builtin_memcpy(&rh, buf, sizeof rh);
    for (u32 i = 0; i < r->handles; ++i) (void)co_await c.close(in[i]);
    co_return rh.magic == ReplyHeader::kMagic ? rh.status : -1;
  };
  constexpr int kInvalid = static_cast<int>(Status::invalid_argument);
  // 1: too short to be a request.
  char junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  if (co_await exchange(cx, {junk, 8}, {}) != kInvalid) co_return 1;
  // 2: bad magic.
  RequestHeader req;
  req.magic = 0xdeadbeef;
  if (co_await exchange(cx, {reinterpret_cast<char*>(&req), sizeof req}, {}) != kInvalid) co_return 2;
  // 3: length says more than the message has.
  req = RequestHeader{};
  req.length = 100;
  if (co_await exchange(cx, {reinterpret_cast<char*>(&req), sizeof req}, {}) != kInvalid) co_return 3;
  // 4: an unknown op.
  req = RequestHeader{};
  req.op = static_cast<StoreOp>(77);
  if (co_await exchange(cx, {reinterpret_cast<char*>(&req), sizeof req}, {}) !=
      static_cast<int>(Status::not_supported)) {
    co_return 4;
  }
  // 5: get with two handles (two memory objects): refused, and both are closed by the store.
  auto m1 = co_await cx.memory_create(4096);
  auto m2 = co_await cx.memory_create(4096);
  if (!m1 || !m2) co_return 50;
  req = RequestHeader{};
  req.op = StoreOp::get;
  const Handle two[2] = {*m1, *m2};
  if (co_await exchange(cx, {reinterpret_cast<char*>(&req), sizeof req}, two) != kInvalid) co_return 5;
  // 6: more handles than the store reads (8): dropped with invalid_argument.
  Handle many[8];
  for (auto& m : many) {
    auto mm = co_await cx.memory_create(4096);
    if (!mm) co_return 60;
    m = *mm;
  }
  if (co_await exchange(cx, {reinterpret_cast<char*>(&req), sizeof req}, many) != kInvalid) co_return 6;
  // 7: put of 0 bytes.
  req = RequestHeader{};
  if (co_await exchange(cx, {reinterpret_cast<char*>(&req), sizeof req}, {}) != kInvalid) co_return 7;
  // 8: a reference minted by us (our own key) for a get: access_denied.
  auto forged = co_await cx.ref_create(cx.self(), 0);
  if (!forged) co_return 80;
  req = RequestHeader{};
  req.op = StoreOp::del;
  const Handle f[1] = {*forged};
  if (co_await exchange(cx, {reinterpret_cast<char*>(&req), sizeof req}, f) !=
      static_cast<int>(Status::access_denied)) {
    co_return 8;
  }
  // 9: still serving: a put and a get of the result.
  char* msg = static_cast<char*>(cx.heap().alloc(sizeof(RequestHeader) + 300));
  req = RequestHeader{};
  req.length = 300;
  __builtin_memcpy(msg, &req, sizeof req);
  for (int i = 0; i < 300; ++i) msg[sizeof req + i] = static_cast<char>(i * 7);
  if (!co_await cx.write(ch, {msg, sizeof req + 300})) co_return 90;
  auto r = co_await cx.read(ch, {buf, kMaxReply}, in);
  if (!r || r->handles != 1) co_return 9;
  req = RequestHeader{};
  req.op = StoreOp::get;
  const Handle ref[1] = {in[0]};
  if (!co_await cx.write(ch, {reinterpret_cast<char*>(&req), sizeof req}, ref)) co_return 91;
  r = co_await cx.read(ch, {buf, kMaxReply}, in);
  if (!r || r->bytes != sizeof(ReplyHeader) + 300) co_return 92;
  for (int i = 0; i < 300; ++i)
    if (buf[sizeof(ReplyHeader) + i] != static_cast<char>(i * 7)) co_return 93;
  (void)co_await cx.close(ch);
  if (co_await finish(cx, sp, sv) != 0) co_return 94;
  co_return 0;
}
PLATYPOS_USER_PROGRAM("t-store-abuse", t_store_abuse);

// --- Console capture -----------------------------------------------------------------------------------------------

class ExamplesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sink_ = std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_);
    sink_->set_pattern("%v");
    hosted::console_logger().sinks().push_back(sink_);
  }
  void TearDown() override {
    auto& sinks = hosted::console_logger().sinks();
    std::erase(sinks, sink_);
  }

  // Console lines so far, without the simulator's "[time cpu N] " prefix; kernel log lines left out.
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    std::istringstream in(stream_.str());
    for (std::string l; std::getline(in, l);) {
      if (l.size() > 1 && l[0] == '[') {
        const auto end = l.find("] ");
        if (end != std::string::npos && l.find(" cpu ") < end) l = l.substr(end + 2);
      }
      out.push_back(l);
    }
    return out;
  }
  std::vector<std::string> matching(const std::string& re) const {
    std::vector<std::string> out;
    const std::regex r(re);
    for (const std::string& l : lines())
      if (std::regex_search(l, r)) out.push_back(l);
    return out;
  }
  std::string all() const { return stream_.str(); }

  static void expect_clean(const Outcome& out) {
    ASSERT_FALSE(out.report.stuck) << out.report.stuck_reason;
    EXPECT_EQ(Ring::live_rings(), 0u);
  }

  std::ostringstream stream_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

// --- Echo ------------------------------------------------------------------------------------------------------------

TEST_F(ExamplesTest, EchoEveryRequestGetsItsReply) {
  RingWorld w(6, 1);
  const auto out = w.run({{"t-echo", "1|work_ns=3000|rate=40000 count=1500 size=200 seed=3"}});
  expect_clean(out);
  EXPECT_EQ(out.exit_codes[0], 0) << all();
  const auto report =
      matching(R"(^echo-client: 1500 requests of 200 B offered at 40000/s .*: 1500 replies, all verified$)");
  EXPECT_EQ(report.size(), 1u) << all();
  const auto served = matching(R"(^echo-server: core 0 served 1500 requests \(3000 ns of work each\))");
  EXPECT_EQ(served.size(), 1u) << all();
  const auto latency = matching(
      R"(^echo-client: \d+ req/s over [0-9.]+ ms; latency p50 ([0-9.]+) us, p99 ([0-9.]+) us, p99\.9 ([0-9.]+) us, max ([0-9.]+) us$)");
  ASSERT_EQ(latency.size(), 1u) << all();
  // Every request costs at least the server's work.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      latency[0], m, std::regex(R"(p50 ([0-9.]+) us, p99 ([0-9.]+) us, p99\.9 ([0-9.]+) us, max ([0-9.]+))")));
  const double p50 = std::stod(m[1]), p99 = std::stod(m[2]), p999 = std::stod(m[3]), max = std::stod(m[4]);
  EXPECT_GE(p50, 3.0);
  EXPECT_LE(p50, p99);
  EXPECT_LE(p99, p999);
  EXPECT_LE(p999, max);
}

TEST_F(ExamplesTest, EchoServerOnTwoCoresSharesTheChannel) {
  RingWorld w(6, 1);
  const auto out = w.run({{"t-echo", "2|work_ns=20000|rate=80000 count=600 size=64 seed=5"}});
  expect_clean(out);
  EXPECT_EQ(out.exit_codes[0], 0) << all();
  EXPECT_EQ(matching(R"(^echo-client: .*: 600 replies, all verified$)").size(), 1u) << all();
  // Both cores served, together all of it.
  const auto served = matching(R"(^echo-server: core \d served (\d+) requests)");
  ASSERT_EQ(served.size(), 2u) << all();
  u64 total = 0;
  for (const std::string& l : served) {
    std::smatch m;
    ASSERT_TRUE(std::regex_search(l, m, std::regex(R"(served (\d+) requests)")));
    EXPECT_GT(std::stoull(m[1]), 0u) << l;
    total += std::stoull(m[1]);
  }
  EXPECT_EQ(total, 600u);
}

TEST_F(ExamplesTest, EchoClientRefusesBadArguments) {
  RingWorld w(8, 1);
  const auto out = w.run({{"t-echo", "1|work_ns=1|rate=0 count=10"}, {"t-echo", "1||size=5"}});
  expect_clean(out);
  EXPECT_EQ(out.exit_codes[0], 22);  // client verdict 2: usage
  EXPECT_EQ(out.exit_codes[1], 22);
}

TEST_F(ExamplesTest, EchoServerDropsWhatIsNotARequest) {
  RingWorld w(4, 1);
  const auto out = w.run({{"t-echo-abuse"}});
  expect_clean(out);
  EXPECT_EQ(out.exit_codes[0], 0) << all();
  EXPECT_EQ(matching("^echo-server: core 0 served 1 requests \\(100 ns of work each\\), dropped 2 that were not "
                     "requests, then the client hung up$")
                .size(),
            1u)
      << all();
}

// --- Log shipping ----------------------------------------------------------------------------------------------------

TEST_F(ExamplesTest, LogDaemonShipsEveryRecordOfEveryApp) {
  RingWorld w(6, 1);
  const auto out = w.run({{"log-daemon", "apps=3 records=12 interval_us=300 seed=4"}});
  expect_clean(out);
  EXPECT_EQ(out.exit_codes[0], 0) << all();
  for (const char* app : {"app-a", "app-b", "app-c"}) {
    const auto recs = matching(std::string("^\\[") + app + "\\] #");
    ASSERT_EQ(recs.size(), 12u) << app << "\n" << all();
    for (std::size_t k = 0; k < recs.size(); ++k) {
      EXPECT_EQ(recs[k].rfind(std::string("[") + app + "] #" + std::to_string(k + 1) + " ", 0), 0u) << recs[k];
    }
    // The app itself could not read its own namespace.
    EXPECT_EQ(recs[0], std::string("[") + app + "] #1 " + app + " up; log_read on my own log: access_denied");
  }
  EXPECT_EQ(matching("^log-daemon: app-a's handle has rights write\\+transfer; log_read on it: access_denied$").size(),
            1u);
  EXPECT_EQ(
      matching("^log-daemon: shipped 36 records from 3 apps; every app exited, every namespace drained: ok$").size(),
      1u)
      << all();
}

TEST_F(ExamplesTest, LogDaemonKeepsUpWithAFloodIntoSmallNamespaces) {
  // Records as fast as the apps can write them, into 2 KB namespaces, for a daemon that needs 3 us to ship each: they
  // fill up, the apps wait and retry, nothing is lost.
  RingWorld w(6, 1);
  const auto out =
      w.run({{"log-daemon", "apps=3 records=1000 interval_us=0 namespace_bytes=2k ship_ns=3000 seed=9 quiet"}});
  expect_clean(out);
  EXPECT_EQ(out.exit_codes[0], 0) << all();
  EXPECT_EQ(matching("^log-app app-[abc]: my namespace was full \\d+ times; waited for the daemon$").size(), 3u)
      << all();
  EXPECT_EQ(matching("^log-daemon: shipped 3000 records from 3 apps; .*: ok$").size(), 1u) << all();
  EXPECT_TRUE(matching(R"(^\[app-)").empty());
}

// --- Object store ----------------------------------------------------------------------------------------------------

TEST_F(ExamplesTest, ObjectStoreReferenceTravelsBetweenClients) {
  RingWorld w(6, 1);
  const auto out = w.run({{"t-store", "name=alice peer=bob blobs=4 seed=2|name=bob peer=alice expect=4"}});
  expect_clean(out);
  EXPECT_EQ(out.exit_codes[0], 0) << all();
  EXPECT_EQ(
      matching(R"(^store-client alice: put blob \d \(\d+ bytes, fnv 0x[0-9a-f]+\): got a reference, passed it to bob$)")
          .size(),
      4u)
      << all();
  EXPECT_EQ(matching(R"(^store-client bob: got blob \d with alice's reference: size and fnv match$)").size(), 4u);
  EXPECT_EQ(matching("^store-client bob: looking inside alice's reference with my own key: access_denied$").size(), 1u);
  EXPECT_EQ(
      matching("^store-client alice: a reference minted with my own key and blob 0's cookie: access_denied$").size(),
      1u)
      << all();
  EXPECT_EQ(matching("^store-client alice: deleted blob 0 \\(ok\\); its old reference now: not_found; a memory handle: "
                     "wrong_type; no handle: invalid_argument$")
                .size(),
            1u)
      << all();
  EXPECT_EQ(
      matching(
          R"(^object-store: 4 puts \(\d+ B\), 4 gets \(\d+ B\), 1 deletes; refused: 1 invalid_argument, 1 access_denied, 1 not_found, 1 wrong_type$)")
          .size(),
      1u)
      << all();
}

TEST_F(ExamplesTest, ObjectStoreSurvivesMalformedAndForgedRequests) {
  RingWorld w(4, 1);
  const auto out = w.run({{"t-store-abuse"}});
  expect_clean(out);
  EXPECT_EQ(out.exit_codes[0], 0) << all();
}

// --- The demo --------------------------------------------------------------------------------------------------------

struct DemoRun {
  Outcome outcome;
  std::vector<std::string> lines;
};

TEST_F(ExamplesTest, DemoVerifiesEverything) {
  RingWorld w(12, 2);
  const auto out = w.run({{std::string(examples::kDemo.program), std::string(examples::kDemo.args),
                           examples::kDemo.cores, examples::kDemo.memory_bytes}},
                         2);
  expect_clean(out);
  EXPECT_EQ(out.exit_codes[0], 0) << all();
  EXPECT_LT(out.end_ns, 1'000'000'000u);  // well under a second of virtual time
  EXPECT_EQ(matching("^demo: started ").size(), 6u);
  EXPECT_EQ(matching(R"(^echo-client: 2000 requests .*: 2000 replies, all verified$)").size(), 1u) << all();
  EXPECT_EQ(matching(R"(^\[app-[ab]\] #\d )").size(), 2 * 5u) << all();
  EXPECT_EQ(matching("^store-client bob: got blob \\d with alice's reference: size and fnv match$").size(), 2u);
  EXPECT_EQ(matching("^demo: verdicts: echo-server ok, echo-client ok, log-daemon ok, object-store ok, store-client "
                     "alice ok, store-client bob ok$")
                .size(),
            1u)
      << all();
  EXPECT_EQ(matching("^demo: PASS: ").size(), 1u);
  // Readable: a few dozen lines from the programs.
  const auto program_lines = matching(R"(^(demo|echo-|log-|\[app-|object-store|store-client))");
  EXPECT_LE(program_lines.size(), 40u) << all();
}

TEST_F(ExamplesTest, DemoFailsCleanlyWithoutEnoughCores) {
  RingWorld w(6, 1);  // 5 app cores: the demo needs 9
  const auto out = w.run({{"demo"}});
  expect_clean(out);
  EXPECT_EQ(out.exit_codes[0], 1) << all();
  EXPECT_EQ(matching("^demo: FAIL: could not start everything").size(), 1u) << all();
}

TEST_F(ExamplesTest, DemoIsDeterministic) {
  auto run = [&](u64 sim_seed, const std::string& args) {
    stream_.str("");
    RingWorld w(11, 1, sim_seed);
    DemoRun r;
    r.outcome = w.run({{"demo", args}});
    r.lines = lines();
    return r;
  };
  const DemoRun a = run(7, "seed=11 echo_count=500");
  const DemoRun b = run(7, "seed=11 echo_count=500");
  ASSERT_EQ(a.outcome.exit_codes[0], 0);
  EXPECT_EQ(a.outcome.report.digest, b.outcome.report.digest);
  EXPECT_EQ(a.outcome.report.events, b.outcome.report.events);
  EXPECT_EQ(a.outcome.end_ns, b.outcome.end_ns);
  EXPECT_EQ(a.lines, b.lines);
  // Another program seed: other arrivals, other blobs, another schedule.
  const DemoRun c = run(7, "seed=12 echo_count=500");
  ASSERT_EQ(c.outcome.exit_codes[0], 0);
  EXPECT_NE(a.outcome.report.digest, c.outcome.report.digest);
}

// --- What the examples rely on in the runtime --------------------------------------------------------------------

// t-nap [work_us=N] [sleep_us=N]: burns, then sleeps with a kernel timeout.
Task<int> t_nap(Context& cx) {
  const Args a(cx.args());
  const u64 work = a.u64_or("work_us", 0) * 1000;
  const u64 nap = a.u64_or("sleep_us", 0) * 1000;
  if (work != 0) cx.work_ns(work);
  if (!co_await cx.sleep(nap)) co_return 1;
  co_return 0;
}
PLATYPOS_USER_PROGRAM("t-nap", t_nap);

// The echo client and the log apps wait with kernel timeouts while every other CPU may be idle. That once made the
// simulator call the run stuck: the ring server, woken by the first program's exit, spun in its idle phase with only
// the second program's timeout pending (and no armed timer to jump to).
TEST(ExamplesRuntime, TimeoutParkedWhileEveryOtherCpuIsIdle) {
  RingWorld w(4, 1);
  const auto out = w.run({{"t-nap", "sleep_us=400"}, {"t-nap", "work_us=20 sleep_us=1000"}});
  ASSERT_FALSE(out.report.stuck) << out.report.stuck_reason << " at " << out.report.end_time_ns << " ns";
  EXPECT_EQ(out.exit_codes, (std::vector<i64>{0, 0}));
  EXPECT_GE(out.end_ns, 1'020'000u);
}

// --- Pieces
// ------------------------------------------------------------------------------------------------------------

TEST(ExamplesSupport, ArgsParse) {
  const Args a("rate=20k count=1500 name=app-b  quiet size=x");
  EXPECT_EQ(a.u64_or("rate", 1), 20'000u);
  EXPECT_EQ(a.u64_or("count", 1), 1'500u);
  EXPECT_EQ(a.u64_or("missing", 42), 42u);
  EXPECT_EQ(a.str_or("name", ""), "app-b");
  EXPECT_TRUE(a.has("quiet"));
  EXPECT_FALSE(a.has("nam"));
  EXPECT_TRUE(a.ok());
  EXPECT_EQ(a.u64_or("size", 64), 64u);
  EXPECT_FALSE(a.ok());
  u64 v = 0;
  EXPECT_FALSE(Args::parse_u64("99999999999999999999", &v));
  EXPECT_FALSE(Args::parse_u64("20000000000g", &v));
  EXPECT_TRUE(Args::parse_u64("0xffff800000001000", &v));
  EXPECT_EQ(v, 0xffff800000001000ull);
  EXPECT_TRUE(Args::parse_u64("0X1f", &v));
  EXPECT_EQ(v, 31u);
  EXPECT_FALSE(Args::parse_u64("0x", &v));
  EXPECT_FALSE(Args::parse_u64("0x1g", &v));
  EXPECT_FALSE(Args::parse_u64("0x10000000000000000", &v));
  EXPECT_TRUE(Args::parse_u64("4m", &v));
  EXPECT_EQ(v, 4'000'000u);
}

TEST(ExamplesSupport, ExponentialIntervalsHaveTheRightMean) {
  Random r(123);
  constexpr int kSamples = 200'000;
  constexpr u64 kMean = 20'000;
  u64 sum = 0, above_mean = 0;
  for (int i = 0; i < kSamples; ++i) {
    const u64 x = r.exponential(kMean);
    sum += x;
    above_mean += x > kMean;
  }
  const double mean = static_cast<double>(sum) / kSamples;
  EXPECT_NEAR(mean, kMean, kMean * 0.01);
  // P(X > mean) = 1/e.
  EXPECT_NEAR(static_cast<double>(above_mean) / kSamples, 0.36788, 0.005);
  // Same seed, same sequence.
  Random x(5), y(5);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(x.exponential(1000), y.exponential(1000));
}

}  // namespace
}  // namespace platypos::ring
