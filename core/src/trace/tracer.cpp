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
  release_rings();
}

void Tracer::attach_ring(CpuId cpu, TraceRecord* slots, u32 capacity) {
  PLATYPOS_ASSERT(cpu < kMaxCpus, "trace ring for cpu {}", cpu);
  PLATYPOS_ASSERT(!active(), "attaching a trace ring while recording");
  rings_[cpu].init(slots, capacity);
  if (cpu + 1 > cpu_count_) cpu_count_ = cpu + 1;
}

Result<void> Tracer::allocate_rings(PageSource pages, u32 cpus, u32 slots_per_cpu) {
  if (cpus == 0 || cpus > kMaxCpus || !is_power_of_two(slots_per_cpu) || slots_per_cpu < 2 || !pages.valid() ||
      cpu_count_ != 0 || pages_.valid()) {
    return Error::invalid_argument;
  }
  const u64 bytes = u64{slots_per_cpu} * sizeof(TraceRecord);
  const u32 order = BuddyAllocator::order_for_pages((bytes + kPageSize - 1) / kPageSize);
  if (order > BuddyAllocator::kMaxOrder) return Error::invalid_argument;
  for (CpuId c = 0; c < cpus; ++c) {
    Result<PhysAddr> block = pages.alloc(order);
    if (block.is_error()) {
      for (CpuId k = 0; k < c; ++k) {
        rings_[k].reset();
        pages.free(ring_pages_[k], order).expect("giving back a trace ring");
      }
      cpu_count_ = 0;
      return block.error();
    }
    ring_pages_[c] = *block;
    auto* slots = pages.direct_map().to_virt<TraceRecord>(*block);
    // The slots are objects (their seq is an Atomic): construct them in the fresh pages.
    for (u32 i = 0; i < slots_per_cpu; ++i) new (&slots[i]) TraceRecord();
    rings_[c].init(slots, slots_per_cpu);
  }
  cpu_count_ = cpus;
  pages_ = pages;
  ring_order_ = order;
  return ok();
}

void Tracer::release_rings() {
  PLATYPOS_ASSERT(!active(), "releasing trace rings while recording");
  for (CpuId c = 0; c < cpu_count_; ++c) rings_[c].reset();
  if (pages_.valid()) {
    for (CpuId c = 0; c < cpu_count_; ++c) pages_.free(ring_pages_[c], ring_order_).expect("giving back a trace ring");
  }
  pages_ = PageSource();
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
