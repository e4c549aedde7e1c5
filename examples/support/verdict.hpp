#pragma once
// Verdicts: how a parent learns whether a child program verified what it set out to. (A process handle tells its
// holder that the child exited, not how: the ABI has no way to read a child's exit code.) A program that is given one
// more initial handle than it needs treats that last one as a verdict channel: just before it returns, it writes its
// exit code there as one Verdict message. The parent reads it; peer_closed without a verdict means the child died
// without reaching its end (a fatal error, or killed).

#include <platypos/user/context.hpp>

#include "channel.hpp"

#include <cstdint>
#include <span>

namespace platypos::examples {

struct Verdict {
  static constexpr std::uint32_t kMagic = 0x54445256;  // "VRDT"
  std::uint32_t magic = kMagic;
  std::int32_t code = 0;
};

// The code read_verdict gives when the channel closed without one.
inline constexpr int kNoVerdict = -1000;

// The verdict channel among `handles` if the program was given one (handles beyond the `needed` ones), else none.
inline user::Handle verdict_handle(std::span<const user::Handle> handles, std::size_t needed) {
  return handles.size() > needed ? handles[needed] : user::Handle{};
}

// Writes `code` on `ch` (if any) and closes it; gives `code` back, so a main can end with
//   co_return co_await report(cx, verdict, code);
inline user::Task<int> report(user::Context& cx, user::Handle ch, int code) {
  if (!ch) co_return code;
  Verdict v;
  v.code = code;
  (void)co_await write_patiently(cx, ch, {reinterpret_cast<const char*>(&v), sizeof v});
  (void)co_await cx.close(ch);
  co_return code;
}

// Waits for the verdict on `ch`: the child's code, or kNoVerdict.
inline user::Task<int> read_verdict(user::Context& cx, user::Handle ch) {
  Verdict v;
  v.magic = 0;
  auto r = co_await cx.read(ch, {reinterpret_cast<char*>(&v), sizeof v});
  if (!r || r->bytes != sizeof v || v.magic != Verdict::kMagic) co_return kNoVerdict;
  co_return v.code;
}

}  // namespace platypos::examples
