// The `hostile` scenario: hostile programs beside a well-behaved pair, and the kernel must keep them apart.
//
// The well-behaved pair: "steady-client" makes `count` round trips to "steady-server" over a channel (a seeded
// message out, the server's transformation of it back; every eighth message carries one end of a fresh channel, on
// which the server answers one byte and hangs up), keeps each answer in a memory object and reads it back, and folds
// everything the kernel gave it into a digest, which it exits with. The supervisor computes the same digest on the
// host, without any kernel: the pair's results must be exactly those, whatever the hostile programs did.
//
// The hostile programs ("hostile", two cores each) write raw submission entries: real opcodes with fields drawn
// from plausible and absurd values (handles they hold, handles they do not, buffers inside, across and outside their
// memory, misaligned arrays, huge lengths, counts and times), unknown opcodes, chains, chains longer than the limit,
// exits in the middle of a chain; they scribble the counters and geometry of their own rings, publish impossible
// tails, ring the doorbell for nothing; their second core rewrites the first core's entries, handle arrays and tail
// while the kernel consumes them. The supervisor kills them and launches new ones at seeded times.
//
// Checked at the end: the pair's digest equals the host's, the server ended cleanly, every accepted ring entry was
// completed or cancelled exactly once, no process, task, page or kernel object is left, no task is stuck. In sim
// mode the same seed gives the same run, byte for byte; `--explore N --scenario hostile` runs N seeds.

#include <platypos/abi/ops.hpp>
#include <platypos/abi/program.hpp>
#include <platypos/cap/channel.hpp>
#include <platypos/cap/process_object.hpp>
#include <platypos/cap/wait.hpp>
#include <platypos/ring/ring.hpp>
#include <platypos/runtime/runtime.hpp>
#include <platypos/user/context.hpp>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "scenario.hpp"

