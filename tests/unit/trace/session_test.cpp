// End to end in the simulator: a hosted kernel traced by hosted::TraceSession (rings from the kernel's pages, the
// drain worker as a kernel task, liburing into a file), decoded by tools/trace, rendered as Chrome JSON and checked
// with a real JSON parser; drop accounting through the whole path; the same seed giving the same file.

#include <platypos/hosted/kernel.hpp>
#include <platypos/hosted/sim_machine.hpp>
#include <platypos/hosted/trace_session.hpp>
#include <platypos/hosted/uring_file_sink.hpp>
#include <platypos/sched/wait_queue.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "chrome_json.hpp"
#include "gnuplot_output.hpp"
#include "json_check.hpp"
#include "test_support.hpp"
#include "text_output.hpp"
#include "timeline.hpp"
#include "trace_reader.hpp"

namespace platypos::trace {
namespace {

using sched::Scheduler;
using sched::WaitQueue;

// Per process: the same test may run in two build trees at once.
std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "platypos_" + std::to_string(getpid()) + "_" + name;
}

// Removes the file when the test ends.
struct TempFile {
  explicit TempFile(const std::string& name) : path(temp_path(name)) {}
  ~TempFile() { std::remove(path.c_str()); }
  std::string path;
};

std::vector<u8> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<u8>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A small workload with everything a trace should show: ping-pong over wait queues (wake-up -> run flows),
// crunchers longer than the quantum (timer preemption inside interrupt spans), a sleeper.
struct Workload {
  hosted::TraceSession* trace = nullptr;
  Scheduler* s = nullptr;
  WaitQueue q[2] = {WaitQueue("ping"), WaitQueue("pong")};
  Atomic<u32> turn{0};
  Atomic<u32> done{0};
  u32 rounds = 50;
};
struct Player {
  Workload* w;
  u32 me;
};

void player(void* arg) {
  auto* p = static_cast<Player*>(arg);
  Workload& w = *p->w;
  for (u32 i = 0; i < w.rounds; ++i) {
    w.q[p->me].wait_while([&] { return w.turn.load() != p->me; });
    Platform::delay_ns(5'000);
    w.turn.store(1 - p->me);
    w.q[1 - p->me].wake_one();
  }
  w.done.fetch_add(1);
}

void cruncher(void* arg) {
  auto* w = static_cast<Workload*>(arg);
  for (int i = 0; i < 4; ++i) Platform::delay_ns(700'000);
  w->done.fetch_add(1);
}

void sleeper(void* arg) {
  auto* w = static_cast<Workload*>(arg);
  for (int i = 0; i < 20; ++i) w->s->sleep_for(50'000);
  w->done.fetch_add(1);
}

void controller(void* arg) {
  auto* w = static_cast<Workload*>(arg);
  while (w->done.load() < 7) w->s->sleep_for(100'000);
  w->trace->request_stop();
  while (w->s->live_tasks() > 1) w->s->sleep_for(100'000);
  w->s->stop();
}

struct Traced {
  hosted::TraceSession::Summary summary;
  u64 boot_free = 0;
  u64 free_after = 0;
};

Traced run_traced(const std::string& path, u64 seed, u32 ring_slots = 8192, u64 period_ns = 200'000) {
  Traced out;
  hosted::SimMachine sim({.cpus = 3, .seed = seed, .memory_bytes = 128 * MiB});
  hosted::Kernel kernel({.cpus = 3, .kernel_cores = 1, .policy = sched::Policy::timeshare, .quantum_ns = 500'000});
  out.boot_free = kernel.boot_free_pages();
  Workload w;
  Player players[2] = {{&w, 0}, {&w, 1}};
  {
    hosted::TraceSession trace(kernel, {.path = path,
                                        .ring_slots = ring_slots,
                                        .drain_period_ns = period_ns,
                                        .producer = "session test seed " + std::to_string(seed)});
    w.trace = &trace;
    w.s = &kernel.scheduler();
    Scheduler& s = kernel.scheduler();
    for (Player& p : players) s.create_task(sched::kNoProcess, "player", &player, &p).expect("player");
    // More crunchers than CPUs: the timer preempts them.
    for (int i = 0; i < 4; ++i) s.create_task(sched::kNoProcess, "cruncher", &cruncher, &w).expect("cruncher");
    s.create_task(sched::kNoProcess, "sleeper", &sleeper, &w).expect("sleeper");
    s.create_task(sched::kNoProcess, "controller", &controller, &w).expect("controller");
    const hosted::SimReport r = sim.run([&](CpuId) { kernel.scheduler().run_cpu(); });
    EXPECT_FALSE(r.stuck) << r.stuck_reason;
    out.summary = trace.finish();
  }
  kernel.reclaim();
  out.free_after = kernel.pages().free_pages();
  return out;
}

std::string render(const tracetool::Trace& t, const tracetool::Timeline& tl,
                   void (*write)(std::ostream&, const tracetool::Output&)) {
  tracetool::OutputOptions opt;
  opt.source = "test";
  const tracetool::Output o(t, tl, opt, nullptr);
  std::ostringstream ss;
  write(ss, o);
  return ss.str();
}

TEST(TraceSession, ASimRunDecodesIntoTasksSpansAndFlowsAndValidJson) {
  const TempFile file("session.trace");
  const std::string& path = file.path;
  const Traced run = run_traced(path, 3);
  EXPECT_TRUE(run.summary.error.empty()) << run.summary.error;
  EXPECT_EQ(run.summary.dropped, 0u);
  EXPECT_EQ(run.summary.uncommitted, 0u);
  EXPECT_GT(run.summary.passes, 2u);
  EXPECT_EQ(run.free_after, run.boot_free) << "the rings and the drain task's stack went back";

  const tracetool::Trace t = tracetool::read_trace_file(path);
  EXPECT_FALSE(t.truncated);
  ASSERT_TRUE(t.end.has_value());
  EXPECT_EQ(t.records.size(), run.summary.records);
  EXPECT_EQ(t.end->records, run.summary.records);
  EXPECT_EQ(t.header.cpu_count, 3u);
  EXPECT_EQ(t.header.ticks_hz, 1'000'000'000u);  // virtual nanoseconds
  EXPECT_EQ(t.header.producer, "session test seed 3");

  const tracetool::Timeline tl = build_timeline(t);
  EXPECT_EQ(tl.unmatched_ends, 0u);
  EXPECT_EQ(tl.open_at_end, 0u);
  std::map<std::string, u64> run_time;
  for (const tracetool::Run& r : tl.runs) run_time[tl.task_name(r.task)] += static_cast<u64>(r.end - r.begin);
  for (const char* name : {"player", "cruncher", "sleeper", "controller", "trace-drain"}) {
    EXPECT_GT(run_time[name], 0u) << name;
  }
  EXPECT_GE(run_time["cruncher"], 4 * 4 * 700'000u);  // exact virtual time, preemptions included
  u64 irq_spans = 0, split_spans = 0;
  for (const tracetool::Span& s : tl.spans) {
    irq_spans += s.name == "irq" ? 1 : 0;
    split_spans += s.suspended ? 1 : 0;
  }
  EXPECT_GT(irq_spans, 10u);
  EXPECT_GT(split_spans, 0u) << "a preempting timer interrupt leaves its span open in the preempted task";
  // Every wake-up of a blocked player reaches the player's next run.
  EXPECT_GE(tl.flows.size(), 50u);
  for (const tracetool::Flow& f : tl.flows) {
    EXPECT_LE(tl.ns[f.from_record], tl.ns[f.to_record]);
    EXPECT_EQ(t.event(t.records[f.from_record].event).name, "sched_wake");
    EXPECT_EQ(t.event(t.records[f.to_record].event).name, "sched_switch");
  }

  const std::string json = render(t, tl, &tracetool::write_chrome_json);
  const tracetest::JsonCheck c = tracetest::check_chrome_trace_text(json);
  for (const std::string& e : c.errors) ADD_FAILURE() << e;
  EXPECT_EQ(c.tracks, 3u);
  EXPECT_EQ(c.flows, tl.flows.size());
  EXPECT_GT(c.slices, 100u);
  for (const char* name : {"player", "cruncher", "irq", "trace_drain"}) {
    EXPECT_NE(std::find(c.slice_names.begin(), c.slice_names.end(), name), c.slice_names.end()) << name;
  }

  const std::string text = render(t, tl, &tracetool::write_text);
  EXPECT_NE(text.find("; complete (end packet: "), std::string::npos);
  EXPECT_NE(text.find("=== cpu 2: "), std::string::npos);
  EXPECT_NE(text.find("sched_preempt task=cruncher#"), std::string::npos);
  EXPECT_NE(text.find("irq_exit vector=32 ("), std::string::npos);
  EXPECT_NE(text.find(" earlier"), std::string::npos);  // a switch-in naming the wake-up that caused it

  const std::string plot = render(t, tl, &tracetool::write_gnuplot);
  EXPECT_NE(plot.find("set terminal pngcairo"), std::string::npos);
  EXPECT_NE(plot.find("title \"player\""), std::string::npos);
  EXPECT_NE(plot.find("with vectors"), std::string::npos);
}

TEST(TraceSession, SameSeedSameFileByteForByte) {
  const TempFile fa_file("seed_a.trace"), fb_file("seed_b.trace"), fc_file("seed_c.trace");
  const std::string &a = fa_file.path, &b = fb_file.path, &c = fc_file.path;
  run_traced(a, 11);
  run_traced(b, 11);
  run_traced(c, 12);
  const auto fa = file_bytes(a), fb = file_bytes(b), fc = file_bytes(c);
  EXPECT_GT(fa.size(), 1000u);
  EXPECT_EQ(fa, fb);
  EXPECT_NE(fa, fc);
}

TEST(TraceSession, DropsAreCountedInTheStreamAndAddUp) {
  const TempFile file("drops.trace");
  const std::string& path = file.path;
  // Tiny rings and a slow drain worker: most records are lost, and every loss is reported.
  const Traced run = run_traced(path, 4, 16, 5'000'000);
  EXPECT_TRUE(run.summary.error.empty()) << run.summary.error;
  EXPECT_GT(run.summary.dropped, 100u);
  const tracetool::Trace t = tracetool::read_trace_file(path);
  ASSERT_TRUE(t.end.has_value());
  EXPECT_EQ(t.dropped(), run.summary.dropped);
  EXPECT_EQ(t.end->dropped, run.summary.dropped);
  EXPECT_EQ(t.records.size(), run.summary.records);
  // Per CPU, the drop packets' running totals agree with their counts.
  std::vector<u64> sum(t.header.cpu_count, 0);
  for (const tracetool::DropReport& d : t.drops) {
    sum[d.cpu] += d.count;
    EXPECT_EQ(d.total, sum[d.cpu]);
  }
  // The decoder still builds a consistent picture from what is left (runs inferred where switches were lost).
  const tracetool::Timeline tl = build_timeline(t);
  EXPECT_FALSE(tl.runs.empty());
  const tracetest::JsonCheck c = tracetest::check_chrome_trace_text(render(t, tl, &tracetool::write_chrome_json));
  for (const std::string& e : c.errors) ADD_FAILURE() << e;
}

TEST(UringFileSink, BatchesWritesAndKeepsEveryByteInOrder) {
  const TempFile file("sink.bin");
  const std::string& path = file.path;
  std::vector<u8> expect;
  {
    hosted::UringFileSink sink(path);
    u8 chunk[10'007];
    for (int round = 0; round < 200; ++round) {
      for (usize i = 0; i < sizeof chunk; ++i) chunk[i] = static_cast<u8>(i * 31 + round);
      const usize n = 1 + static_cast<usize>(round * 7919) % sizeof chunk;
      ASSERT_TRUE(sink.write(chunk, n));
      expect.insert(expect.end(), chunk, chunk + n);
      if (round % 17 == 0) {
        ASSERT_TRUE(sink.flush(false));
      }
    }
    ASSERT_TRUE(sink.flush(true));
    EXPECT_TRUE(sink.ok());
    EXPECT_EQ(sink.bytes_written(), expect.size());
    EXPECT_LT(sink.write_requests(), 40u) << "writes are batched";
  }
  EXPECT_EQ(file_bytes(path), expect);
}

TEST(UringFileSink, AFileThatCannotBeCreatedIsAnError) {
  EXPECT_THROW(hosted::UringFileSink("/nonexistent-dir/x.trace"), std::runtime_error);
}

}  // namespace
}  // namespace platypos::trace
