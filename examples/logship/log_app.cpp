// log-app: an application that ships its logs through a log namespace it was handed (initial handle 0) with the
// write right only. It first tries to read its own namespace (which must fail with access_denied: an app cannot read
// logs, not even its own) and says so in its first record, then writes `records` numbered records in all, at
// exponentially distributed intervals (seeded; interval_us=0: as fast as it can). A full namespace (the daemon is
// behind) is retried after a pause.
//
//   log-app [name=app] [records=5] [interval_us=1000] [seed=1]
//   handles: 0 the log namespace (write-only), 1 (optional) a verdict channel
// Exit code 0 when every record was written and the read was refused; 3 if the app could read its own log.
//
// Records are "#<n> <text>", n from 1 to `records`: the daemon checks that none is missing or out of order.

#include "../support/args.hpp"
#include "../support/console.hpp"
#include "../support/random.hpp"
#include "../support/verdict.hpp"

namespace platypos::examples::logship {
namespace {

using user::Context;
using user::Handle;
using user::Status;
using user::Task;

constexpr std::uint32_t kFullRetries = 1'000;
constexpr std::uint64_t kFullPauseNs = 100'000;

// Writes one record, waiting while the namespace is full (counted in *waits). Gives the final status.
Task<Status> ship(Context& cx, Handle log, std::string_view record, std::uint64_t* waits) {
  for (std::uint32_t attempt = 0;; ++attempt) {
    auto w = co_await cx.log_write(log, record);
    if (w.ok() || w.status() != Status::limit_reached || attempt == kFullRetries) co_return w.status();
    ++*waits;
    (void)co_await cx.sleep(kFullPauseNs);
  }
}

Task<int> log_app_main(Context& cx) {
  if (cx.env().core_index != 0) co_return 0;
  const Args args(cx.args());
  const std::string_view name = args.str_or("name", "app");
  const std::uint64_t records = args.u64_or("records", 5);
  const std::uint64_t interval_ns = args.u64_or("interval_us", 1'000) * 1'000;
  Random rng(args.u64_or("seed", 1));
  const auto handles = cx.initial_handles();
  const Handle verdict = verdict_handle(handles, 1);
  if (handles.empty() || !args.ok() || records == 0 || interval_ns >= (1ull << 32)) {
    co_await say(cx, "log-app: usage: log-app [name=S] [records=N>0] [interval_us=N], with a log as handle 0");
    co_return co_await report(cx, verdict, 2);
  }
  const Handle log = handles[0];

  char probe[64];
  const Status read_own = (co_await cx.log_read(log, probe).nonblocking()).status();
  const bool denied = read_own == Status::access_denied;

  Line record;
  Status failed = Status::ok;
  std::uint64_t waits = 0;
  for (std::uint64_t n = 1; n <= records && failed == Status::ok; ++n) {
    if (interval_ns != 0) (void)co_await cx.sleep(rng.exponential(interval_ns));
    record.clear();
    if (n == 1) {
      record.append("#1 {} up; log_read on my own log: {}", name, name_of(read_own));
    } else {
      record.append("#{} GET /items/{} -> 200 in {} us", n, rng.below(1000), 20 + rng.below(180));
    }
    failed = co_await ship(cx, log, record.view(), &waits);
  }
  if (waits != 0) co_await say(cx, "log-app {}: my namespace was full {} times; waited for the daemon", name, waits);
  if (failed != Status::ok) co_await say(cx, "log-app {}: log_write failed: {}", name, name_of(failed));
  co_return co_await report(cx, verdict, failed != Status::ok ? 1 : denied ? 0 : 3);
}

}  // namespace
}  // namespace platypos::examples::logship

PLATYPOS_USER_PROGRAM("log-app", platypos::examples::logship::log_app_main);
