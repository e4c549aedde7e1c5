// echo-client: an open-loop load generator for echo-server. Requests arrive as a Poisson process (exponential gaps
// from a seeded generator: the same seed, the same arrivals); each one is a coroutine of its own, spawned at its
// arrival time, so many are in flight at once. One receiver coroutine reads every reply, checks it and wakes the
// request it answers. Latency runs from the request's scheduled arrival to the moment its coroutine sees the reply,
// so a client that falls behind (window full) is charged for it rather than hiding it (no coordinated omission).
// Prints achieved throughput and latency percentiles at the end.
//
//   echo-client [rate=20000] [count=2000] [size=64] [seed=1] [window=128]
//     rate: requests per second offered; count: 1..1000000; size: bytes per request (16..16384); window: most
//     requests in flight (1..256)
//   handles: 0 the channel to the server, 1 (optional) a verdict channel
// Exit code 0 when every request got its own reply back intact.

#include "../support/args.hpp"
#include "../support/channel.hpp"
#include "../support/console.hpp"
#include "../support/random.hpp"
#include "../support/sync.hpp"
#include "../support/verdict.hpp"
#include "echo_protocol.hpp"

#include <platypos/base/histogram.hpp>

#include <new>

namespace platypos::examples::echo {
namespace {

using user::Context;
using user::Handle;
using user::Status;
using user::Task;

struct ClientConfig {
  std::uint64_t rate = 20'000;
  std::uint64_t count = 2'000;
  std::uint32_t size = 64;
  std::uint64_t seed = 1;
  std::uint32_t window = 128;  // below the channel's queue limit (256 messages), so writes never hit it
};

class Client {
 public:
  Client(Context& cx, Handle ch, const ClientConfig& config)
      : cx_(cx), ch_(ch), config_(config), rng_(config.seed), room_(cx), all_done_(cx) {}
  Context& context() { return cx_; }

  Task<int> run();

 private:
  // One request's state: when it was due, and how its reply went.
  struct Slot {
    explicit Slot(Context& cx) : done(cx) {}
    std::uint64_t due_ns = 0;
    Event done;
    bool sent = false;
    bool replied = false;
    bool ok = false;
  };

  Task<void> request(std::uint64_t id);
  Task<void> receive();
  void finish_one();
  void stop(Status why);

