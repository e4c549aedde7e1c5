#include <platypos/base/assert.hpp>
#include <platypos/trace/tracer.hpp>

namespace platypos::trace {

namespace detail {
constinit Atomic<u8> g_level{0};
constinit Atomic<Tracer*> g_tracer{nullptr};
constinit Atomic<u32> g_current_task[kMaxCpus] = {};
}  // namespace detail

const char* level_name(Level l) {
  switch (l) {
    case Level::off: return "off";
    case Level::coarse: return "coarse";
    case Level::normal: return "normal";
    case Level::fine: return "fine";
  }
  return "?";
}

Tracer::~Tracer() {
  if (active()) stop();
  detach_rings();
}

void Tracer::attach_ring(CpuId cpu, TraceRecord* slots, u32 capacity) {
  PLATYPOS_ASSERT(cpu < kMaxCpus, "trace ring for cpu {}", cpu);
  PLATYPOS_ASSERT(!active(), "attaching a trace ring while recording");
  rings_[cpu].init(slots, capacity);
  if (cpu + 1 > cpu_count_) cpu_count_ = cpu + 1;
}

void Tracer::detach_rings() {
  PLATYPOS_ASSERT(!active(), "detaching trace rings while recording");
  for (CpuId c = 0; c < cpu_count_; ++c) rings_[c].reset();
  cpu_count_ = 0;
}

void Tracer::start(Level level) {
  Tracer* expected = nullptr;
  const bool installed = detail::g_tracer.unobserved().compare_exchange_strong(expected, this) || expected == this;
  PLATYPOS_ASSERT(installed, "another tracer is already active");
  // The tracer is visible before the level lets trace points look for it.
  detail::g_level.unobserved().store(static_cast<u8>(level), std::memory_order_release);
}

void Tracer::stop() {
  if (!active()) return;
  detail::g_level.unobserved().store(static_cast<u8>(Level::off), std::memory_order_release);
  detail::g_tracer.unobserved().store(nullptr, std::memory_order_release);
}

bool Tracer::active() const { return detail::g_tracer.unobserved().load(std::memory_order_acquire) == this; }

Tracer::Totals Tracer::totals() const {
  Totals t;
  for (CpuId c = 0; c < cpu_count_; ++c) {
    t.reserved += rings_[c].reserved();
    t.consumed += rings_[c].consumed();
    t.dropped += rings_[c].dropped();
  }
  return t;
}

}  // namespace platypos::trace
