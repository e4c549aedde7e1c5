#pragma once
// TraceRingMemory: a Tracer's per-CPU rings from kernel pages. The tracer itself (trace/) sits below memory
// management, so that every layer above can have trace points; this is where its rings get their pages.
//
//   trace::Tracer tracer;
//   tracectl::TraceRingMemory rings(tracer);
//   rings.allocate(kernel_pages, cpus, 8192).expect("trace rings");
//   ... record, stop, drain ...
//   rings.release();   // or let it go out of scope; not while a CPU may still be recording (tracer.hpp)

#include <platypos/base/result.hpp>
#include <platypos/mm/buddy.hpp>
#include <platypos/trace/tracer.hpp>

namespace platypos::tracectl {

class TraceRingMemory {
 public:
  explicit TraceRingMemory(trace::Tracer& tracer) : tracer_(tracer) {}
  ~TraceRingMemory() { release(); }
  TraceRingMemory(const TraceRingMemory&) = delete;
  TraceRingMemory& operator=(const TraceRingMemory&) = delete;

  // Rings of `slots_per_cpu` slots (a power of two, 2..65536) for CPUs [0, cpus), each from `pages`, attached to
  // the tracer. Fails with invalid_argument (bad sizes, the tracer has rings already) or no_memory (nothing is kept
  // then).
  Result<void> allocate(PageSource pages, u32 cpus, u32 slots_per_cpu);
  // Detaches the tracer's rings and gives the pages back (nothing if none were allocated).
  void release();

 private:
  trace::Tracer& tracer_;
  PageSource pages_;
  u32 order_ = 0;
  u32 cpus_ = 0;
  PhysAddr blocks_[kMaxCpus];
};

}  // namespace platypos::tracectl
