// log-daemon: the log shipper. For each application it creates a log namespace (log_create: the daemon holds every
// right), makes a duplicate with only write (+ transfer, which spawn_process needs to move it) and starts a log-app
// with that handle. A log_read on the duplicate fails with access_denied, which the daemon shows before handing it
// over. One drain coroutine per namespace reads records as they come (log_read parks while the namespace is empty)
// and prints each on the console prefixed with the namespace's name: "[app-a] #2 GET /items/17 -> 200 in 45 us".
//
// Ending: a watcher coroutine per app waits for the app's process to signal `exited` (then the app cannot write any
// more: its handle went with it) and appends an end-of-stream record that only the daemon can produce (it carries a
// token from the daemon's seed that no app sees). When every namespace's drain has reached its end-of-stream
// record, the daemon checks what it shipped (every app's records complete and in order, every app's verdict 0) and
// exits.
//
//   log-daemon [apps=2] [records=5] [interval_us=1000] [app_memory=4m] [namespace_bytes=16k] [ship_ns=0] [seed=1]
//              [quiet]
//   handles: 0 (optional) a verdict channel
// namespace_bytes: each namespace's ring (paid from the daemon's memory; an app finding it full waits and retries).
// ship_ns: modelled CPU cost of shipping one record on (a daemon that falls behind lets the namespaces fill up).
// quiet: do not print the records (only the summary). Exit code 0 when everything was shipped and verified.

#include "../support/args.hpp"
#include "../support/console.hpp"
#include "../support/random.hpp"
#include "../support/sync.hpp"
#include "../support/text.hpp"
#include "../support/verdict.hpp"

namespace platypos::examples::logship {
namespace {

using user::Context;
using user::Handle;
using user::Status;
using user::Task;

constexpr std::uint32_t kMaxApps = 8;
constexpr std::uint32_t kMaxRecord = 1024;                    // the kernel's limit on one record
constexpr std::uint64_t kMinNamespaceBytes = kMaxRecord + 2;  // the kernel's minimum: one biggest record
constexpr std::size_t kShownRecord = 160;                     // longer records are cut on the console
constexpr std::uint32_t kEndRetries = 1'000;
constexpr std::uint64_t kEndRetryPauseNs = 100'000;

struct App {
  char name[8] = {};
  std::uint32_t name_len = 0;
  Handle log;      // every right: read, write, manage
  Handle process;  // wait for `exited`
  Handle verdict;  // the app's verdict channel
  std::uint64_t received = 0;
  bool in_order = true;
  bool exited = false;
  int code = kNoVerdict;
  Status failure = Status::ok;

  std::string_view label() const { return {name, name_len}; }
};

class Daemon {
 public:
  Daemon(Context& cx, std::uint64_t seed) : cx_(cx), drained_(cx) {
    Random rng(seed ^ 0x6c6f672d6461656dull);
    token_ = rng.next();
  }
  Context& context() { return cx_; }

  Task<int> run(const Args& args);

 private:
  Task<Status> start_app(App& app, std::uint32_t index, std::uint64_t records, std::uint64_t interval_us,
                         std::uint64_t memory, std::uint64_t seed);
  Task<void> drain(App* app);
  Task<void> watch(App* app);
  // The record that ends a namespace's stream: no app knows token_, so none can end its stream early.
  Line end_marker() const {
    Line l;
    l.append("end-of-stream {:#x}", token_);
    return l;
  }

