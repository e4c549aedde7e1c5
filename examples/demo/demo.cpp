// demo: every example at once, each program a process with its own dedicated core and memory, wired together with
// channels the demo creates and hands out at spawn:
//
//   echo-server  <-- echo channel -->  echo-client        Poisson load, latency percentiles
//   log-daemon  --spawns-->  log-app x2                   write-only log handles, records shipped to the console
//   object-store <-- conn -->  store-client alice          put, pass references to bob, forged/stale refs refused
//                <-- conn -->  store-client bob  <-- peer channel --> alice
//
// Each child is also given a verdict channel (support/verdict.hpp): the demo collects every child's verdict, waits for
// every process to signal exited, and exits with 0 only if all of them verified their part.
//
//   demo [seed=1] [echo_count=2000] [echo_rate=50000] [echo_size=64] [work_ns=2000] [log_records=5]
//        [log_interval_us=2000] [blobs=2]
//   Launch: include/platypos/examples/demo.hpp (kDemo: 1 core, 4 MiB; 9 app cores in all).

#include "../support/args.hpp"
#include "../support/console.hpp"
#include "../support/verdict.hpp"

#include <platypos/examples/demo.hpp>

namespace platypos::examples {
namespace {

using user::Context;
using user::Handle;
using user::Status;
using user::Task;

constexpr std::uint32_t kChildren = 6;

struct Child {
  const char* label = "";
  Handle process;
  Handle verdict;
  int code = kNoVerdict;
};

class Demo {
 public:
  explicit Demo(Context& cx) : cx_(cx) {}
  Context& context() { return cx_; }

  Task<int> run(const Args& args);

 private:
  // Spawns `command` with `handles` plus a fresh verdict channel as the last handle.
  Task<Status> start(const char* label, std::string_view command, std::uint64_t memory,
                     std::span<const Handle> handles);
  Task<void> kill_all();

