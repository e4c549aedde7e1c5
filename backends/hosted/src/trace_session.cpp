#include <platypos/hosted/sim_machine.hpp>
#include <platypos/hosted/trace_session.hpp>

#include <link.h>
#include <unistd.h>

#include <stdexcept>

namespace platypos::hosted {

u64 executable_load_bias() {
  u64 bias = 0;
  // The first object dl_iterate_phdr reports is the main program.
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) {
        *static_cast<u64*>(data) = info->dlpi_addr;
        return 1;
      },
      &bias);
  return bias;
}

std::string executable_path() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

TraceSession::TraceSession(Kernel& kernel, const TraceSessionConfig& config)
    : config_(config), image_(executable_path()) {
  sink_ = std::make_unique<UringFileSink>(config.path);
  tracer_ = std::make_unique<trace::Tracer>();
  ring_memory_ = std::make_unique<tracectl::TraceRingMemory>(*tracer_);
  const u32 cpus = Platform::cpu_count();
  if (ring_memory_->allocate(kernel.memory().page_source(), cpus, config.ring_slots).is_error()) {
    throw std::runtime_error("trace rings of " + std::to_string(config.ring_slots) + " slots for " +
                             std::to_string(cpus) + " cpus do not fit in the kernel's memory");
  }
  buffer_.resize(64 * 1024);
  trace::TraceDrainer::Config dc;
  dc.tracer = tracer_.get();
  dc.sink = trace::TraceSink(*sink_);
  dc.buffer = buffer_.data();
  dc.buffer_bytes = buffer_.size();
  dc.period_ns = config.drain_period_ns;
  // Virtual time in the simulator: ticks are nanoseconds. The TSC's rate is not known here: the clock syncs say.
  dc.header.ticks_hz = SimMachine::current() != nullptr ? 1'000'000'000 : 0;
  dc.header.producer = config_.producer;
  dc.header.image = image_;
  dc.header.code_bias = executable_load_bias();
  drainer_ = std::make_unique<trace::TraceDrainer>(dc);
  tracer_->start(config.level);
  if (drainer_->start(kernel.scheduler()).is_error()) {
    tracer_->stop();
    ring_memory_->release();
    throw std::runtime_error("cannot create the trace drain task");
  }
}

TraceSession::~TraceSession() { finish(); }

TraceSession::Summary TraceSession::finish() {
  if (finished_) return summary_;
  finished_ = true;
  tracer_->stop();
  if (!drainer_->worker_done()) {
    summary_.error = "the trace drain worker was still running when the run ended (nobody called request_stop)";
  }
  // A worker that never ran its last pass still left the stream consistent: finish() drains from here.
  drainer_->request_stop();
  if (drainer_->worker_done()) drainer_->finish();
  const trace::TraceDrainer::Stats& st = drainer_->stats();
  summary_.records = st.records;
  summary_.dropped = st.dropped;
  summary_.uncommitted = st.uncommitted;
  summary_.bytes = st.bytes;
  summary_.passes = st.passes;
  summary_.write_requests = sink_->write_requests();
  if (summary_.error.empty() && !sink_->ok()) summary_.error = sink_->error();
  if (summary_.error.empty() && st.unwritten_bytes != 0) summary_.error = "some trace bytes could not be written";
  sink_.reset();  // waits for the last writes and closes the file
  ring_memory_->release();
  return summary_;
}

}  // namespace platypos::hosted