  Context& cx_;
  App apps_[kMaxApps];
  std::uint32_t app_count_ = 0;
  std::uint32_t drained_count_ = 0;
  Event drained_;
  std::uint64_t token_ = 0;
  bool quiet_ = false;
  std::uint64_t namespace_bytes_ = 16 * 1024;
  std::uint64_t ship_ns_ = 0;
  bool shown_denial_ = false;
};

Task<Status> Daemon::start_app(App& app, std::uint32_t index, std::uint64_t records, std::uint64_t interval_us,
                               std::uint64_t memory, std::uint64_t seed) {
  app.name_len = 5;
  app.name[0] = 'a', app.name[1] = 'p', app.name[2] = 'p', app.name[3] = '-';
  app.name[4] = static_cast<char>('a' + index);
  auto log = co_await cx_.log_create(app.label(), namespace_bytes_);
  if (!log) co_return log.status();
  app.log = *log;
  auto write_only = co_await cx_.duplicate(app.log, abi::rights::write | abi::rights::transfer);
  if (!write_only) co_return write_only.status();
  // What the app will hold cannot read: show it once, with the very handle it is about to get.
  char probe[64];
  const Status probe_status = (co_await cx_.log_read(*write_only, probe).nonblocking()).status();
  if (probe_status != Status::access_denied) co_return Status::bad_state;
  if (!shown_denial_) {
    shown_denial_ = true;
    co_await say(cx_, "log-daemon: {}'s handle has rights write+transfer; log_read on it: {}", app.label(),
                 name_of(probe_status));
  }
  auto pair = co_await cx_.channel_create();
  if (!pair) co_return pair.status();
  app.verdict = pair->a;
  Line command;
  command.append("log-app name={} records={} interval_us={} seed={}", app.label(), records, interval_us, seed);
  const Handle give[2] = {*write_only, pair->b};
  auto process = co_await cx_.spawn_process(command.view(), 1, memory, give);
  if (!process) co_return process.status();
  app.process = *process;
  co_return Status::ok;
}

Task<void> Daemon::drain(App* app) {
  char buf[kMaxRecord];
  const Line end = end_marker();
  for (;;) {
    auto r = co_await cx_.log_read(app->log, buf);
    if (!r) {
      app->failure = r.status();
      break;
    }
    const std::string_view record(buf, *r);
    if (record == end.view()) break;  // only the daemon writes that, once the app is gone
    ++app->received;
    if (ship_ns_ != 0) cx_.work_ns(ship_ns_);  // what sending it on would cost
    // "#<n> ...": n must be the next one.
    Line expect;
    expect.append("#{} ", app->received);
    if (head(record, expect.size()) != expect.view()) app->in_order = false;
    if (!quiet_) {
      co_await say(cx_, "[{}] {}", app->label(), head(record, kShownRecord));
    }
  }
  if (++drained_count_ == app_count_) drained_.set();
}

Task<void> Daemon::watch(App* app) {
  auto w = co_await cx_.wait(app->process, abi::signals::exited);
  if (!w) {
    app->failure = w.status();
  } else {
    app->exited = true;
    app->code = co_await read_verdict(cx_, app->verdict);
  }
  (void)co_await cx_.close(app->verdict);
  // The app is gone (or we cannot tell, and stop waiting for it): end its stream after whatever it wrote.
  // The namespace may be full (the app wrote until it exited): wait for the drain to make room, a while.
  Line end = end_marker();
  Status s = Status::ok;
  for (std::uint32_t attempt = 0; attempt < kEndRetries; ++attempt) {
    s = (co_await cx_.log_write(app->log, end.view())).status();
    if (s != Status::limit_reached) break;
    (void)co_await cx_.sleep(kEndRetryPauseNs);
  }
  if (s != Status::ok) {
    app->failure = s;
    co_await say(cx_, "log-daemon: cannot end {}'s stream: {}", app->label(), name_of(s));
  }
}

Task<int> Daemon::run(const Args& args) {
  const std::uint64_t apps = args.u64_or("apps", 2);
  const std::uint64_t records = args.u64_or("records", 5);
  const std::uint64_t interval_us = args.u64_or("interval_us", 1'000);
  const std::uint64_t memory = args.u64_or("app_memory", 4 * 1024 * 1024);
  const std::uint64_t seed = args.u64_or("seed", 1);
  quiet_ = args.has("quiet");
  namespace_bytes_ = args.u64_or("namespace_bytes", namespace_bytes_);
  ship_ns_ = args.u64_or("ship_ns", ship_ns_);
  if (!args.ok() || apps == 0 || apps > kMaxApps || records == 0 || namespace_bytes_ < kMinNamespaceBytes ||
      namespace_bytes_ > (1u << 24)) {
    co_await say(cx_,
                 "log-daemon: usage: log-daemon [apps=1..8] [records=N>0] [interval_us=N] [app_memory=B] "
                 "[namespace_bytes=1026..16m] [ship_ns=N] [seed=N] [quiet]");
    co_return 2;
  }
  for (std::uint32_t i = 0; i < apps; ++i) {
    const Status s = co_await start_app(apps_[i], i, records, interval_us, memory, seed * 1'000 + i);
    if (s != Status::ok) {
      co_await say(cx_, "log-daemon: cannot start app {}: {}", i, name_of(s));
      co_return 1;  // ending the daemon ends the apps' namespaces with it; the apps' writes then fail
    }
    ++app_count_;
  }
  co_await say(cx_, "log-daemon: {} apps started, {} records each; draining their namespaces", app_count_, records);
  for (std::uint32_t i = 0; i < app_count_; ++i) {
    cx_.spawn(drain(&apps_[i]));
    cx_.spawn(watch(&apps_[i]));
  }
  co_await drained_;

  bool ok = true;
  std::uint64_t total = 0;
  for (std::uint32_t i = 0; i < app_count_; ++i) {
    const App& a = apps_[i];
    total += a.received;
    const bool app_ok = a.exited && a.code == 0 && a.failure == Status::ok && a.in_order && a.received == records;
    if (!app_ok) {
      co_await say(cx_, "log-daemon: {} FAILED: exited {}, verdict {}, {} of {} records{}{}{}", a.label(), a.exited,
                   a.code, a.received, records, a.in_order ? "" : ", out of order", a.failure == Status::ok ? "" : ", ",
                   a.failure == Status::ok ? "" : name_of(a.failure));
    }
    ok = ok && app_ok;
    (void)co_await cx_.close(a.log);
    (void)co_await cx_.close(a.process);
  }
  co_await say(cx_, "log-daemon: shipped {} records from {} apps; every app exited, every namespace drained: {}", total,
               app_count_, ok ? "ok" : "FAILED");
  co_return ok ? 0 : 1;
}

Task<int> log_daemon_main(Context& cx) {
  if (cx.env().core_index != 0) co_return 0;
  const Args args(cx.args());
  auto* daemon = cx.heap().make<Daemon>(cx, args.u64_or("seed", 1));
  if (daemon == nullptr) cx.fatal("log-daemon: out of memory");
  const int code = co_await daemon->run(args);
  co_return co_await report(cx, verdict_handle(cx.initial_handles(), 0), code);
}

}  // namespace
}  // namespace platypos::examples::logship

PLATYPOS_USER_PROGRAM("log-daemon", platypos::examples::logship::log_daemon_main);
