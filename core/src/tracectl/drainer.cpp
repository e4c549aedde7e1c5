#include <platypos/base/assert.hpp>
#include <platypos/trace/trace.hpp>
#include <platypos/tracectl/drainer.hpp>

namespace platypos::trace {

TraceDrainer::TraceDrainer(const Config& config) : config_(config) {
  PLATYPOS_ASSERT(config.tracer != nullptr && config.sink.valid(), "trace drainer without a tracer or a sink");
  PLATYPOS_ASSERT(config.buffer != nullptr && config.buffer_bytes >= kMinBufferBytes,
                  "trace drainer buffer of {} bytes (at least {})", config.buffer_bytes, kMinBufferBytes);
  PLATYPOS_ASSERT(config.period_ns > 0, "trace drainer with a zero period");
}

void TraceDrainer::begin() {
  PLATYPOS_ASSERT(!begun_, "trace drainer begun twice");
  begun_ = true;
  HeaderInfo h = config_.header;
  h.cpu_count = config_.tracer->cpu_count();
  h.start_ticks = Platform::ticks();
  h.start_ns = Platform::now_ns();
  used_ = encoder_.header(config_.buffer, config_.buffer_bytes, h);
  PLATYPOS_ASSERT(used_ > 0, "trace header does not fit a {}-byte buffer", config_.buffer_bytes);
  flush_buffer();
}

Result<sched::Task*> TraceDrainer::start(sched::Scheduler& s) {
  begin();
  sched_ = &s;
  stop_requested_.store(false, std::memory_order_relaxed);
  worker_done_.store(false, std::memory_order_release);
  Result<sched::Task*> task = s.create_task(sched::kNoProcess, "trace-drain", &worker_main, this);
  if (task.is_error()) worker_done_.store(true, std::memory_order_release);
  return task;
}

void TraceDrainer::request_stop() { stop_requested_.store(true, std::memory_order_release); }

bool TraceDrainer::worker_done() const { return worker_done_.load(std::memory_order_acquire); }

void TraceDrainer::worker_main(void* arg) {
  auto* d = static_cast<TraceDrainer*>(arg);
  sched::Scheduler& s = *d->sched_;
  while (!d->stop_requested_.load(std::memory_order_acquire) && !s.stopping()) {
    d->pass(true);
    s.sleep_for(d->config_.period_ns);
  }
  d->pass(false);
  d->worker_done_.store(true, std::memory_order_release);
}

usize TraceDrainer::drain() { return pass(false); }

usize TraceDrainer::pass(bool trace_itself) {
  PLATYPOS_ASSERT(begun_ && !finished_, "trace drain pass outside begin()..finish()");
  // The drain worker's own span: visible in the next pass (its end record is made after this one's last read).
  if (trace_itself) PLATYPOS_TRACE(trace_drain_begin);
  const u64 bytes_before = stats_.bytes + used_;
  reserve_room();
  used_ += encoder_.clock(config_.buffer + used_, Platform::ticks(), Platform::now_ns());
  usize records = 0;
  Tracer& tracer = *config_.tracer;
  for (CpuId cpu = 0; cpu < tracer.cpu_count(); ++cpu) {
    TraceRing& ring = tracer.ring(cpu);
    records += ring.consume(ring.capacity(), [&](const TraceEvent& e) {
      reserve_room();
      used_ += encoder_.record(config_.buffer + used_, cpu, e);
    });
    const u64 dropped = ring.dropped();
    if (dropped != reported_drops_[cpu]) {
      reserve_room();
      used_ += encoder_.drops(config_.buffer + used_, cpu, Platform::ticks(), dropped - reported_drops_[cpu], dropped);
      stats_.dropped += dropped - reported_drops_[cpu];
      reported_drops_[cpu] = dropped;
    }
  }
  stats_.records += records;
  ++stats_.passes;
  flush_buffer();
  // Start writing what this pass produced; finish() waits for it.
  if (!config_.sink.flush(false)) ++stats_.sink_errors;
  if (trace_itself) PLATYPOS_TRACE(trace_drain_end, records, stats_.bytes - bytes_before);
  return records;
}

void TraceDrainer::finish() {
  PLATYPOS_ASSERT(worker_done(), "trace drainer finished while its worker still runs");
  pass(false);
  Tracer& tracer = *config_.tracer;
  u64 uncommitted = 0;
  for (CpuId cpu = 0; cpu < tracer.cpu_count(); ++cpu) {
    const TraceRing& ring = tracer.ring(cpu);
    uncommitted += ring.reserved() - ring.consumed();
  }
  stats_.uncommitted = uncommitted;
  reserve_room();
  used_ += encoder_.end(config_.buffer + used_, stats_.records, stats_.dropped, uncommitted);
  flush_buffer();
  if (!config_.sink.flush(true)) ++stats_.sink_errors;
  finished_ = true;
}

void TraceDrainer::reserve_room() {
  if (config_.buffer_bytes - used_ < wire::kMaxPacketBytes) flush_buffer();
}

void TraceDrainer::flush_buffer() {
  if (used_ == 0) return;
  if (config_.sink.write(config_.buffer, used_)) {
    stats_.bytes += used_;
  } else {
    stats_.unwritten_bytes += used_;
    ++stats_.sink_errors;
  }
  used_ = 0;
}

}  // namespace platypos::trace
