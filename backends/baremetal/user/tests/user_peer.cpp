// t-user-peer: two processes, one trying to reach the other's memory, for the kernel's isolation test (run=isolation).
//
//   t-user-peer role=victim
//   t-user-peer role=attacker peer_memory=ADDR
//   handles: 0 a channel to the other one
//
// The victim fills a page of its memory with a secret and sends the page's offset in its memory over the channel,
// then waits until the channel says the attacker is gone (peer_closed) and checks that its secret is intact.
//
// The attacker gets the offset and tries every way it has to reach the secret:
//   1. its own view of the same address (kUserMemoryBase + offset): every process sees its own memory there, so the
//      secret must not be there;
//   2. a ring operation whose buffer is the victim's page (console_write from peer_memory + offset, a kernel address:
//      where the kernel's direct map shows the victim's memory): the kernel refuses it with out_of_range;
//   3. a plain read of peer_memory + offset (the runner passes it: the kernel-half address of the victim's memory):
//      a supervisor page, so #PF, and the kernel kills the attacker.
// It says what it is about to do before step 3. Surviving step 3 is the failure it reports (exit 1 and a message to
// the victim).
//
// Exit codes: 0 (victim: secret intact, attacker gone without a word), 1 the attacker survived its read, 2 bad
// arguments or handles, 3 the attacker saw the secret through its own address, 4 the victim's secret changed, 5 a
// ring operation accepted the victim's memory as a buffer, 6 a channel operation failed.

#include <platypos/baremetal/user_abi.hpp>
#include <platypos/user/context.hpp>

#include <cstdint>
#include <string_view>

#include "support/args.hpp"
#include "support/console.hpp"

namespace platypos::baremetal::user_tests {
namespace {

using platypos::user::Context;
using platypos::user::Expected;
using platypos::user::Handle;
using platypos::user::Status;
using platypos::user::Task;

constexpr std::uint64_t kPage = 4096;

// The secret: a page of a pattern nobody else writes.
std::uint64_t secret_word(std::uint64_t i) { return 0x5ec2'e7ba'd5ee'd000ull ^ (i * 0x9e37'79b9'7f4a'7c15ull); }

bool holds_secret(const volatile std::uint64_t* page) {
  for (std::uint64_t i = 0; i < kPage / 8; ++i)
    if (page[i] != secret_word(i)) return false;
  return true;
}

Expected<void> as_void(std::int64_t r) {
  if (abi::is_error(r)) return abi::status_of(r);
  return {};
}

Task<int> victim(Context& cx, Handle ch) {
  auto* page = static_cast<std::uint64_t*>(cx.heap().alloc(kPage));
  if (page == nullptr) cx.fatal("t-user-peer victim: no memory for the secret");
  for (std::uint64_t i = 0; i < kPage / 8; ++i) page[i] = secret_word(i);
  const auto base = static_cast<const std::uint8_t*>(cx.env().memory);
  std::uint64_t offset = static_cast<std::uint64_t>(reinterpret_cast<const std::uint8_t*>(page) - base);
  if (!co_await cx.write(ch, {reinterpret_cast<const char*>(&offset), sizeof offset})) co_return 6;
  co_await examples::say(cx, "t-user-peer victim: my secret is at offset {:#x} of my memory; told the attacker",
                         offset);
  char buf[64];
  const auto r = co_await cx.read(ch, buf);
  if (r) {
    co_await examples::say(cx, "t-user-peer victim: the attacker survived and wrote: {}",
                           std::string_view(buf, r->bytes));
    co_return 1;
  }
  if (r.status() != Status::peer_closed) co_return 6;
  const bool intact = holds_secret(page);
  co_await examples::say(cx, "t-user-peer victim: the attacker is gone; my secret is {}",
                         intact ? "intact" : "CHANGED");
  co_return intact ? 0 : 4;
}

Task<int> attacker(Context& cx, Handle ch, std::uint64_t peer_memory) {
  std::uint64_t offset = 0;
  const auto r = co_await cx.read(ch, {reinterpret_cast<char*>(&offset), sizeof offset});
  if (!r || r->bytes != sizeof offset || offset > cx.env().memory_bytes - kPage) co_return 6;

  // 1. The same address in my own space.
  const std::uint64_t mine = user_abi::kUserMemoryBase + offset;
  if (holds_secret(reinterpret_cast<const volatile std::uint64_t*>(mine))) {
    co_await examples::say(cx, "t-user-peer attacker: the victim's secret is visible at {:#x} in my space", mine);
    co_return 3;
  }
  co_await examples::say(cx, "t-user-peer attacker: {:#x} in my space is my own memory, not the victim's secret", mine);

  // 2. The victim's page as a ring operation's buffer.
  const std::uint64_t theirs = peer_memory + offset;
  abi::Sqe s{};
  s.opcode = static_cast<std::uint8_t>(abi::Op::console_write);
  s.addr = theirs;
  s.len = 64;
  const Expected<void> w = co_await platypos::user::Operation<void>(cx, s, as_void);
  co_await examples::say(cx, "t-user-peer attacker: console_write from the victim's memory ({:#x}): {}", theirs,
                         w ? "ok" : examples::name_of(w.status()));
  if (w || w.status() != Status::out_of_range) co_return 5;

  // 3. A plain read.
  co_await examples::say(cx, "t-user-peer attacker: about to read the victim's memory at {:#x}", theirs);
  const std::uint64_t v = *reinterpret_cast<const volatile std::uint64_t*>(theirs);
  co_await examples::say(cx, "t-user-peer attacker: survived the read ({:#x})", v);
  char msg[] = "survived";
  (void)co_await cx.write(ch, {msg, sizeof msg - 1});
  co_return 1;
}

Task<int> user_peer_main(Context& cx) {
  const examples::Args args(cx.args());
  const std::string_view role = args.str_or("role", "");
  const std::uint64_t peer_memory = args.u64_or("peer_memory", 0);
  const auto handles = cx.initial_handles();
  const bool ok_args = args.ok() && args.unknown_key({"role", "peer_memory"}).empty() &&
                       (role == "victim" || (role == "attacker" && peer_memory != 0));
  if (!ok_args || handles.size() != 1) {
    co_await examples::say(cx,
                           "t-user-peer: usage: t-user-peer role=victim | role=attacker peer_memory=ADDR, with a "
                           "channel as handle 0");
    co_return 2;
  }
  if (role == "victim") co_return co_await victim(cx, handles[0]);
  co_return co_await attacker(cx, handles[0], peer_memory);
}

}  // namespace
}  // namespace platypos::baremetal::user_tests

PLATYPOS_USER_PROGRAM("t-user-peer", platypos::baremetal::user_tests::user_peer_main);