  Context& cx_;
  Handle ch_;
  ClientConfig config_;
  Random rng_;
  Slot* slots_ = nullptr;
  LatencyHistogram latency_;
  Event room_;      // a request finished: the window has room
  Event all_done_;  // every started request finished
  std::uint64_t started_ = 0;
  std::uint64_t finished_ = 0;
  std::uint64_t replies_ = 0;  // each one checked: a bad one stops the run
  std::uint64_t in_flight_ = 0;
  std::uint64_t last_reply_ns_ = 0;
  bool stopped_ = false;  // a failure: no new requests
  Status failure_ = Status::ok;
  std::uint64_t bad_replies_ = 0;
};

Task<void> Client::request(std::uint64_t id) {
  Slot& s = slots_[id];
  char* msg = static_cast<char*>(cx_.heap().alloc(config_.size));
  if (msg == nullptr) cx_.fatal("echo-client: out of memory for a request");
  fill_request(msg, config_.size, id);
  // Sent as of the submission: completions carry no order, so the server's reply can be reaped before the write's
  // own completion (platypos-sim --faults delays completions to make sure programs cope).
  s.sent = true;
  const Status w = co_await write_patiently(cx_, ch_, {msg, config_.size});
  cx_.heap().free(msg, config_.size);  // the kernel copied it into the message
  if (w != Status::ok) {
    s.sent = false;
    stop(w);
  } else {
    co_await s.done;  // at once if the reply (or a stop) came first
    if (s.ok) latency_.record(cx_.now_ns() - s.due_ns);
  }
  finish_one();
}

Task<void> Client::receive() {
  char* buf = static_cast<char*>(cx_.heap().alloc(kMaxMessage));
  if (buf == nullptr) cx_.fatal("echo-client: out of memory for the receive buffer");
  while (replies_ < config_.count && !stopped_) {
    auto r = co_await cx_.read(ch_, {buf, kMaxMessage});
    if (!r) {
      stop(r.status());
      break;
    }
    std::uint64_t id = 0;
    const bool well_formed = parse_reply(buf, r->bytes, &id) && r->bytes == config_.size;
    if (!well_formed || id >= started_ || !slots_[id].sent || slots_[id].replied) {
      ++bad_replies_;
      stop(Status::invalid_argument);
      break;
    }
    Slot& s = slots_[id];
    s.replied = true;
    s.ok = true;
    ++replies_;
    last_reply_ns_ = cx_.now_ns();
    s.done.set();
  }
  cx_.heap().free(buf, kMaxMessage);
}

void Client::finish_one() {
  --in_flight_;
  ++finished_;
  room_.set();
  if (finished_ == config_.count || (stopped_ && finished_ == started_)) all_done_.set();
}

void Client::stop(Status why) {
  if (!stopped_) failure_ = why;
  stopped_ = true;
  // Wake every request still waiting for a reply: none is coming.
  for (std::uint64_t id = 0; id < started_; ++id) {
    Slot& s = slots_[id];
    if (s.sent && !s.replied) {
      s.replied = true;
      s.done.set();
    }
  }
  room_.set();
  if (finished_ == started_) all_done_.set();
}

Task<int> Client::run() {
  slots_ = static_cast<Slot*>(cx_.heap().alloc(config_.count * sizeof(Slot)));
  if (slots_ == nullptr) {
    co_await say(cx_, "echo-client: count={} needs more memory than this program has", config_.count);
    co_return 2;
  }
  for (std::uint64_t i = 0; i < config_.count; ++i) new (&slots_[i]) Slot(cx_);

  const std::uint64_t mean_gap_ns = 1'000'000'000 / config_.rate;
  const std::uint64_t start = cx_.now_ns();
  last_reply_ns_ = start;
  cx_.spawn(receive());
  std::uint64_t due = start;
  for (std::uint64_t id = 0; id < config_.count && !stopped_; ++id) {
    due += rng_.exponential(mean_gap_ns);
    if (const std::uint64_t now = cx_.now_ns(); now < due) (void)co_await cx_.sleep(due - now);
    while (in_flight_ >= config_.window && !stopped_) {
      room_.reset();
      co_await room_;
    }
    if (stopped_) break;
    slots_[id].due_ns = due;
    ++started_;
    ++in_flight_;
    cx_.spawn(request(id));
  }
  if (started_ > 0) co_await all_done_;

  const std::uint64_t elapsed = last_reply_ns_ - start;
  const bool ok = !stopped_ && replies_ == config_.count;
  Line line;
  line.append("echo-client: {} requests of {} B offered at {}/s (Poisson, seed {}): {} replies, {}", config_.count,
              config_.size, config_.rate, config_.seed, replies_, ok ? "all verified" : "FAILED (");
  if (!ok) line.append("{}, {} malformed)", name_of(failure_), bad_replies_);
  line.append("\n");
  (void)co_await print(cx_, line);
  if (replies_ > 0) {
    line.clear();
    line.append("echo-client: {} req/s over ", elapsed == 0 ? 0 : replies_ * 1'000'000'000 / elapsed);
    append_ms(line, elapsed);
    line.append(" ms; latency p50 ");
    append_us(line, latency_.value_at_ppm(500'000));
    line.append(" us, p99 ");
    append_us(line, latency_.value_at_ppm(990'000));
    line.append(" us, p99.9 ");
    append_us(line, latency_.value_at_ppm(999'000));
    line.append(" us, max ");
    append_us(line, latency_.max());
    line.append(" us\n");
    (void)co_await print(cx_, line);
  }
  co_return ok ? 0 : 1;
}

Task<int> echo_client_main(Context& cx) {
  if (cx.env().core_index != 0) co_return 0;  // one generator per process: the other cores stay idle
  const Args args(cx.args());
  ClientConfig c;
  c.rate = args.u64_or("rate", c.rate);
  c.count = args.u64_or("count", c.count);
  c.size = static_cast<std::uint32_t>(args.u64_or("size", c.size));
  c.seed = args.u64_or("seed", c.seed);
  c.window = static_cast<std::uint32_t>(args.u64_or("window", c.window));
  const auto handles = cx.initial_handles();
  if (handles.empty() || !args.ok() || c.rate == 0 || c.rate > 1'000'000'000 || c.count == 0 || c.count > 1'000'000 ||
      c.size < kMinMessage || c.size > kMaxMessage || c.window == 0 || c.window > 256) {
    co_await say(
        cx,
        "echo-client: usage: echo-client [rate=N/s] [count=1..1000000] [size=16..16384] [seed=N] [window=1..256], "
        "with the channel as handle 0");
    co_return co_await report(cx, verdict_handle(handles, 1), 2);
  }
  auto* client = cx.heap().make<Client>(cx, handles[0], c);
  if (client == nullptr) cx.fatal("echo-client: out of memory");
  const int code = co_await client->run();
  (void)co_await cx.close(handles[0]);  // the server sees peer_closed and finishes
  co_return co_await report(cx, verdict_handle(handles, 1), code);
}

}  // namespace
}  // namespace platypos::examples::echo

PLATYPOS_USER_PROGRAM("echo-client", platypos::examples::echo::echo_client_main);