  Context& cx_;
  Child children_[kChildren];
  std::uint32_t count_ = 0;
};

Task<Status> Demo::start(const char* label, std::string_view command, std::uint64_t memory,
                         std::span<const Handle> handles) {
  auto verdict = co_await cx_.channel_create();
  if (!verdict) co_return verdict.status();
  Handle give[4];
  if (handles.size() >= 4) co_return Status::invalid_argument;
  for (std::size_t i = 0; i < handles.size(); ++i) give[i] = handles[i];
  give[handles.size()] = verdict->b;
  auto process = co_await cx_.spawn_process(command, 1, memory, std::span<const Handle>(give, handles.size() + 1));
  if (!process) {
    co_await say(cx_, "demo: cannot start {}: {}", label, name_of(process.status()));
    co_return process.status();
  }
  Child& c = children_[count_++];
  c.label = label;
  c.process = *process;
  c.verdict = verdict->a;
  co_await say(cx_, "demo: started {} (1 core, {} MiB): {}", label, memory / kMiB, command);
  co_return Status::ok;
}

Task<void> Demo::kill_all() {
  for (std::uint32_t i = 0; i < count_; ++i) (void)co_await cx_.kill(children_[i].process, -1);
}

Task<int> Demo::run(const Args& args) {
  const std::uint64_t seed = args.u64_or("seed", 1);
  const std::uint64_t echo_count = args.u64_or("echo_count", 2'000);
  const std::uint64_t echo_rate = args.u64_or("echo_rate", 50'000);
  const std::uint64_t echo_size = args.u64_or("echo_size", 64);
  const std::uint64_t work_ns = args.u64_or("work_ns", 2'000);
  const std::uint64_t log_records = args.u64_or("log_records", 5);
  const std::uint64_t log_interval_us = args.u64_or("log_interval_us", 2'000);
  const std::uint64_t blobs = args.u64_or("blobs", 2);
  if (!args.ok()) {
    co_await say(cx_, "demo: bad arguments '{}'", cx_.args());
    co_return 2;
  }
  if (const std::string_view unknown = args.unknown_key(
          {"seed", "echo_count", "echo_rate", "echo_size", "work_ns", "log_records", "log_interval_us", "blobs"});
      !unknown.empty()) {
    co_await say(cx_,
                 "demo: unknown argument '{}' (known: seed echo_count echo_rate echo_size work_ns log_records "
                 "log_interval_us blobs)",
                 unknown);
    co_return 2;
  }
  const std::uint64_t t0 = cx_.now_ns();
  co_await say(cx_, "demo: echo, log shipping and an object store, {} processes on dedicated cores, seed {}",
               kDemo.app_cores, seed);

  Status s = Status::ok;
  Line command;
  // Echo: the server and the client share one channel.
  auto echo = co_await cx_.channel_create();
  if (!echo) s = echo.status();
  if (s == Status::ok) {
    command.clear();
    command.append("echo-server work_ns={}", work_ns);
    const Handle h[1] = {echo->b};
    s = co_await start("echo-server", command.view(), kDemoDefaultMemory, h);
  }
  if (s == Status::ok) {
    command.clear();
    command.append("echo-client rate={} count={} size={} seed={}", echo_rate, echo_count, echo_size, seed);
    const Handle h[1] = {echo->a};
    s = co_await start("echo-client", command.view(), kDemoDefaultMemory, h);
  }
  // Log shipping: the daemon makes the namespaces and starts its apps itself.
  if (s == Status::ok) {
    command.clear();
    command.append("log-daemon apps={} records={} interval_us={} app_memory={} seed={}", kDemoLogApps, log_records,
                   log_interval_us, kDemoDefaultMemory, seed);
    s = co_await start("log-daemon", command.view(), kDemoDefaultMemory, {});
  }
  // Object store: one connection per client, and a channel between the two clients for the references.
  auto conn_a = co_await cx_.channel_create();
  auto conn_b = co_await cx_.channel_create();
  auto peers = co_await cx_.channel_create();
  if (s == Status::ok && (!conn_a || !conn_b || !peers)) s = Status::no_resources;
  if (s == Status::ok) {
    command.clear();
    command.append("object-store clients=2");
    const Handle h[2] = {conn_a->b, conn_b->b};
    s = co_await start("object-store", command.view(), kDemoStoreMemory, h);
  }
  if (s == Status::ok) {
    command.clear();
    command.append("store-client role=put name=alice peer=bob blobs={} seed={}", blobs, seed);
    const Handle h[2] = {conn_a->a, peers->a};
    s = co_await start("store-client alice", command.view(), kDemoDefaultMemory, h);
  }
  if (s == Status::ok) {
    command.clear();
    command.append("store-client role=get name=bob peer=alice expect={}", blobs);
    const Handle h[2] = {conn_b->a, peers->b};
    s = co_await start("store-client bob", command.view(), kDemoDefaultMemory, h);
  }
  if (s != Status::ok) {
    co_await say(cx_, "demo: FAIL: could not start everything (needs {} free app cores and {} MiB)", kDemo.app_cores,
                 kDemo.total_memory_bytes / kMiB);
    co_await kill_all();
    co_return 1;
  }

  // Every verdict, then every exit.
  bool pass = true;
  Line verdicts;
  verdicts.append("demo: verdicts:");
  for (std::uint32_t i = 0; i < count_; ++i) {
    Child& c = children_[i];
    c.code = co_await read_verdict(cx_, c.verdict);
    auto w = co_await cx_.wait(c.process, abi::signals::exited);
    pass = pass && c.code == 0 && w.ok();
    verdicts.append("{} {} ", i == 0 ? "" : ",", c.label);
    if (c.code == 0) {
      verdicts.append("ok");
    } else if (c.code == kNoVerdict) {
      verdicts.append("DIED");
    } else {
      verdicts.append("FAILED ({})", c.code);
    }
    (void)co_await cx_.close(c.verdict);
    (void)co_await cx_.close(c.process);
  }
  verdicts.append("\n");
  (void)co_await print(cx_, verdicts);
  Line end;
  end.append("demo: {}: ", pass ? "PASS" : "FAIL");
  append_ms(end, cx_.now_ns() - t0);
  end.append(" ms of virtual time, every process exited{}\n", pass ? " and verified its part" : "");
  (void)co_await print(cx_, end);
  co_return pass ? 0 : 1;
}

Task<int> demo_main(Context& cx) {
  if (cx.env().core_index != 0) co_return 0;
  const Args args(cx.args());
  auto* demo = cx.heap().make<Demo>(cx);
  if (demo == nullptr) cx.fatal("demo: out of memory");
  co_return co_await demo->run(args);
}

}  // namespace
}  // namespace platypos::examples

PLATYPOS_USER_PROGRAM("demo", platypos::examples::demo_main);
