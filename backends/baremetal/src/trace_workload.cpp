#include "trace_workload.hpp"

#include "clock.hpp"
#include "serial.hpp"

#include <platypos/base/log.hpp>
#include <platypos/base/print.hpp>
#include <platypos/base/units.hpp>
#include <platypos/mm/kernel_memory.hpp>
#include <platypos/sched/scheduler.hpp>
#include <platypos/sched/wait_queue.hpp>
#include <platypos/trace/trace.hpp>
#include <platypos/tracectl/drainer.hpp>
#include <platypos/tracectl/ring_memory.hpp>

#include <new>

namespace platypos::baremetal::trace_workload {
namespace {

using sched::Scheduler;
using sched::WaitQueue;

constexpr u32 kRingSlots = 8192;  // 512 KiB per CPU
constexpr u64 kDrainPeriodNs = 2 * kNsPerMs;
constexpr u64 kQuantumNs = 1 * kNsPerMs;
constexpr int kPingPongRounds = 100;
constexpr int kSleeps = 10;
constexpr int kCrunchChunks = 3;
constexpr u64 kCrunchChunkNs = 3 * kNsPerMs;

// The COM2 UART as a TraceSink: writes are synchronous (the UART's FIFO is the only buffer).
struct Com2Sink {
  bool write(const u8* data, usize n) {
    serial::write_port(serial::kCom2, data, n);
    return true;
  }
  bool flush(bool wait) {
    if (wait) serial::drain_port(serial::kCom2);
    return true;
  }
};

// Static storage, built in run() (no global constructors).
alignas(Scheduler) constinit unsigned char g_scheduler[sizeof(Scheduler)] = {};
alignas(trace::Tracer) constinit unsigned char g_tracer[sizeof(trace::Tracer)] = {};
alignas(trace::TraceDrainer) constinit unsigned char g_drainer[sizeof(trace::TraceDrainer)] = {};
constinit u8 g_buffer[16 * 1024] = {};
constinit Com2Sink g_sink;

struct World {
  Scheduler* sched = nullptr;
  trace::TraceDrainer* drainer = nullptr;
  sched::ProcessId app = sched::kNoProcess;
  WaitQueue turn_queue[2] = {WaitQueue("ping"), WaitQueue("pong")};
  Atomic<u32> turn{0};
  Atomic<u32> tasks_done{0};
  u32 tasks = 0;
};

struct Player {
  World* w;
  u32 me;
};

void player(void* arg) {
  auto* p = static_cast<Player*>(arg);
  World& w = *p->w;
  for (int i = 0; i < kPingPongRounds; ++i) {
    w.turn_queue[p->me].wait_while([&] { return w.turn.load() != p->me; });
    w.turn.store(1 - p->me);
    w.turn_queue[1 - p->me].wake_one();
  }
  w.tasks_done.fetch_add(1);
}

void cruncher(void* arg) {
  auto* w = static_cast<World*>(arg);
  for (int i = 0; i < kCrunchChunks; ++i) {
    PLATYPOS_TRACE(marker, i, 0, "crunch");
    Platform::delay_ns(kCrunchChunkNs);  // longer than a quantum: the timer preempts
  }
  w->tasks_done.fetch_add(1);
}

void sleeper(void* arg) {
  auto* w = static_cast<World*>(arg);
  for (int i = 0; i < kSleeps; ++i) w->sched->sleep_for(500 * kNsPerUs);
  w->tasks_done.fetch_add(1);
}

void allocator(void* arg) {
  auto* w = static_cast<World*>(arg);
  LockedBuddy& pages = KernelMemory::instance()->pages();
  PhysAddr blocks[16];
  for (int round = 0; round < 4; ++round) {
    for (u32 i = 0; i < 16; ++i) blocks[i] = pages.alloc(i % 4).expect("trace workload page");
    for (u32 i = 0; i < 16; ++i) pages.free(blocks[i], i % 4).expect("trace workload page");
    w->sched->yield();
  }
  w->tasks_done.fetch_add(1);
}

// Sleeps until its process is ended (exit_process kills it at its next scheduler call).
void idler(void* arg) {
  auto* w = static_cast<World*>(arg);
  for (;;) w->sched->sleep_for(1 * kNsPerMs);
}

// Waits for the others, ends the process, lets the drain worker make its last pass, stops the scheduler.
void controller(void* arg) {
  auto* w = static_cast<World*>(arg);
  while (w->tasks_done.load() < w->tasks) w->sched->sleep_for(200 * kNsPerUs);
  w->sched->exit_process(w->app).expect("trace workload: exit the app");
  w->drainer->request_stop();
  while (w->sched->live_tasks() > 1) w->sched->sleep_for(200 * kNsPerUs);
  w->sched->stop();
}

}  // namespace

void run(const char* producer) {
  if (!serial::init_port(serial::kCom2)) {
    log_error("trace: no UART at COM2; the trace needs a second serial port (platypos_qemu --trace FILE)");
    Platform::shutdown(ExitStatus::failure);
  }
  KernelMemory& mem = *KernelMemory::instance();
  auto* tracer = new (g_tracer) trace::Tracer();
  tracectl::TraceRingMemory ring_memory(*tracer);
  ring_memory.allocate(mem.page_source(), Platform::cpu_count(), kRingSlots).expect("trace rings");
  auto* sched = new (g_scheduler) Scheduler(
      {.cpus = 1, .kernel_cores = 1, .policy = sched::Policy::timeshare, .quantum_ns = kQuantumNs}, mem.page_source());
  Scheduler::install(sched);

  trace::TraceDrainer::Config dc;
  dc.tracer = tracer;
  dc.sink = trace::TraceSink(g_sink);
  dc.buffer = g_buffer;
  dc.buffer_bytes = sizeof g_buffer;
  dc.period_ns = kDrainPeriodNs;
  dc.header.ticks_hz = clock::tsc_hz();
  dc.header.producer = producer;
  dc.header.image = "platypos.elf";
  auto* drainer = new (g_drainer) trace::TraceDrainer(dc);

  tracer->start(trace::Level::fine);
  drainer->start(*sched).expect("trace drain task");
  print("trace: recording; the drain worker writes to COM2 every {} ms\n", kDrainPeriodNs / kNsPerMs);

  World world;
  world.sched = sched;
  world.drainer = drainer;
  world.app = sched->spawn({.name = "demo", .cores = 1, .memory_bytes = 2 * MiB}).expect("trace workload process");
  Player players[2] = {{&world, 0}, {&world, 1}};
  for (Player& p : players) sched->create_task(world.app, "player", &player, &p).expect("player");
  for (int i = 0; i < 2; ++i) sched->create_task(world.app, "cruncher", &cruncher, &world).expect("cruncher");
  sched->create_task(world.app, "idler", &idler, &world).expect("idler");
  sched->create_task(sched::kNoProcess, "sleeper", &sleeper, &world).expect("sleeper");
  sched->create_task(sched::kNoProcess, "allocator", &allocator, &world).expect("allocator");
  world.tasks = 6;
  sched->create_task(sched::kNoProcess, "controller", &controller, &world).expect("controller");
  PLATYPOS_TRACE(marker, 0, 0, "workload start");

  sched->run_cpu();

  // Every task is gone: nothing records any more. The last records, the end packet, and COM2 drained.
  Platform::set_timer_handler(nullptr);
  Platform::timer_cancel();
  tracer->stop();
  drainer->finish();
  const trace::TraceDrainer::Stats& st = drainer->stats();
  print("trace: {} records, {} dropped, {} never committed, {} bytes written to COM2 in {} passes\n", st.records,
        st.dropped, st.uncommitted, st.bytes, st.passes);
  Scheduler::install(nullptr);
  sched->~Scheduler();
  ring_memory.release();
  Platform::shutdown(st.records > 0 && st.unwritten_bytes == 0 ? ExitStatus::success : ExitStatus::failure);
}

}  // namespace platypos::baremetal::trace_workload
