// Tracing benchmarks, with spdlog's asynchronous logger as the baseline in the same run.
//
//   hot path:   one PLATYPOS_TRACE(sched_switch, from, to, flow) into the current CPU's ring (timestamp, CPU, task,
//               three arguments), with the ring drained between batches outside the timing; next to spdlog's async
//               logger logging the same fields (its own timestamp, cpu, task, event name, from, to, flow) to a null
//               sink through its thread pool, with the queue policy that never blocks (overrun_oldest: like a full
//               trace ring, it drops) and with the default one (block). Also a trace point with tracing off.
//   throughput: the drain worker's pass (copy out of the rings, encode in the wire format) and the decoder
//               (read the file, build the timeline), in events per second, on a realistic mix of events.

#include <platypos/trace/trace.hpp>
#include <platypos/tracectl/drainer.hpp>

#include <benchmark/benchmark.h>
#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/sinks/null_sink.h>

#include <memory>
#include <vector>

#include "bench_main.hpp"
#include "timeline.hpp"
#include "trace_reader.hpp"

namespace platypos::trace {
namespace {

constexpr u32 kRingSlots = 16384;
constexpr u64 kBatch = 8192;  // events between two drains (outside the timing)

struct Rings {
  explicit Rings(u32 cpus, u32 slots = kRingSlots) {
    for (u32 c = 0; c < cpus; ++c) {
      memory.emplace_back(slots);
      tracer->attach_ring(c, memory.back().data(), slots);
    }
  }
  ~Rings() { tracer->stop(); }
  void drain_all() {
    for (CpuId c = 0; c < tracer->cpu_count(); ++c) tracer->ring(c).consume(~usize{0}, [](const TraceEvent&) {});
  }
  std::vector<std::vector<TraceRecord>> memory;
  std::unique_ptr<Tracer> tracer = std::make_unique<Tracer>();
};

void BM_TraceEvent(benchmark::State& state) {
  Rings rings(1);
  rings.tracer->start(Level::normal);
  set_current_task(0, 7);
  u64 from = 7, to = 8, n = 0;
  for (auto _ : state) {
    PLATYPOS_TRACE(sched_switch, from, to, flow_id(to, n));
    from ^= 15;  // different values each time, as a scheduler's would be
    to ^= 15;
    if (++n == kBatch) {
      state.PauseTiming();
      rings.drain_all();
      n = 0;
      state.ResumeTiming();
    }
  }
  benchmark::DoNotOptimize(from);
  set_current_task(0, 0);
  if (rings.tracer->ring(0).dropped() != 0) state.SkipWithError("the ring dropped records: the drain is too rare");
  state.SetItemsProcessed(static_cast<i64>(state.iterations()));
  state.SetLabel("PLATYPOS_TRACE(sched_switch, from, to, flow), ring drained every 8192 events");
}
BENCHMARK(BM_TraceEvent);

void BM_TraceEventTracingOff(benchmark::State& state) {
  u64 from = 7, to = 8, n = 0;
  for (auto _ : state) {
    PLATYPOS_TRACE(sched_switch, from, to, flow_id(to, ++n));
    benchmark::ClobberMemory();
  }
  benchmark::DoNotOptimize(from + to);
  state.SetLabel("the same trace point with no tracer active");
}
BENCHMARK(BM_TraceEventTracingOff);

void spdlog_async(benchmark::State& state, spdlog::async_overflow_policy policy) {
  auto pool = std::make_shared<spdlog::details::thread_pool>(kRingSlots, 1);
  auto logger =
      std::make_shared<spdlog::async_logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>(), pool, policy);
  logger->set_level(spdlog::level::info);
  u64 from = 7, to = 8, n = 0;
  const u32 cpu = 0, task = 7;
  for (auto _ : state) {
    logger->info("sched_switch cpu={} task={} from={} to={} flow={:#x}", cpu, task, from, to, flow_id(to, n++));
    from ^= 15;
    to ^= 15;
  }
  logger->flush();
  state.SetItemsProcessed(static_cast<i64>(state.iterations()));
}

void BM_SpdlogAsync(benchmark::State& state) {
  spdlog_async(state, spdlog::async_overflow_policy::overrun_oldest);
  state.SetLabel("spdlog async_logger, null sink, overrun_oldest (never blocks), same fields");
}
BENCHMARK(BM_SpdlogAsync);

void BM_SpdlogAsyncBlocking(benchmark::State& state) {
  spdlog_async(state, spdlog::async_overflow_policy::block);
  state.SetLabel("spdlog async_logger, null sink, block (the default), same fields");
}
BENCHMARK(BM_SpdlogAsyncBlocking);

PLATYPOS_BENCH_RATIO("spdlog async (overrun_oldest) / trace event", "BM_SpdlogAsync", "BM_TraceEvent");
PLATYPOS_BENCH_RATIO("spdlog async (block) / trace event", "BM_SpdlogAsyncBlocking", "BM_TraceEvent");

// --- Drain and decode -----------------------------------------------------------------------------------------------

constexpr u32 kCpus = 8;

// What a busy kernel records, per CPU: switches, wake-ups, blocks, timer interrupts with their spans, allocations.
// Written straight into the rings (as emit() writes them), so the benchmark measures the drain, not recording.
void fill(Tracer& tracer, u32 per_cpu) {
  for (CpuId c = 0; c < kCpus; ++c) {
    for (u32 i = 0; i < per_cpu;) {
      TraceRing& ring = tracer.ring(c);
      const u64 task = 1 + (i / 8) % 16;
      const u64 kinds[] = {static_cast<u16>(EventId::sched_switch), static_cast<u16>(EventId::sched_wake),
                           static_cast<u16>(EventId::irq_enter),    static_cast<u16>(EventId::sched_timer),
                           static_cast<u16>(EventId::irq_exit),     static_cast<u16>(EventId::sched_block),
                           static_cast<u16>(EventId::buddy_alloc),  static_cast<u16>(EventId::buddy_free)};
      for (const u64 kind : kinds) {
        u64 pos = 0;
        TraceRecord* r = ring.reserve(&pos);
        if (r == nullptr) break;
        r->ticks = 1'000'000 + u64{i} * 350;
        r->task = static_cast<u32>(task);
        r->event = static_cast<u16>(kind);
        r->args[0] = task;
        r->args[1] = task + 1;
        r->args[2] = flow_id(task, i);
        TraceRing::commit(r, pos);
        ++i;
      }
    }
  }
}

struct VectorSink {
  std::vector<u8> bytes;
  bool write(const u8* d, usize n) {
    bytes.insert(bytes.end(), d, d + n);
    return true;
  }
  bool flush(bool) { return true; }
};

struct Drain {
  Drain() : rings(kCpus, kRingSlots) {
    TraceDrainer::Config c;
    c.tracer = rings.tracer.get();
    c.sink = TraceSink(sink);
    c.buffer = buffer.data();
    c.buffer_bytes = buffer.size();
    c.header.producer = "trace benchmark";
    drainer = std::make_unique<TraceDrainer>(c);
    drainer->begin();
  }
  Rings rings;
  VectorSink sink;
  std::vector<u8> buffer = std::vector<u8>(64 * 1024);
  std::unique_ptr<TraceDrainer> drainer;
};

void BM_DrainEncode(benchmark::State& state) {
  Drain d;
  u64 records = 0;
  for (auto _ : state) {
    state.PauseTiming();
    d.sink.bytes.clear();
    fill(*d.rings.tracer, kRingSlots);
    state.ResumeTiming();
    records += d.drainer->drain();
  }
  state.SetItemsProcessed(static_cast<i64>(records));
  state.counters["bytes_per_event"] = static_cast<double>(d.sink.bytes.size()) / kCpus / kRingSlots;
  state.SetLabel("8 rings x 16384 records: copy out, encode, hand to a memory sink");
}
BENCHMARK(BM_DrainEncode)->Unit(benchmark::kMillisecond);

std::vector<u8> encoded_trace() {
  Drain d;
  fill(*d.rings.tracer, kRingSlots);
  d.drainer->drain();
  d.drainer->finish();
  return d.sink.bytes;
}

void BM_Decode(benchmark::State& state) {
  const std::vector<u8> bytes = encoded_trace();
  usize records = 0;
  for (auto _ : state) {
    const tracetool::Trace t = tracetool::read_trace(bytes);
    records += t.records.size();
    benchmark::DoNotOptimize(t.records.data());
  }
  state.SetItemsProcessed(static_cast<i64>(records));
  state.SetLabel("platypos-trace's reader: wire format to records");
}
BENCHMARK(BM_Decode)->Unit(benchmark::kMillisecond);

void BM_DecodeTimeline(benchmark::State& state) {
  const std::vector<u8> bytes = encoded_trace();
  usize records = 0;
  for (auto _ : state) {
    const tracetool::Trace t = tracetool::read_trace(bytes);
    const tracetool::Timeline tl = tracetool::build_timeline(t);
    records += t.records.size();
    benchmark::DoNotOptimize(tl.runs.data());
  }
  state.SetItemsProcessed(static_cast<i64>(records));
  state.SetLabel("reader + timeline (runs, spans, flows): what every output starts from");
}
BENCHMARK(BM_DecodeTimeline)->Unit(benchmark::kMillisecond);

void BM_DrainAndDecode(benchmark::State& state) {
  usize records = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto d = std::make_unique<Drain>();
    fill(*d->rings.tracer, kRingSlots);
    state.ResumeTiming();
    d->drainer->drain();
    d->drainer->finish();
    const tracetool::Trace t = tracetool::read_trace(d->sink.bytes);
    const tracetool::Timeline tl = tracetool::build_timeline(t);
    records += t.records.size();
    benchmark::DoNotOptimize(tl.runs.data());
    state.PauseTiming();
    d.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<i64>(records));
  state.SetLabel("rings -> wire format -> records -> timeline, end to end");
}
BENCHMARK(BM_DrainAndDecode)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace platypos::trace
