// The system-call rings on the machine they run on: a ring server and a program written against core/user, on one
// CPU (timeshare: the program's task, the ring server and the supervisor take turns; the timer preempts), over the
// kernel's real memory. The same suite runs in the hosted ktest binary and in the bare-metal kernel under QEMU.

#include <platypos/cap/process_object.hpp>
#include <platypos/cap/wait.hpp>
#include <platypos/ktest/ktest.hpp>
#include <platypos/mm/kernel_memory.hpp>
#include <platypos/ring/ring.hpp>
#include <platypos/runtime/runtime.hpp>
#include <platypos/sched/scheduler.hpp>
#include <platypos/user/context.hpp>

#include <new>

namespace platypos::ring {
namespace {

using user::Context;
using user::Handle;
using user::Status;
using user::Task;

// --- Programs -------------------------------------------------------------------------------------------------------

Task<void> echo_once(Context& cx, Handle ch) {
  char buf[32];
  auto r = co_await cx.read(ch, buf);
  if (r) (void)co_await cx.write(ch, {buf, r->bytes});
}

Task<int> kring_echo(Context& cx) {
  auto pair = co_await cx.channel_create();
  if (!pair) co_return 1;
  cx.spawn(echo_once(cx, pair->b));
  char msg[4] = {'r', 'i', 'n', 'g'};
  if (!co_await cx.write(pair->a, {msg, 4})) co_return 2;
  char back[8];
  auto r = co_await cx.read(pair->a, back);
  if (!r || r->bytes != 4 || back[3] != 'g') co_return 3;
  const u64 t0 = cx.now_ns();
  if (!co_await cx.sleep(2'000'000)) co_return 4;
  if (cx.now_ns() - t0 < 2'000'000) co_return 5;
  auto [a, b] = co_await cx.linked(cx.close(Handle{999}), cx.nop());
  if (a.status() != Status::bad_handle || b.status() != Status::cancelled) co_return 6;
  co_return 0;
}
PLATYPOS_USER_PROGRAM("ktest-ring-echo", kring_echo);

// Raw entries, exactly as a buggy or hostile program could write them.
Task<i64> raw(Context& cx, abi::Sqe s) {
  auto r = co_await user::Operation<u64>(cx, s, [](i64 v) -> user::Expected<u64> {
    return v < 0 ? user::Expected<u64>(abi::status_of(v)) : user::Expected<u64>(static_cast<u64>(v));
  });
  co_return r ? static_cast<i64>(*r) : -static_cast<i64>(r.status());
}

Task<int> kring_malformed(Context& cx) {
  abi::Sqe s{};
  s.opcode = 200;
  if (co_await raw(cx, s) != abi::error_result(Status::not_supported)) co_return 1;
  s = {};
  s.flags = 0x40;
  if (co_await raw(cx, s) != abi::error_result(Status::invalid_argument)) co_return 2;
  s = {};
  s.reserved1 = 1;
  if (co_await raw(cx, s) != abi::error_result(Status::invalid_argument)) co_return 3;
  auto pair = co_await cx.channel_create();
  if (!pair) co_return 4;
  s = {};
  s.opcode = static_cast<u8>(abi::Op::channel_write);
  s.handle = pair->a.value;
  s.addr = 0x1000;  // not the program's memory
  s.len = 8;
  if (co_await raw(cx, s) != abi::error_result(Status::out_of_range)) co_return 5;
  s.addr = reinterpret_cast<uptr>(cx.env().memory);
  s.handle = 777;
  if (co_await raw(cx, s) != abi::error_result(Status::bad_handle)) co_return 6;
  auto ro = co_await cx.duplicate(pair->a, abi::rights::read);
  if (!ro) co_return 7;
  s.handle = ro->value;
  if (co_await raw(cx, s) != abi::error_result(Status::access_denied)) co_return 8;
  if (!co_await cx.close(pair->b)) co_return 9;
  s.handle = pair->a.value;
  if (co_await raw(cx, s) != abi::error_result(Status::peer_closed)) co_return 10;
  co_return 0;
}
PLATYPOS_USER_PROGRAM("ktest-ring-malformed", kring_malformed);

Task<void> wait_forever(Context& cx, Handle ch) {
  char buf[8];
  (void)co_await cx.read(ch, buf);
}

Task<int> kring_quitter(Context& cx) {
  auto pair = co_await cx.channel_create();
  if (!pair) co_return 1;
  for (int i = 0; i < 8; ++i) cx.spawn(wait_forever(cx, pair->b));
  (void)co_await cx.log_create("quitter");
  (void)co_await cx.memory_create(16 * 1024);
  (void)co_await cx.sleep(100'000);
  cx.exit(9);
  co_return 0;
}
PLATYPOS_USER_PROGRAM("ktest-ring-quitter", kring_quitter);

// --- Harness --------------------------------------------------------------------------------------------------------

alignas(sched::Scheduler) constinit unsigned char g_sched_storage[sizeof(sched::Scheduler)] = {};
alignas(proc::ProcessTable) constinit unsigned char g_processes_storage[sizeof(proc::ProcessTable)] = {};
alignas(Runtime) constinit unsigned char g_runtime_storage[sizeof(Runtime)] = {};

struct Run {
  const char* programs[4] = {};
  i64 codes[4] = {};
  u32 count = 0;
};

// Runs the programs (in order, one at a time) on a one-CPU timeshare scheduler with one ring server.
void run_programs(Run& run) {
  auto* s = new (g_sched_storage)
      sched::Scheduler({.cpus = 1, .kernel_cores = 1, .policy = sched::Policy::timeshare, .quantum_ns = 1'000'000},
                       KernelMemory::instance()->page_source());
  sched::Scheduler::install(s);
  auto* processes = new (g_processes_storage) proc::ProcessTable(*s);
  auto* rt = new (g_runtime_storage) Runtime(*processes, linked_programs());
  struct Ctx {
    Runtime* rt;
    Run* run;
  } ctx{rt, &run};
  s->create_task(
       sched::kNoProcess, "supervisor",
       [](void* a) {
         auto* c = static_cast<Ctx*>(a);
         c->rt->start(1).expect("ring server");
         for (u32 i = 0; i < c->run->count; ++i) {
           auto p = c->rt->launch({.program = c->run->programs[i], .cores = 1, .memory_bytes = 2 * MiB}, {});
           if (p.is_error()) {
             c->run->codes[i] = -1000 - static_cast<i64>(p.error());
             continue;
           }
           (void)cap::wait_signals(**p, cap::kSignalExited, 0);
           c->run->codes[i] = (*p)->exit_code();
         }
         (void)c->rt->shutdown();
         sched::scheduler().stop();
       },
       &ctx)
      .expect("supervisor");
  s->run_cpu();
  rt->~Runtime();
  processes->~ProcessTable();
  Platform::set_timer_handler(nullptr);
  Platform::timer_cancel();
  sched::Scheduler::install(nullptr);
  s->~Scheduler();
}

KTEST(ring, program_runs_on_the_rings) {
  Run run;
  run.programs[0] = "ktest-ring-echo";
  run.count = 1;
  run_programs(run);
  KEXPECT_EQ(run.codes[0], 0);
}

KTEST(ring, malformed_entries_get_their_errors) {
  Run run;
  run.programs[0] = "ktest-ring-malformed";
  run.programs[1] = "ktest-ring-echo";  // and the next program is unaffected
  run.count = 2;
  run_programs(run);
  KEXPECT_EQ(run.codes[0], 0);
  KEXPECT_EQ(run.codes[1], 0);
}

KTEST(ring, exit_with_operations_in_flight_returns_everything) {
  KernelMemory& mem = *KernelMemory::instance();
  mem.heap().reclaim();
  const u64 free_before = mem.pages().free_pages();
  const u64 objects = cap::KernelObject::live_objects();
  Run run;
  run.programs[0] = "ktest-ring-quitter";
  run.programs[1] = "no-such-program";
  run.count = 2;
  run_programs(run);
  KEXPECT_EQ(run.codes[0], 9);
  KEXPECT_EQ(run.codes[1], -1000 - static_cast<i64>(Error::not_found));
  KEXPECT_EQ(Ring::live_rings(), 0u);
  KEXPECT_EQ(cap::KernelObject::live_objects(), objects);
  mem.heap().reclaim();
  KEXPECT_EQ(mem.pages().free_pages(), free_before);
}

}  // namespace
}  // namespace platypos::ring
