#pragma once
// hosted::TraceSession: tracing of a hosted kernel run into a file. It gives the Kernel a Tracer (per-CPU rings
// from the kernel's pages), starts the drain worker (trace::TraceDrainer, a kernel task) writing the wire format
// through an UringFileSink, and at the end drains what is left and closes the file.
//
//   Kernel kernel(config);
//   TraceSession trace(kernel, {.path = "run.trace", .producer = "my test"});   // before creating tasks
//   ... set up tasks; one of them calls trace.request_stop() before waiting for the others to end ...
//   sim.run(...);
//   TraceSession::Summary s = trace.finish();                                    // before the kernel's leak check
//
// In sim mode timestamps are virtual nanoseconds and the file is the same byte for byte for the same seed (nothing
// from the wall clock, the process or addresses goes in: code addresses are written relative to the executable's
// link address). In threads mode they are TSC ticks, converted by the clock syncs.
//
// Construct after the Kernel and destroy before it. Not copyable.

#include <platypos/hosted/kernel.hpp>
#include <platypos/hosted/uring_file_sink.hpp>
#include <platypos/trace/tracer.hpp>
#include <platypos/tracectl/drainer.hpp>
#include <platypos/tracectl/ring_memory.hpp>

#include <memory>
#include <string>
#include <vector>

namespace platypos::hosted {

struct TraceSessionConfig {
  std::string path;
  trace::Level level = trace::Level::fine;
  u32 ring_slots = 8192;            // per CPU, a power of two (64 bytes each)
  u64 drain_period_ns = 1'000'000;  // between drain passes
  std::string producer = "platypos hosted kernel";
};

class TraceSession {
 public:
  struct Summary {
    u64 records = 0;
    u64 dropped = 0;
    u64 uncommitted = 0;
    u64 bytes = 0;
    u64 passes = 0;
    u64 write_requests = 0;  // io_uring write requests (batches)
    std::string error;       // empty when the file was written completely
  };

  // Throws std::runtime_error when the file cannot be created, io_uring is unavailable or the rings do not fit in
  // the kernel's memory.
  TraceSession(Kernel& kernel, const TraceSessionConfig& config);
  ~TraceSession();
  TraceSession(const TraceSession&) = delete;
  TraceSession& operator=(const TraceSession&) = delete;

  // From a task (or before the run): the drain worker makes a last pass and exits within one period. A scenario
  // that waits for every other task to end calls this first.
  void request_stop() { drainer_->request_stop(); }
  // After the machine's run: stops recording, drains what is left, writes the end packet, closes the file and gives
  // the rings back to the kernel. Idempotent.
  Summary finish();

  trace::Tracer& tracer() { return *tracer_; }
  const TraceSessionConfig& config() const { return config_; }

 private:
  TraceSessionConfig config_;
  std::string image_;
  std::unique_ptr<UringFileSink> sink_;
  std::unique_ptr<trace::Tracer> tracer_;
  std::unique_ptr<tracectl::TraceRingMemory> ring_memory_;  // after tracer_: released before it goes
  std::vector<u8> buffer_;
  std::unique_ptr<trace::TraceDrainer> drainer_;
  bool finished_ = false;
  Summary summary_;
};

// The load bias of the running executable (0 for a non-PIE), and its path: what `addr` trace arguments are made
// relative to, and where the decoder finds their symbols.
u64 executable_load_bias();
std::string executable_path();

}  // namespace platypos::hosted
