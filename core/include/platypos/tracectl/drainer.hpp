#pragma once
// TraceDrainer: the trace I/O worker. A kernel task (created through the Scheduler, so it runs on a kernel core)
// that wakes every period, copies every CPU's ring out in order, encodes the records in the wire format
// (trace/wire_format.hpp) and hands the bytes to a TraceSink. Each pass also writes a clock sync, and a drops
// packet for every ring that lost records since the last pass, so the stream says where and how much is missing.
//
//   TraceDrainer drainer({.tracer = &tracer, .sink = TraceSink(file), .buffer = buf, .buffer_bytes = sizeof buf,
//                         .header = {.producer = "..."}});
//   drainer.start(scheduler);      // header, then the worker task
//   ... the run ...
//   drainer.request_stop();        // from a task: the worker makes a last pass and exits
//   ... once no CPU records any more (the machine stopped) ...
//   tracer.stop(); drainer.finish();   // drains what is left, writes the end packet, flushes the sink
//
// One consumer at a time: drain() runs in the worker while it lives, and from outside only when there is no worker
// (never started, or done). The worker also ends when the scheduler stops. Not copyable or movable (the worker
// holds its address).

#include <platypos/base/result.hpp>
#include <platypos/sched/scheduler.hpp>
#include <platypos/trace/encoder.hpp>
#include <platypos/trace/sink.hpp>
#include <platypos/trace/tracer.hpp>

namespace platypos::trace {

class TraceDrainer {
 public:
  // The encode buffer must hold a header and a few packets; it is handed to the sink whenever it fills up and at
  // the end of every pass.
  static constexpr usize kMinBufferBytes = 4096;

  struct Config {
    Tracer* tracer = nullptr;
    TraceSink sink;
    u8* buffer = nullptr;
    usize buffer_bytes = 0;
    u64 period_ns = 1'000'000;
    // cpu_count, start_ticks and start_ns are filled in by begin().
    HeaderInfo header;
  };

  struct Stats {
    u64 passes = 0;
    u64 records = 0;          // records written
    u64 dropped = 0;          // drops reported in the stream
    u64 bytes = 0;            // bytes handed to the sink
    u64 unwritten_bytes = 0;  // bytes the sink refused (I/O errors)
    u64 sink_errors = 0;      // failed sink writes and flushes
    u64 uncommitted = 0;      // at finish(): records reserved but never completed
  };

  explicit TraceDrainer(const Config& config);
  TraceDrainer(const TraceDrainer&) = delete;
  TraceDrainer& operator=(const TraceDrainer&) = delete;

  // Writes the header. start() calls it; code that drains by hand (tests, benchmarks) calls it once first.
  void begin();
  // begin(), then creates the worker as a kernel task of `s`. Fails like Scheduler::create_task.
  Result<sched::Task*> start(sched::Scheduler& s);
  // Asks the worker to make a last pass and exit (it notices within one period).
  void request_stop();
  // True once the worker has made its last pass and is exiting (or was never started).
  bool worker_done() const;

  // One pass over every ring: records, drops and a clock sync into the sink. Returns the records written.
  usize drain();
  // After the last recording: a final pass, the end packet, the sink flushed and waited for. Call once.
  void finish();

  const Stats& stats() const { return stats_; }

 private:
  static void worker_main(void* arg);
  usize pass(bool trace_itself);
  void reserve_room();
  void flush_buffer();

  Config config_;
  WireEncoder encoder_;
  usize used_ = 0;
  u64 reported_drops_[kMaxCpus] = {};
  sched::Scheduler* sched_ = nullptr;
  Atomic<bool> stop_requested_{false};
  Atomic<bool> worker_done_{true};
  bool begun_ = false;
  bool finished_ = false;
  Stats stats_;
};

}  // namespace platypos::trace