namespace platypos::simtool {
namespace {

using user::Context;
using user::Handle;
using user::Status;
using user::Task;

// --- Shared by the programs and the host -------------------------------------------------------------------------

// splitmix64: a generator small enough for a program to carry (no kernel code, no host library).
struct Mix {
  u64 s;
  u64 next() {
    u64 z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  u64 below(u64 n) { return n == 0 ? 0 : next() % n; }
  bool one_in(u64 n) { return below(n) == 0; }
};

// "key=value" from a program's argument text (0 when absent or not a number).
u64 arg_u64(std::string_view args, std::string_view key) {
  for (usize at = 0; at < args.size();) {
    usize end = args.find(' ', at);
    if (end == std::string_view::npos) end = args.size();
    const std::string_view word = args.substr(at, end - at);
    if (word.size() > key.size() && word.substr(0, key.size()) == key && word[key.size()] == '=') {
      u64 v = 0;
      for (char c : word.substr(key.size() + 1)) {
        if (c < '0' || c > '9') return 0;
        v = v * 10 + static_cast<u64>(c - '0');
      }
      return v;
    }
    at = end + 1;
  }
  return 0;
}

constexpr u32 kSteadyMaxMessage = 200;
constexpr u32 kSteadyMemory = 64 * 1024;  // the client's memory object
constexpr u32 kSteadyHandleEvery = 8;     // every eighth message carries a channel end

// Message i of a run: 1..kSteadyMaxMessage seeded bytes.
u32 steady_message(u64 seed, u32 i, char* out) {
  Mix m{seed * 0x100000001b3ull + i};
  const u32 len = 1 + static_cast<u32>(m.below(kSteadyMaxMessage));
  for (u32 k = 0; k < len; ++k) out[k] = static_cast<char>(m.next());
  return len;
}

// The server's answer: the bytes reversed, each plus one.
void steady_transform(char* buf, u32 len) {
  for (u32 a = 0, b = len; a < b;) {
    --b;
    const char t = buf[a];
    buf[a] = static_cast<char>(buf[b] + 1);
    if (a != b) buf[b] = static_cast<char>(t + 1);
    ++a;
  }
}

u64 fnv(u64 h, const void* p, usize n) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (usize i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ull;
  return h;
}
u64 fnv_u64(u64 h, u64 v) { return fnv(h, &v, sizeof v); }
constexpr u64 kFnvBasis = 0xcbf29ce484222325ull;

// Where answer i goes in the memory object.
u64 steady_offset(u32 i) { return (u64{i} * 97) % (kSteadyMemory - kSteadyMaxMessage); }

// The digest the client must end with, computed without a kernel.
u64 steady_expected(u64 seed, u32 count) {
  u64 h = kFnvBasis;
  char buf[kSteadyMaxMessage];
  for (u32 i = 0; i < count; ++i) {
    const u32 len = steady_message(seed, i, buf);
    steady_transform(buf, len);
    h = fnv_u64(fnv(h, buf, len), len);
    if (i % kSteadyHandleEvery == kSteadyHandleEvery - 1) {
      h = fnv_u64(h, static_cast<u64>('k'));
      h = fnv_u64(h, static_cast<u64>(Status::peer_closed));
    }
    h = fnv_u64(fnv(h, buf, len), len);  // the same bytes back from the memory object
  }
  return h;
}
// A process's exit code is signed: the digest's top 62 bits.
i64 steady_exit_code(u64 digest) { return static_cast<i64>(digest >> 2); }

// --- The well-behaved pair ----------------------------------------------------------------------------------------

Task<int> steady_server_main(Context& cx) {
  const auto hs = cx.initial_handles();
  if (hs.empty()) co_return 2;
  char buf[kSteadyMaxMessage];
  for (;;) {
    Handle got[1];
    const auto r = co_await cx.read(hs[0], buf, got);
    if (!r) co_return r.status() == Status::peer_closed ? 0 : 3;
    if (r->handles == 1) {
      const char k = 'k';
      if (!co_await cx.write(got[0], {&k, 1})) co_return 4;
      if (!co_await cx.close(got[0])) co_return 5;
    }
    steady_transform(buf, r->bytes);
    if (!co_await cx.write(hs[0], {buf, r->bytes})) co_return 6;
  }
}
PLATYPOS_USER_PROGRAM("steady-server", steady_server_main);

// Exits with steady_exit_code(digest) when every call did what it must; with 1..9 (which step failed) otherwise.
Task<int> steady_client_main(Context& cx) {
  const auto hs = cx.initial_handles();
  if (hs.empty()) co_return 2;
  const u64 seed = arg_u64(cx.args(), "seed");
  const u32 count = static_cast<u32>(arg_u64(cx.args(), "count"));
  const auto mem = co_await cx.memory_create(kSteadyMemory);
  if (!mem) co_return 3;
  u64 h = kFnvBasis;
  char out[kSteadyMaxMessage];
  char in[kSteadyMaxMessage];
  for (u32 i = 0; i < count; ++i) {
    const u32 len = steady_message(seed, i, out);
    const bool with_handle = i % kSteadyHandleEvery == kSteadyHandleEvery - 1;
    Handle mine{};
    if (with_handle) {
      const auto pair = co_await cx.channel_create();
      if (!pair) co_return 4;
      mine = pair->a;
      const Handle give[1] = {pair->b};
      if (!co_await cx.write(hs[0], {out, len}, give)) co_return 5;
    } else if (!co_await cx.write(hs[0], {out, len})) {
      co_return 5;
    }
    const auto r = co_await cx.read(hs[0], in);
    if (!r) co_return 6;
    h = fnv_u64(fnv(h, in, r->bytes), r->bytes);
    if (with_handle) {
      char k = 0;
      const auto a = co_await cx.read(mine, {&k, 1});
      if (!a) co_return 7;
      h = fnv_u64(h, static_cast<u64>(k));
      const auto b = co_await cx.read(mine, {&k, 1});
      h = fnv_u64(h, b ? u64{0} : static_cast<u64>(b.status()));
      if (!co_await cx.close(mine)) co_return 8;
    }
    if (!co_await cx.memory_write(*mem, steady_offset(i), {in, r->bytes})) co_return 9;
    char back[kSteadyMaxMessage];
    const auto got = co_await cx.memory_read(*mem, steady_offset(i), {back, r->bytes});
    if (!got) co_return 9;
    h = fnv_u64(fnv(h, back, *got), *got);
  }
  cx.exit(steady_exit_code(h));
}
PLATYPOS_USER_PROGRAM("steady-client", steady_client_main);

// --- The hostile program ------------------------------------------------------------------------------------------

// Each core's scratch area, at the start of its heap: what its entries point at. Core 1 of a process rewrites core
// 0's (and core 0's entries and tail).
struct Scratch {
  u32 handles[16];  // the handle arrays of entries (addr2)
  u8 text[256];     // payloads written to the kernel (printable: console_write may print them)
  u8 out[1024];     // buffers the kernel writes into
};

struct Hostile {
  const abi::ProgramEnv* env;
  abi::RingHeader* hdr;
  abi::Sqe* sq;
  abi::Cqe* cq;
  u32 sq_mask;
  u32 cq_mask;
  u32 tail;     // this core's idea of sq_tail
  u32 cq_head;  // and of cq_head
  u64 next_id;
  Scratch* scratch;
  u8* lo;  // where buffers inside the program's memory may start: after the environments (which hold this
  u8* hi;  // program's own function pointers: a kernel write there would crash the simulator, not the kernel)
  u32 known[32];
  u32 nknown;
  Mix rng;
};

template <class T>
void scribble(T* p, T v) {
  __atomic_store_n(p, v, __ATOMIC_RELAXED);  // racing with the kernel and the other core: atomic for the tools
}

void learn(Hostile& h, u32 handle) {
  if (handle == 0) return;
  h.known[h.nknown % 32] = handle;
  ++h.nknown;
}

u32 some_handle(Hostile& h) {
  switch (h.rng.below(8)) {
    case 0: return 0;
    case 1: return static_cast<u32>(h.rng.next());
    case 2: return h.env->self;
    case 3: return h.env->initial_handle_count > 0 ? h.env->initial_handles[0] : 0;
    default: return h.nknown == 0 ? 0 : h.known[h.rng.below(h.nknown < 32 ? h.nknown : 32)];
  }
}

u64 some_addr(Hostile& h, u64 len) {
  const auto lo = reinterpret_cast<u64>(h.lo);
  const auto hi = reinterpret_cast<u64>(h.hi);
  switch (h.rng.below(10)) {
    case 0: return 0;
    case 1: return h.rng.next();
    case 2: return hi - (len > 8 ? len / 2 : 4);               // across the end of its memory
    case 3: return reinterpret_cast<u64>(h.env->memory) - 16;  // just before it
    case 4: return hi;
    case 5: return lo + h.rng.below(hi - lo - 4096);  // anywhere in it (not in the environments)
    case 6: return reinterpret_cast<u64>(h.scratch->text);
    default: return reinterpret_cast<u64>(h.scratch->out);
  }
}

u64 some_len(Hostile& h) {
  switch (h.rng.below(6)) {
    case 0: return 0;
    case 1: return h.rng.next() & 0xffffffffu;
    case 2: return 1 + h.rng.below(4096);
    default: return 1 + h.rng.below(64);
  }
}

u64 some_arg(Hostile& h) {
  switch (h.rng.below(8)) {
    case 0: return 0;
    case 1: return h.rng.next();
    case 2: return ~u64{0};
    case 3: return abi::rights::all;
    case 4: return abi::signals::user_mask;
    case 5: return 1 + h.rng.below(2'000'000);  // a time, a size
    default: return h.rng.below(64);
  }
}

// One entry: a known op with fields from plausible to absurd, sometimes an unknown op or unused fields set.
abi::Sqe make_entry(Hostile& h, bool link) {
  abi::Sqe s{};
  s.opcode = h.rng.one_in(12) ? static_cast<u8>(h.rng.next()) : static_cast<u8>(h.rng.below(abi::kOpCount));
  const abi::OpInfo* info = abi::op_info(s.opcode);
  const u32 fields = info == nullptr || h.rng.one_in(10) ? ~0u : info->fields;
  if (fields & abi::field::handle) s.handle = some_handle(h);
  if (fields & abi::field::len) s.len = static_cast<u32>(some_len(h));
  if (fields & abi::field::addr) s.addr = some_addr(h, s.len);
  if (fields & abi::field::count)
    s.count = h.rng.one_in(8) ? static_cast<u32>(h.rng.next()) : static_cast<u32>(h.rng.below(4));
  if (fields & abi::field::addr2) {
    s.addr2 = h.rng.one_in(6) ? some_addr(h, s.count) : reinterpret_cast<u64>(h.scratch->handles);
    if (h.rng.one_in(10)) s.addr2 += 1 + h.rng.below(3);  // misaligned
    for (u32 i = 0; i < 4; ++i) scribble(&h.scratch->handles[i], some_handle(h));
  }
  if (fields & abi::field::arg0) s.arg0 = some_arg(h);
  if (fields & abi::field::arg1) s.arg1 = some_arg(h);
  if (h.rng.one_in(40)) s.reserved0 = static_cast<u16>(h.rng.next());
  if (h.rng.one_in(40)) s.reserved1 = h.rng.next();
  s.flags = static_cast<u8>((link ? abi::kSqeLink : 0) | (h.rng.one_in(3) ? abi::kSqeNonBlocking : 0) |
                            (h.rng.one_in(50) ? h.rng.next() & 0xfc : 0));
  switch (static_cast<abi::Op>(s.opcode)) {
    case abi::Op::process_exit:
      // Exiting itself ends the program: now and then, mid-chain included, not on every other entry.
      if ((s.handle == 0 || s.handle == h.env->self) && !h.rng.one_in(40)) s.handle = static_cast<u32>(h.rng.next());
      break;
    case abi::Op::process_spawn:
      // Mostly names that are no program; now and then another hostile program, paid from its own account.
      if (h.rng.one_in(8)) {
        static constexpr char kCmd[] = "hostile iters=200";
        for (usize i = 0; i < sizeof kCmd - 1; ++i) h.scratch->text[i] = static_cast<u8>(kCmd[i]);
        s.addr = reinterpret_cast<u64>(h.scratch->text);
        s.len = sizeof kCmd - 1;
        s.arg0 = 1;
        s.arg1 = 1 << 20;
      }
      break;
    case abi::Op::channel_read:
    case abi::Op::log_read:
      // Parked operations count against the CQ's room, and a full CQ stops the ring (the kernel's backpressure):
      // mostly not waiting, so that the program goes on saying things.
      if (!h.rng.one_in(4)) s.flags |= abi::kSqeNonBlocking;
      break;
    case abi::Op::timeout:
      if (!h.rng.one_in(4)) s.arg0 = h.rng.below(100'000);
      break;
    case abi::Op::wait:
      if (!h.rng.one_in(4)) s.arg1 = 1 + h.rng.below(100'000);
      break;
    case abi::Op::console_write:
      s.addr = reinterpret_cast<u64>(h.scratch->text);
      s.len = static_cast<u32>(h.rng.below(24));
      break;
    default: break;
  }
  s.user_data = (u64{s.opcode} << 56) | (h.next_id++ & 0x00ffffffffffffffull);
  return s;
}

void put_entry(Hostile& h, const abi::Sqe& s) {
  auto* dst = reinterpret_cast<u64*>(&h.sq[h.tail & h.sq_mask]);
  const auto* src = reinterpret_cast<const u64*>(&s);
  for (u32 i = 0; i < sizeof(abi::Sqe) / 8; ++i) scribble(&dst[i], src[i]);
  ++h.tail;
}

void publish(Hostile& h) {
  // The kernel sees a tail more than a ring ahead of its head as corrupt (and then publishes its head again: this
  // program scribbles that too). Where a sane tail is: ahead of ours when the other core published our future.
  const u32 entries = h.sq_mask + 1;
  const u32 head = h.hdr->sq_head.load(std::memory_order_acquire);
  if (head != h.tail && head - h.tail <= entries) {
    h.tail = head;
  } else if (h.tail - head > entries) {
    h.tail = head + entries;  // overran: what was overwritten is lost, the rest runs
  }
  h.hdr->sq_tail.store(h.tail, std::memory_order_release);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if ((h.hdr->flags.load(std::memory_order_relaxed) & abi::kRingFlagNeedWakeup) != 0 || h.rng.one_in(20)) {
    h.env->doorbell(h.env->syscall_ctx);
  }
}

// Takes the completions, learning the handles ops gave it.
void reap(Hostile& h) {
  const u32 tail = h.hdr->cq_tail.load(std::memory_order_acquire);
  const u32 n = tail - h.cq_head;
  if (n > h.cq_mask + 1) {
    // Out of step (it scribbled the tail, or took scribbled entries): skip to the tail. If that is a scribbled one,
    // the kernel, seeing an impossible head, publishes its own tail again.
    h.cq_head = tail;
    h.hdr->cq_head.store(h.cq_head, std::memory_order_release);
    return;
  }
  for (u32 i = 0; i < n; ++i) {
    // (Atomic: past a scribbled tail it reads entries the kernel is writing.)
    abi::Cqe* at = &h.cq[(h.cq_head + i) & h.cq_mask];
    const abi::Cqe c{__atomic_load_n(&at->user_data, __ATOMIC_RELAXED), __atomic_load_n(&at->result, __ATOMIC_RELAXED)};
    if (c.result < 0) continue;
    switch (static_cast<abi::Op>(c.user_data >> 56)) {
      case abi::Op::channel_create:
        learn(h, static_cast<u32>(static_cast<u64>(c.result) >> 32));
        learn(h, static_cast<u32>(c.result));
        break;
      case abi::Op::handle_duplicate:
      case abi::Op::handle_replace:
      case abi::Op::process_spawn:
      case abi::Op::memory_create:
      case abi::Op::log_create:
      case abi::Op::ref_create:
      case abi::Op::event_create: learn(h, static_cast<u32>(c.result)); break;
      case abi::Op::channel_read:
        for (u32 k = 0; k < (static_cast<u64>(c.result) >> 32) && k < 4; ++k) learn(h, h.scratch->handles[k]);
        break;
      default: break;
    }
  }
  h.cq_head += n;
  h.hdr->cq_head.store(h.cq_head, std::memory_order_release);
}

// Writes nonsense into this core's own ring header: counters and the geometry the kernel must not trust.
void scribble_own_header(Hostile& h) {
  abi::RingHeader* r = h.hdr;
  const u32 v = h.rng.one_in(2) ? static_cast<u32>(h.rng.next()) : h.tail + static_cast<u32>(h.rng.below(600)) - 300;
  switch (h.rng.below(8)) {
    case 0: r->sq_tail.store(v, std::memory_order_release); break;
    case 1: r->sq_head.store(v, std::memory_order_relaxed); break;
    case 2: r->cq_head.store(v, std::memory_order_release); break;
    case 3: r->cq_tail.store(v, std::memory_order_relaxed); break;
    case 4: r->flags.store(v, std::memory_order_relaxed); break;
    case 5: scribble(&r->sq_entries, v); break;
    case 6: scribble(&r->cq_offset, v); break;
    default: scribble(&r->sq_offset, v); break;
  }
}

// Core 1: rewrites core 0's entries (published or not), its handle arrays and its tail.
void scribble_core0(Hostile& h) {
  const auto* env0 = static_cast<const abi::ProgramEnv*>(h.env->memory);
  abi::RingHeader* r0 = env0->ring;
  auto* scratch0 = static_cast<Scratch*>(env0->heap);
  const u32 entries = h.sq_mask + 1;  // every core's ring has the same geometry (read from its own, at its start)
  auto* sq0 = reinterpret_cast<abi::Sqe*>(reinterpret_cast<u8*>(r0) +
                                          (reinterpret_cast<u8*>(h.sq) - reinterpret_cast<u8*>(h.hdr)));
  switch (h.rng.below(4)) {
    case 0: {
      const u32 tail0 = r0->sq_tail.load(std::memory_order_relaxed);
      auto* e = reinterpret_cast<u64*>(&sq0[(tail0 - h.rng.below(3)) & (entries - 1)]);
      scribble(&e[h.rng.below(8)], h.rng.one_in(2) ? h.rng.next() : h.rng.below(64));
      break;
    }
    case 1:
      for (u32 i = 0; i < 4; ++i) scribble(&scratch0->handles[i], some_handle(h));
      break;
    case 2:
      r0->sq_tail.store(r0->sq_tail.load(std::memory_order_relaxed) + static_cast<u32>(h.rng.below(4)),
                        std::memory_order_release);
      break;
    default: {
      // One byte of an entry; in an address, a move of up to 4 MiB instead (which bytes of an address move it in
      // or out of the program's memory depends on where the host put that memory: the run would not replay).
      abi::Sqe* e = &sq0[h.rng.below(entries)];
      const u64 at = h.rng.below(sizeof(abi::Sqe));
      if (at >= offsetof(abi::Sqe, addr) && at < offsetof(abi::Sqe, addr) + 8) {
        scribble(&e->addr, __atomic_load_n(&e->addr, __ATOMIC_RELAXED) + h.rng.below(8 * MiB) - 4 * MiB);
      } else if (at >= offsetof(abi::Sqe, addr2) && at < offsetof(abi::Sqe, addr2) + 8) {
        scribble(&e->addr2, __atomic_load_n(&e->addr2, __ATOMIC_RELAXED) + h.rng.below(8 * MiB) - 4 * MiB);
      } else {
        scribble(reinterpret_cast<u8*>(e) + at, static_cast<u8>(h.rng.next()));
      }
      break;
    }
  }
}

void hostile_main(const abi::ProgramEnv* env) {
  std::string_view args(env->args);
  Hostile h{};
  h.env = env;
  h.hdr = env->ring;
  // The geometry, read once before anyone scribbles it (this core's own copy from here on).
  h.sq = reinterpret_cast<abi::Sqe*>(reinterpret_cast<u8*>(h.hdr) + h.hdr->sq_offset);
  h.cq = reinterpret_cast<abi::Cqe*>(reinterpret_cast<u8*>(h.hdr) + h.hdr->cq_offset);
  h.sq_mask = h.hdr->sq_entries - 1;
  h.cq_mask = h.hdr->cq_entries - 1;
  h.tail = h.hdr->sq_tail.load(std::memory_order_relaxed);
  h.cq_head = h.hdr->cq_head.load(std::memory_order_relaxed);
  h.scratch = static_cast<Scratch*>(env->heap);
  for (u8& c : h.scratch->text) scribble(&c, static_cast<u8>('a' + (&c - h.scratch->text) % 26));
  const auto* env0 = static_cast<const abi::ProgramEnv*>(env->memory);
  h.lo = static_cast<u8*>(env0->heap);
  h.hi = static_cast<u8*>(env->memory) + env->memory_bytes;
  h.rng = Mix{arg_u64(args, "seed") * 31 + env->core_index + 1};
  u64 iters = arg_u64(args, "iters");
  if (iters == 0) iters = 50'000;
  for (u64 it = 0; it < iters; ++it) {
    const u64 what = h.rng.below(100);
    if (what < 55) {
      // A batch: single entries and chains, now and then one longer than kMaxChain.
      u32 n = 1 + static_cast<u32>(h.rng.below(6));
      const bool overlong = h.rng.one_in(15);
      if (overlong) n = abi::kMaxChain + 1 + static_cast<u32>(h.rng.below(8));
      for (u32 i = 0; i < n; ++i) put_entry(h, make_entry(h, overlong ? i + 1 < n : h.rng.one_in(3) && i + 1 < n));
      publish(h);
    } else if (what < 65) {
      scribble_own_header(h);
    } else if (what < 80) {
      if (env->core_index == 1) scribble_core0(h);
    } else if (what < 82) {
      // Blocks: on a short timeout of its own (unless its scribbles keep the kernel from seeing it: then until the
      // supervisor kills it).
      abi::Sqe t{};
      t.opcode = static_cast<u8>(abi::Op::timeout);
      t.arg0 = 1'000 + h.rng.below(50'000);
      t.user_data = u64{t.opcode} << 56;
      put_entry(h, t);
      publish(h);
      env->wait_completions(env->syscall_ctx, 1);
    } else if (what < 85) {
      env->doorbell(env->syscall_ctx);
    } else {
      publish(h);  // also puts a scribbled tail back
    }
    reap(h);
    env->relax();
  }
}
PLATYPOS_PROGRAM("hostile", hostile_main);

// --- The supervisor -----------------------------------------------------------------------------------------------

constexpr u64 kDeadlineNs = 5'000'000'000;  // virtual time: a healthy run takes a few ms
constexpr u64 kTeardownNs = 500'000'000;
constexpr u64 kHostileMemory = 4 * MiB;
constexpr u32 kHostileCores = 2;

struct World {
  const Options* opt = nullptr;
  std::unique_ptr<ring::Runtime> runtime;
  u64 seed = 0;
  u32 count = 1000;
  u32 hostiles = 0;
  u32 iters = 50'000;
  u64 expected = 0;
  i64 client_code = -1;
  i64 server_code = -1;
  bool launched = false;
  bool rings_left = false;  // then the runtime is not destroyed (its servers still list them): leaked, reported
  u64 hostile_launched = 0, hostile_killed = 0, hostile_exited = 0, hostile_refused = 0, killed_at_end = 0;
  u64 end_ns = 0;
  std::vector<std::string> problems;
};

// Every live process, but for `keep` (under the process table's lock: in threads mode they come and go meanwhile).
std::vector<sched::ProcessId> running_except(ring::Runtime& rt, sched::ProcessId keep) {
  std::vector<sched::ProcessId> out;
  rt.processes().for_each_live([&](proc::Process& p) {
    if (p.id() != keep) out.push_back(p.id());
  });
  return out;
}

void supervisor(void* arg) {
  auto* w = static_cast<World*>(arg);
  sched::Scheduler& s = sched::scheduler();
  ring::Runtime& rt = *w->runtime;
  rt.start(w->opt->kernel_cores).expect("ring servers");
  Mix rng{w->seed ^ 0x686f7374696c65ull};

  auto pair = cap::ChannelEndpoint::create().expect("channel");
  const cap::Rights rw = cap::Rights::read | cap::Rights::write | cap::Rights::wait;
  cap::Capability cs[1] = {{pair.a.leak(), rw, 0}};
  cap::Capability cc[1] = {{pair.b.leak(), rw, 0}};
  auto server = rt.launch({.program = "steady-server", .cores = 1, .memory_bytes = 2 * MiB}, cs);
  const std::string client_args = "seed=" + std::to_string(w->seed) + " count=" + std::to_string(w->count);
  auto client =
      server.is_error()
          ? Result<cap::Ref<cap::ProcessObject>>(server.error())
          : rt.launch({.program = "steady-client", .cores = 1, .memory_bytes = 2 * MiB, .args = client_args}, cc);
  if (server.is_error() || client.is_error()) {
    for (cap::Capability* c : {&cs[0], &cc[0]})
      if (c->object != nullptr) c->object->release();
    w->problems.push_back(std::string("the well-behaved pair could not be launched: ") +
                          error_name(server.is_error() ? server.error() : client.error()));
    if (server) (void)s.exit_process((*server)->pid(), -9);
  } else {
    w->launched = true;
    auto launch_hostile = [&]() -> cap::Ref<cap::ProcessObject> {
      const std::string a = "seed=" + std::to_string(rng.next() >> 1) + " iters=" + std::to_string(w->iters);
      auto p = rt.launch({.program = "hostile", .cores = kHostileCores, .memory_bytes = kHostileMemory, .args = a}, {});
      if (p.is_error()) {
        ++w->hostile_refused;
        return {};
      }
      ++w->hostile_launched;
      return std::move(*p);
    };
    std::vector<cap::Ref<cap::ProcessObject>> hostile(w->hostiles);
    for (auto& p : hostile) p = launch_hostile();
    const u64 deadline = Platform::now_ns() + kDeadlineNs;
    while (!((*client)->exited())) {
      if (Platform::now_ns() >= deadline) {
        w->problems.push_back("the well-behaved client did not finish in " + std::to_string(kDeadlineNs / 1'000'000) +
                              " ms of virtual time");
        (void)s.exit_process((*client)->pid(), -9);
        break;
      }
      s.sleep_for(20'000 + rng.below(200'000));
      // Kill one of them (or what one spawned), now and then none; relaunch every one that is gone.
      if (!rng.one_in(4)) {
        std::vector<sched::ProcessId> victims = running_except(rt, (*server)->pid());
        std::erase(victims, (*client)->pid());
        if (!victims.empty() && s.exit_process(victims[rng.below(victims.size())], -9).has_value()) {
          ++w->hostile_killed;
        }
      }
      for (auto& p : hostile) {
        if (p && p->exited()) {
          if (p->exit_code() != -9) ++w->hostile_exited;
          p.reset();
        }
        if (!p) p = launch_hostile();
      }
    }
    (void)cap::wait_signals(**client, cap::kSignalExited, 0);
    w->client_code = (*client)->exit_code();
    // What is left: the hostile programs and what they spawned. The server ends by itself (its peer is gone). A
    // child outlives its parent, and a parent being killed may be in the middle of a spawn on a ring server (its
    // child then goes live after the sweep saw the parent: seed 1434), so the sweep repeats until every process it
    // killed is torn down (no ring left to spawn from) and nothing new is live.
    std::vector<sched::ProcessId> killed;
    const u64 sweep_deadline = Platform::now_ns() + kTeardownNs;
    for (;;) {
      std::vector<sched::ProcessId> live = running_except(rt, (*server)->pid());
      for (sched::ProcessId pid : live) {
        if (s.exit_process(pid, -9).has_value()) ++w->killed_at_end;
        killed.push_back(pid);
      }
      const bool gone = wait_until(
          [&] {
            for (sched::ProcessId pid : killed)
              if (rt.processes().find(pid) != nullptr) return false;
            return true;
          },
          sweep_deadline);
      if (!gone) {
        w->problems.push_back("processes killed at the end were not torn down in " +
                              std::to_string(kTeardownNs / 1'000'000) + " ms");
        break;
      }
      if (live.empty()) break;
    }
    hostile.clear();
    if (cap::wait_signals(**server, cap::kSignalExited, Platform::now_ns() + kTeardownNs).is_error()) {
      w->problems.push_back("the well-behaved server did not end after its client");
      (void)s.exit_process((*server)->pid(), -9);
      (void)cap::wait_signals(**server, cap::kSignalExited, 0);
    }
    w->server_code = (*server)->exit_code();
  }
  server = Error::not_found;
  client = Error::not_found;
  const bool shut_down = rt.shutdown(Platform::now_ns() + kTeardownNs).has_value();
  w->end_ns = Platform::now_ns();
  if (!shut_down) {
    std::string which;
    for (u32 i = 0; i < rt.server_count(); ++i) {
      rt.server(i).for_each_ring([&](const ring::Ring& r) {
        char buf[160];
        std::snprintf(buf, sizeof buf, " [ring of %#x on server %u: %u in flight, %u not consumed]", r.pid(), i,
                      r.in_flight(), r.unconsumed());
        which += buf;
      });
    }
    w->problems.push_back(std::to_string(rt.ring_count()) + " rings still there " +
                          std::to_string(kTeardownNs / 1'000'000) + " ms after their processes were killed:" + which);
    w->rings_left = true;
    rt.stop();  // (the servers end, their rings stay: leaked, reported)
  }
  stop_tracing();
  if (!wait_until([&s] { return s.live_tasks() <= 1; }, Platform::now_ns() + kTeardownNs)) {
    w->problems.push_back("kernel tasks still there after everything else ended");
  }
  s.stop();
}

int run_hostile(const Options& opt) {
  World w;
  w.opt = &opt;
  w.seed = opt.seed;
  if (!opt.plant.empty()) {
    std::fprintf(stderr, "platypos-sim: --plant is for the programs scenario\n");
    return 2;
  }
  const u32 app_cores = opt.cpus - opt.kernel_cores;
  const std::string_view pa = opt.program_args;
  if (const u64 c = arg_u64(pa, "count"); c != 0) w.count = static_cast<u32>(c > 1'000'000 ? 1'000'000 : c);
  if (const u64 i = arg_u64(pa, "iters"); i != 0) w.iters = static_cast<u32>(i > 1'000'000 ? 1'000'000 : i);
  w.hostiles = app_cores >= 2 ? (app_cores - 2) / kHostileCores : 0;
  if (const u64 n = arg_u64(pa, "hostile"); pa.find("hostile=") != std::string_view::npos) {
    w.hostiles = static_cast<u32>(n);
  }
  if (opt.policy == sched::Policy::dedicated && app_cores < 2 + kHostileCores * (w.hostiles == 0 ? 0 : 1)) {
    std::fprintf(stderr,
                 "platypos-sim: the hostile scenario needs 2 app cores for the well-behaved pair and %u per hostile "
                 "program (--cpus %u --kernel-cores %u leaves %u)\nRun with --help for more information.\n",
                 kHostileCores, opt.cpus, opt.kernel_cores, app_cores);
    return 2;
  }
  if (opt.kernel_cores > ring::Runtime::kMaxServers) {
    std::fprintf(stderr, "platypos-sim: at most %u kernel cores (one ring server each)\n", ring::Runtime::kMaxServers);
    return 2;
  }
  w.expected = steady_expected(w.seed, w.count);
  std::printf("platypos-sim: scenario hostile, mode %s, policy %s, %u cpus (%u kernel cores), seed %" PRIu64 "\n",
              mode_name(opt.mode), sched::policy_name(opt.policy), opt.cpus, opt.kernel_cores, opt.seed);
  std::printf(
      "well-behaved: steady-client makes %u round trips to steady-server; %u hostile programs (%u cores, "
      "%u iterations each), killed and relaunched at seeded times\n",
      w.count, w.hostiles, kHostileCores, w.iters);
  if (opt.faults) {
    std::printf(
        "faults: the hostile programs are the faults (no kernel fault injection: the pair's results must be "
        "exactly a clean run's)\n");
  }
  int status = 0;
  ring::Ring::reset_totals();
  run_kernel(
      opt,
      [&](hosted::Kernel& k) {
        w.runtime = std::make_unique<ring::Runtime>(k.processes(), ring::linked_programs());
        k.scheduler().create_task(sched::kNoProcess, "supervisor", &supervisor, &w).expect("supervisor");
      },
      [&](hosted::Kernel& k, const RunResult& r) {
        std::printf("\n");
        const i64 want = steady_exit_code(w.expected);
        std::printf("well-behaved: client exit code %" PRIi64 " (host's digest gives %" PRIi64 ": %s), server %" PRIi64
                    "\n",
                    w.client_code, want, w.client_code == want ? "the same" : "DIFFERENT", w.server_code);
        if (w.launched && (w.client_code != want || w.server_code != 0)) {
          w.problems.push_back("the well-behaved pair's results differ from a clean run's");
        }
        std::printf("hostile: %" PRIu64 " launched, %" PRIu64 " killed while running, %" PRIu64
                    " exited by their own hand, %" PRIu64
                    " processes killed at the end (with what they spawned), %" PRIu64 " launches refused (admission)\n",
                    w.hostile_launched, w.hostile_killed, w.hostile_exited, w.killed_at_end, w.hostile_refused);
        const ring::Ring::Stats t = ring::Ring::totals();
        std::printf("rings: %" PRIu64 " entries submitted, %" PRIu64 " completed, %" PRIu64
                    " cancelled at exit, %" PRIu64 " rejected as malformed; %" PRIu64 " doorbells\n",
                    t.submitted, t.completed, t.cancelled, t.rejected, t.doorbells);
        if (w.rings_left) {
          (void)w.runtime.release();  // destroying servers that still list rings would panic: report instead
        } else {
          w.runtime.reset();
        }
        status = finish_report(k, opt, r, w.problems, w.end_ns);
      });
  return status;
}

}  // namespace

int run_hostile_scenario(const Options& opt) { return run_hostile(opt); }

}  // namespace platypos::simtool
