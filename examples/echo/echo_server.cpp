// echo-server: answers every message on its channel (initial handle 0) with the same bytes, after `work_ns` of
// modelled CPU work per request. Runs on every core it is given, all serving the one channel (each core's executor
// takes whichever request comes next). Ends when the client closes the channel.
//
//   echo-server [work_ns=2000] [quiet]
//   handles: 0 the channel, 1 (optional) a verdict channel (support/verdict.hpp)

#include "../support/args.hpp"
#include "../support/channel.hpp"
#include "../support/console.hpp"
#include "../support/verdict.hpp"
#include "echo_protocol.hpp"

namespace platypos::examples::echo {
namespace {

using user::Context;
using user::Handle;
using user::Status;
using user::Task;

Task<int> echo_server_main(Context& cx) {
  const Args args(cx.args());
  const std::uint64_t work_ns = args.u64_or("work_ns", 2'000);
  const bool quiet = args.has("quiet");
  const auto handles = cx.initial_handles();
  if (handles.empty() || !args.ok()) {
    co_await say(cx, "echo-server: usage: echo-server [work_ns=N] [quiet], with the channel as handle 0");
    co_return 2;
  }
  const Handle ch = handles[0];
  // Every core serves; only core 0 reports the verdict (the others' counts go into their own line).
  const Handle verdict = cx.env().core_index == 0 ? verdict_handle(handles, 1) : Handle{};
  char* buf = static_cast<char*>(cx.heap().alloc(kMaxMessage));
  if (buf == nullptr) cx.fatal("echo-server: no memory for the buffer");

  std::uint64_t served = 0;
  std::uint64_t dropped = 0;
  Status end = Status::ok;
  abi::ReadNeeded needed{};
  for (;;) {
    auto r = co_await cx.read(ch, {buf, kMaxMessage}, {}, &needed);
    if (!r && r.status() == Status::buffer_too_small) {
      // Too big, or it carries handles: not a request. Drop it and go on.
      ++dropped;
      if (auto d = co_await discard_message(cx, ch, needed); d != Status::ok) {
        end = d;
        break;
      }
      continue;
    }
    if (!r) {
      end = r.status();
      break;
    }
    cx.work_ns(work_ns);
    const Status w = co_await write_patiently(cx, ch, {buf, r->bytes});
    if (w != Status::ok) {
      end = w;
      break;
    }
    ++served;
  }
  const bool ok = end == Status::peer_closed;  // the client hung up: the normal end
  if (!quiet || !ok) {
    Line line;
    line.append("echo-server: core {} served {} requests ({} ns of work each)", cx.env().core_index, served, work_ns);
    if (dropped != 0) line.append(", dropped {} that were not requests", dropped);
    line.append(", then {}\n", ok ? "the client hung up" : name_of(end));
    (void)co_await print(cx, line);
  }
  co_return co_await report(cx, verdict, ok ? 0 : 1);
}

}  // namespace
}  // namespace platypos::examples::echo

PLATYPOS_USER_PROGRAM("echo-server", platypos::examples::echo::echo_server_main);
