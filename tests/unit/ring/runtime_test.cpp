// Programs on the ring runtime, end to end in the simulator: coroutines, operations, spawning, exit.

#include <platypos/base/format.hpp>
#include <platypos/user/context.hpp>
#include <platypos/user/when_all.hpp>

#include <gtest/gtest.h>

#include "ring_world.hpp"

namespace platypos::ring {
namespace {

using testing::RingWorld;
using user::Context;
using user::Handle;
using user::Status;
using user::Task;

// Reads one message from `ch` and sends it back, reversed.
Task<void> reverse_once(Context& cx, Handle ch) {
  char buf[64];
  auto r = co_await cx.read(ch, buf);
  if (!r) co_return;
  for (u32 i = 0; i < r->bytes / 2; ++i) {
    const char t = buf[i];
    buf[i] = buf[r->bytes - 1 - i];
    buf[r->bytes - 1 - i] = t;
  }
  (void)co_await cx.write(ch, {buf, r->bytes});
}

Task<int> smoke_main(Context& cx) {
  auto pair = co_await cx.channel_create();
  if (!pair) co_return 10;
  cx.spawn(reverse_once(cx, pair->b));
  char msg[] = "platypus";
  if (!co_await cx.write(pair->a, {msg, 8})) co_return 11;
  char back[16] = {};
  auto r = co_await cx.read(pair->a, back);
  if (!r || r->bytes != 8) co_return 12;
  if (std::string_view(back, 8) != "supytalp") co_return 13;
  const u64 t0 = cx.now_ns();
  if (!co_await cx.sleep(1'000'000)) co_return 14;
  if (cx.now_ns() - t0 < 1'000'000) co_return 15;
  // A chain whose middle fails: the rest is cancelled.
  auto [a, b, c] = co_await cx.linked(cx.nop(), cx.close(Handle{999}), cx.nop());
  if (!a || b.status() != Status::bad_handle || c.status() != Status::cancelled) co_return 16;
  co_return 0;
}
PLATYPOS_USER_PROGRAM("t-smoke", smoke_main);

TEST(RingRuntime, SmokeProgramRunsToCompletion) {
  RingWorld w;
  const u64 rings0 = Ring::live_rings();
  const auto out = w.run({{"t-smoke"}});
  ASSERT_FALSE(out.report.stuck) << out.report.stuck_reason;
  ASSERT_EQ(out.exit_codes.size(), 1u);
  EXPECT_EQ(out.exit_codes[0], 0);
  EXPECT_EQ(Ring::live_rings(), rings0);
}

// --- Spawning: handles move to the child, all or nothing -----------------------------------------------------------

// A child that answers one message on its initial handle 0 with the text of its args, then exits with code 7.
Task<int> child_main(Context& cx) {
  if (cx.initial_handles().size() != 1) co_return 100;
  const Handle ch = cx.initial_handles()[0];
  char buf[32];
  auto r = co_await cx.read(ch, buf);
  if (!r) co_return 101;
  char* reply = static_cast<char*>(cx.heap().alloc(64));
  const std::string_view args = cx.args();
  for (usize i = 0; i < args.size(); ++i) reply[i] = args[i];
  (void)co_await cx.write(ch, {reply, args.size()});
  co_return 7;
}
PLATYPOS_USER_PROGRAM("t-child", child_main);

Task<int> parent_main(Context& cx) {
  auto pair = co_await cx.channel_create();
  if (!pair) co_return 10;
  Handle give[1] = {pair->b};
  // Refused: no such program, too many cores, too little memory. pair->b stays ours each time.
  if ((co_await cx.spawn_process("no-such-program", 1, 4 * MiB, give)).status() != Status::not_found) co_return 11;
  if ((co_await cx.spawn_process("t-child", 60, 4 * MiB, give)).status() != Status::invalid_argument) co_return 12;
  if ((co_await cx.spawn_process("t-child", 8, 4 * MiB, give)).status() != Status::no_resources) co_return 13;
  if ((co_await cx.spawn_process("t-child", 1, 1024 * MiB, give)).status() != Status::no_resources) co_return 14;
  Handle bogus[1] = {Handle{4242}};
  if ((co_await cx.spawn_process("t-child", 1, 4 * MiB, bogus)).status() != Status::bad_handle) co_return 15;
  auto child = co_await cx.spawn_process("t-child hello from the parent", 1, 4 * MiB, give);
  if (!child) co_return 16;
  // b went to the child.
  if ((co_await cx.close(pair->b)).status() != Status::bad_handle) co_return 17;
  char ping[] = "ping";
  if (!co_await cx.write(pair->a, {ping, 4})) co_return 18;
  char buf[64];
  auto r = co_await cx.read(pair->a, buf);
  if (!r || std::string_view(buf, r->bytes) != "hello from the parent") co_return 19;
  auto sig = co_await cx.wait(*child, abi::signals::exited);
  if (!sig || (*sig & abi::signals::exited) == 0) co_return 20;
  // The child's end closed with it.
  if ((co_await cx.read(pair->a, buf)).status() != Status::peer_closed) co_return 21;
  co_return 0;
}
PLATYPOS_USER_PROGRAM("t-parent", parent_main);

TEST(RingRuntime, SpawnMovesHandlesAllOrNothing) {
  RingWorld w;
  const auto out = w.run({{"t-parent"}});
  ASSERT_FALSE(out.report.stuck) << out.report.stuck_reason;
  EXPECT_EQ(out.exit_codes[0], 0);
}

// --- Exit with operations in flight ------------------------------------------------------------------------------

Task<void> park_forever(Context& cx, Handle ch) {
  char buf[16];
  (void)co_await cx.read(ch, buf);
}

Task<int> quitter_main(Context& cx) {
  auto pair = co_await cx.channel_create();
  if (!pair) co_return 1;
  for (int i = 0; i < 20; ++i) cx.spawn(park_forever(cx, pair->b));
  cx.spawn([](Context& c) -> Task<void> { (void)co_await c.sleep(1'000'000'000); }(cx));
  auto ev = co_await cx.memory_create(64 * 1024);
  if (!ev) co_return 2;
  auto log = co_await cx.log_create("quitter");
  if (!log) co_return 3;
  (void)co_await cx.sleep(10'000);  // let the reads park
  cx.exit(5);
  co_return 0;
}
PLATYPOS_USER_PROGRAM("t-quitter", quitter_main);

TEST(RingRuntime, ExitWithOperationsInFlightLeaksNothing) {
  RingWorld w;
  const u64 objects = cap::KernelObject::live_objects();
  const u64 rings = Ring::live_rings();
  const auto out = w.run({{"t-quitter"}, {"t-quitter"}});
  ASSERT_FALSE(out.report.stuck) << out.report.stuck_reason;
  EXPECT_EQ(out.exit_codes[0], 5);
  EXPECT_EQ(out.exit_codes[1], 5);
  EXPECT_EQ(Ring::live_rings(), rings);
  EXPECT_EQ(cap::KernelObject::live_objects(), objects);
  w.kernel().reclaim();
  EXPECT_EQ(w.kernel().pages().free_pages(), w.kernel().boot_free_pages());
}

// --- Program bugs end the program, not the kernel ----------------------------------------------------------------

// Each level's frame (32 KiB of it the pad) comes from the program's heap, which runs out after a few dozen levels.
// Few levels, on purpose: without tail calls (sanitizer builds do not make the symmetric transfer one) every level
// also nests a resume on the task's native stack, and the heap must run out long before that stack would.
Task<int> recurse(Context& cx, int depth) {
  char pad[32 * 1024];
  pad[depth % sizeof pad] = 1;
  co_return depth > 1'000'000 ? 0 : co_await recurse(cx, depth + 1) + pad[depth % sizeof pad];
}
Task<int> hog_main(Context& cx) { co_return co_await recurse(cx, 0); }
PLATYPOS_USER_PROGRAM("t-hog", hog_main);

Task<int> deadlock_main(Context& cx) {
  (void)cx;
  struct Never {
    bool await_ready() { return false; }
    void await_suspend(std::coroutine_handle<>) {}
    void await_resume() {}
  };
  co_await Never{};
  co_return 0;
}
PLATYPOS_USER_PROGRAM("t-deadlock", deadlock_main);

TEST(RingRuntime, OutOfProgramMemoryAndDeadlockEndTheProgram) {
  RingWorld w;
  const auto out = w.run({{"t-hog"}, {"t-deadlock"}, {"t-smoke"}});
  ASSERT_FALSE(out.report.stuck) << out.report.stuck_reason;
  EXPECT_EQ(out.exit_codes[0], -1);
  EXPECT_EQ(out.exit_codes[1], -1);
  EXPECT_EQ(out.exit_codes[2], 0);  // the others are unaffected
  w.kernel().reclaim();
  EXPECT_EQ(w.kernel().pages().free_pages(), w.kernel().boot_free_pages());
}

// --- Several app cores: one executor and one ring pair each ---------------------------------------------------------

Task<int> multicore_main(Context& cx) {
  // Every core does some round trips on its own ring; the process ends when all have returned.
  if (cx.env().cores != 3 || cx.env().core_index >= 3) co_return 50;
  auto pair = co_await cx.channel_create();
  if (!pair) co_return 51;
  for (u32 i = 0; i < 100; ++i) {
    char b[8] = {static_cast<char>(cx.env().core_index), 0};
    if (!co_await cx.write(pair->a, {b, 2})) co_return 52;
    char got[8];
    auto r = co_await cx.read(pair->b, got);
    if (!r || r->bytes != 2 || got[0] != b[0]) co_return 53;
  }
  co_return 0;
}
PLATYPOS_USER_PROGRAM("t-multicore", multicore_main);

TEST(RingRuntime, OneRingAndExecutorPerAppCore) {
  RingWorld w(5, 1);
  const auto out = w.run({{"t-multicore", "", 3}});
  ASSERT_FALSE(out.report.stuck) << out.report.stuck_reason;
  EXPECT_EQ(out.exit_codes[0], 0);
}

// --- Fairness: a process flooding the kernel core does not starve another ----------------------------------------

Task<int> flooder_main(Context& cx) {
  // Keeps 64 NOPs in flight forever (until killed).
  for (;;) {
    auto a = cx.nop(), b = cx.nop(), c = cx.nop(), d = cx.nop();
    (void)co_await cx.linked(std::move(a), std::move(b), std::move(c), std::move(d));
    for (int i = 0; i < 60; ++i) cx.spawn([](Context& c2) -> Task<void> { (void)co_await c2.nop(); }(cx));
  }
}
PLATYPOS_USER_PROGRAM("t-flooder", flooder_main);

Task<int> light_main(Context& cx) {
  // Waits for the flood to start, does 200 round trips, then ends the flooder (initial handle 0).
  (void)co_await cx.sleep(100'000);
  const u64 t0 = cx.now_ns();
  for (int i = 0; i < 200; ++i)
    if (!co_await cx.nop()) co_return 1;
  const u64 took = cx.now_ns() - t0;
  char line[96];
  const usize n = format_to(line, sizeof line, "light: 200 round trips in {} ns\n", took);
  (void)co_await cx.console_write({line, n});
  co_return 0;
}
PLATYPOS_USER_PROGRAM("t-light", light_main);

TEST(RingRuntime, ABusyProcessDoesNotStarveAnother) {
  RingWorld w;
  struct Ctx {
    RingWorld* w;
    i64 light_code = -100;
    u64 light_done_ns = 0;
    u64 flooder_nops = 0;
  } ctx{&w};
  w.scheduler()
      .create_task(
          sched::kNoProcess, "supervisor",
          [](void* a) {
            auto* c = static_cast<Ctx*>(a);
            Runtime& rt = c->w->runtime();
            rt.start(1).expect("server");
            auto flood = rt.launch({.program = "t-flooder"}, {}).value();
            auto light = rt.launch({.program = "t-light"}, {}).value();
            (void)cap::wait_signals(*light, cap::kSignalExited, 0);
            c->light_code = light->exit_code();
            c->light_done_ns = Platform::now_ns();
            sched::scheduler().exit_process(flood->pid()).expect("end the flood");
            (void)cap::wait_signals(*flood, cap::kSignalExited, 0);
            RingWorld::finish(rt);
          },
          &ctx)
      .expect("supervisor");
  const auto report = w.simulate();
  ASSERT_FALSE(report.stuck) << report.stuck_reason;
  EXPECT_EQ(ctx.light_code, 0);
  // 200 round trips while the flood runs: bounded (virtual time, deterministic), not starved.
  EXPECT_LT(ctx.light_done_ns, 100'000u + 200u * 20'000u);
}

// --- Virtual time: a server's poll sees the deadlines it serves --------------------------------------------------------

// Sleeps 150 us right after a round trip and exits with how long the sleep took, in microseconds. The program spins
// for its first 100 us (Context's idle spin), then blocks; the server is still in its 200 us poll window after the
// round trip, spinning, not blocked on a timer, when the deadline comes.
Task<int> punctual_main(Context& cx) {
  if (!co_await cx.nop()) co_return -1;
  const u64 t0 = cx.now_ns();
  if (!co_await cx.sleep(150'000)) co_return -2;
  const u64 took_us = (cx.now_ns() - t0) / 1000;
  co_return static_cast<int>(took_us < 1'000'000 ? took_us : 1'000'000);
}
PLATYPOS_USER_PROGRAM("t-punctual", punctual_main);

// The simulator lets a spinning CPU skip ahead to the next thing another CPU will do. A ring server polling its
// rings also watches the clock (its poll window, the deadlines of parked operations): with nothing else happening
// but a timer far away (here the supervisor's 1 s wait), the skip must not carry the server past the sleep's
// deadline. (Seed 653 of the fault exploration found this: a 2 ms sleep ended at the 2 s demo deadline.)
TEST(RingRuntime, ASleepEndsOnTimeWhileTheServerPolls) {
  RingWorld w;
  struct Ctx {
    RingWorld* w;
    i64 code = -100;
  } ctx{&w};
  w.scheduler()
      .create_task(
          sched::kNoProcess, "supervisor",
          [](void* a) {
            auto* c = static_cast<Ctx*>(a);
            Runtime& rt = c->w->runtime();
            rt.start(1).expect("server");
            auto p = rt.launch({.program = "t-punctual"}, {}).value();
            // A bounded wait: this CPU idles with its timer armed 1 s ahead, the only far-off event there is.
            (void)cap::wait_signals(*p, cap::kSignalExited, Platform::now_ns() + 1'000'000'000);
            c->code = p->exited() ? p->exit_code() : -1;
            if (c->code == -1) (void)sched::scheduler().exit_process(p->pid(), -9);
            (void)cap::wait_signals(*p, cap::kSignalExited, 0);
            p.reset();
            RingWorld::finish(rt);
          },
          &ctx)
      .expect("supervisor");
  const auto report = w.simulate();
  ASSERT_FALSE(report.stuck) << report.stuck_reason;
  ASSERT_NE(ctx.code, -1) << "the 150 us sleep had not ended 1 s later";
  EXPECT_GE(ctx.code, 150);
  EXPECT_LT(ctx.code, 160) << "the 150 us sleep took " << ctx.code << " us of virtual time";
}

// --- Threads mode: the same programs on real threads -----------------------------------------------------------

TEST(RingRuntime, ThreadsMode) {
  RingWorld w(6, 1, 0, RingWorld::Mode::threads);
  const auto out = w.run({{"t-smoke"}, {"t-parent"}, {"t-multicore", "", 2}});
  EXPECT_EQ(out.exit_codes[0], 0);
  EXPECT_EQ(out.exit_codes[1], 0);
  EXPECT_EQ(out.exit_codes[2], 50);  // it checks for exactly three cores
  w.kernel().reclaim();
  EXPECT_EQ(w.kernel().pages().free_pages(), w.kernel().boot_free_pages());
}

// --- when_all ------------------------------------------------------------------------------------------------------

Task<u64> sleep_then(Context& cx, u64 ns, u64 value) {
  (void)co_await cx.sleep(ns);
  co_return value;
}
Task<void> bump_after(Context& cx, u64 ns, u32* counter) {
  (void)co_await cx.sleep(ns);
  ++*counter;
}

Task<int> when_all_main(Context& cx) {
  // Concurrently: the three sleeps overlap, so the whole takes about the longest, not the sum.
  const u64 t0 = cx.now_ns();
  u32 first = 0;
  auto [a, nothing, b] = co_await user::when_all(cx, sleep_then(cx, 300'000, 7), bump_after(cx, 250'000, &first),
                                                 sleep_then(cx, 200'000, 9));
  (void)nothing;
  const u64 took = cx.now_ns() - t0;
  if (a != 7 || b != 9 || first != 1) co_return 1;
  if (took < 300'000 || took >= 500'000) co_return 2;
  // Any number of Task<void>.
  u32 counter = 0;
  Task<void> tasks[10];
  for (u32 i = 0; i < 10; ++i) tasks[i] = bump_after(cx, 100'000 + i * 1000, &counter);
  const u64 t1 = cx.now_ns();
  co_await user::when_all(cx, std::span<Task<void>>(tasks));
  if (counter != 10) co_return 3;
  if (cx.now_ns() - t1 >= 300'000) co_return 4;
  // Nothing to wait for.
  co_await user::when_all(cx, std::span<Task<void>>());
  co_return 0;
}
PLATYPOS_USER_PROGRAM("t-when-all", when_all_main);

// (The result is bound to a local: g++ 12.2 miscompiles a Task<void> whose last statement is `if (!co_await ...)`;
// its first resume returns without running the body. docs/rings.md.)
Task<void> one_nop(Context& cx, u32* failures) {
  const auto r = co_await cx.nop();
  if (!r) ++*failures;
}

// Batch after batch through one array of tasks (t-syscall-bench's pattern): each when_all leaves the array's tasks
// empty, and the next batch assigns new ones.
Task<int> when_all_batches_main(Context& cx) {
  u32 failures = 0;
  Task<void> tasks[32];
  for (u32 b = 0; b < 5; ++b) {
    for (Task<void>& t : tasks) t = one_nop(cx, &failures);
    co_await user::when_all(cx, std::span<Task<void>>(tasks));
    for (const Task<void>& t : tasks)
      if (t.valid()) co_return 2;  // when_all took them all
  }
  co_return failures == 0 ? 0 : 1;
}
PLATYPOS_USER_PROGRAM("t-when-all-batches", when_all_batches_main);

TEST(RingRuntime, WhenAllBatchesReuseOneArray) {
  RingWorld w;
  const auto out = w.run({{"t-when-all-batches"}});
  ASSERT_FALSE(out.report.stuck) << out.report.stuck_reason;
  EXPECT_EQ(out.exit_codes[0], 0);
}

TEST(RingRuntime, WhenAllRunsTasksConcurrently) {
  RingWorld w;
  const auto out = w.run({{"t-when-all"}});
  ASSERT_FALSE(out.report.stuck) << out.report.stuck_reason;
  EXPECT_EQ(out.exit_codes[0], 0);
}

// More waits than the SQ holds, none of which completes until main signals: the kernel takes them from the SQ and
// parks them, which frees SQ room without a single completion. The executor must see the room and submit the rest
// (and main's signal after them); it used to block for a completion that could never come (kv-server with 10,000
// idle connections hung so, now and then).
Task<void> wait_on(Context& cx, Handle ev, int* woken) {
  auto r = co_await cx.wait(ev, abi::signals::user_mask & (1u << 24));
  *woken += r ? 1 : 0;
  co_return;
}
Task<int> overflow_parked_main(Context& cx) {
  auto ev = co_await cx.event_create();
  if (!ev) co_return 1;
  constexpr int kWaits = 1000;  // SQ: 256 entries; CQ: 512 by default, so the ring gets a larger one below
  static int woken = 0;
  woken = 0;
  for (int i = 0; i < kWaits; ++i) cx.spawn(wait_on(cx, *ev, &woken));
  // (The sleep goes in first; the waits follow it, 255 into the SQ and the rest into the executor's overflow.)
  (void)co_await cx.sleep(1'000'000);
  // Behind the waits still in the overflow: it goes in only once the kernel has parked the ones before it.
  if (!co_await cx.signal(*ev, 0, 1u << 24)) co_return 2;
  while (woken < kWaits) (void)co_await cx.nop();
  co_return 0;
}
PLATYPOS_USER_PROGRAM("t-overflow-parked", overflow_parked_main);

TEST(RingRuntime, EntriesBeyondTheSqGoInWhenTheKernelParksWhatWasThere) {
  RingWorld w(4, 1, 7, RingWorld::Mode::threads);
  const auto out = w.run({{"t-overflow-parked", "", 1, 8 * MiB, 2048}});
  ASSERT_FALSE(out.report.stuck) << out.report.stuck_reason;
  EXPECT_EQ(out.exit_codes[0], 0);
}

// --- Determinism ---------------------------------------------------------------------------------------------------

TEST(RingRuntime, SameSeedSameSchedule) {
  u64 digest[2] = {};
  for (u64& d : digest) {
    RingWorld w(4, 1, 99);
    const auto out = w.run({{"t-parent"}, {"t-smoke"}});
    ASSERT_EQ(out.exit_codes[0], 0);
    d = out.report.digest;
  }
  EXPECT_EQ(digest[0], digest[1]);
}

}  // namespace
}  // namespace platypos::ring
