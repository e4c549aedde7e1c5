#pragma once
// Tracer: the per-CPU trace rings of a kernel, and the recording path every trace point takes.
//
//   Tracer tracer;
//   tracectl::TraceRingMemory rings(tracer);                   // rings for CPUs [0, cpus), from kernel pages
//   rings.allocate(kernel_pages, cpus, 8192).expect("trace rings");
//   tracer.start(Level::normal);                               // trace points up to `normal` now record
//   ... PLATYPOS_TRACE(sched_switch, from, to, flow) ...       // trace/trace.hpp
//   tracer.stop();                                             // nothing records any more
//   ... drain what is left (TraceDrainer), then rings.release()
//
// One tracer is active at a time. The active tracer, the level and each CPU's current task are read on every trace
// point through unobserved() loads: they are configuration and CPU-local state, set before CPUs record and cleared
// after, not state the simulator should interleave on (with tracing off, a trace point must not change a simulated
// schedule). The rings' positions are shared state and go through Atomic<T> (see trace_ring.hpp).
//
// Stopping and freeing: after stop(), CPUs already inside a recording may still finish it. Release the rings (or
// destroy the tracer) only when no CPU can be recording: after the machine stopped running.
//
// Not copyable or movable (trace points reach it through a global pointer).

#include <platypos/base/result.hpp>
#include <platypos/platform.hpp>
#include <platypos/trace/trace_ring.hpp>

#include <type_traits>

namespace platypos::trace {

class Tracer {
 public:
  Tracer() = default;
  ~Tracer();
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  // Gives CPU `cpu` a ring of `capacity` slots (a power of two >= 2) at `slots`. The memory stays the caller's.
  void attach_ring(CpuId cpu, TraceRecord* slots, u32 capacity);
  // Detaches every ring (their memory stays whoever's it is: tracectl::TraceRingMemory gives back what it
  // allocated). Not while recording (see above).
  void detach_rings();

  // Rings attached: CPUs [0, cpu_count()).
  u32 cpu_count() const { return cpu_count_; }
  TraceRing& ring(CpuId cpu) { return rings_[cpu]; }
  const TraceRing& ring(CpuId cpu) const { return rings_[cpu]; }

  // Makes this the active tracer, recording events of `level` and below. Panics if another tracer is active.
  void start(Level level);
  // Nothing records any more (recordings already in progress complete). The rings keep their records.
  void stop();
  bool active() const;

  struct Totals {
    u64 reserved = 0;  // records that got a slot
    u64 consumed = 0;  // records drained
    u64 dropped = 0;   // records lost to a full ring
  };
  Totals totals() const;

 private:
  TraceRing rings_[kMaxCpus];
  u32 cpu_count_ = 0;
};

namespace detail {
// The recording state every trace point reads (tracer.cpp). g_level is the active tracer's level (off: none).
// Constant-initialized (constinit at their definitions): clang-tidy's check cannot see that through a declaration.
extern constinit Atomic<u8> g_level;                    // NOLINT(bugprone-dynamic-static-initializers)
extern constinit Atomic<Tracer*> g_tracer;              // NOLINT(bugprone-dynamic-static-initializers)
extern constinit Atomic<u32> g_current_task[kMaxCpus];  // NOLINT(bugprone-dynamic-static-initializers)
}  // namespace detail

// The task running on `cpu` as records see it (the scheduler keeps it current, tracing on or off; 0: idle).
inline void set_current_task(CpuId cpu, u64 task) {
  detail::g_current_task[cpu].unobserved().store(static_cast<u32>(task), std::memory_order_relaxed);
}
inline u32 current_task(CpuId cpu) { return detail::g_current_task[cpu].unobserved().load(std::memory_order_relaxed); }

// True when events of `level` are recorded now.
inline bool enabled(Level level) {
  return static_cast<u8>(level) <= detail::g_level.unobserved().load(std::memory_order_relaxed);
}

// ---- Storing arguments ------------------------------------------------------------------------------------------

namespace detail {

template <class T>
u64 to_word(const T& v) {
  if constexpr (std::is_pointer_v<T> || std::is_member_pointer_v<T>) {
    return reinterpret_cast<uptr>(v);
  } else if constexpr (std::is_enum_v<T>) {
    return static_cast<u64>(static_cast<std::underlying_type_t<T>>(v));
  } else {
    return static_cast<u64>(v);
  }
}

template <ArgType kType, class T>
void store_arg(u64* w, const T& v) {
  if constexpr (kType == ArgType::str) {
    static_assert(std::is_convertible_v<const T&, const char*>, "a str trace argument takes a C string");
    const char* s = v;
    char bytes[kMaxStringBytes] = {};
    for (u32 i = 0; s != nullptr && i < kMaxStringBytes && s[i] != '\0'; ++i) bytes[i] = s[i];
    __builtin_memcpy(w, bytes, kMaxStringBytes);
  } else if constexpr (kType == ArgType::addr) {
    static_assert(std::is_pointer_v<T> || std::is_integral_v<T>, "an addr trace argument takes a pointer or uptr");
    w[0] = to_word(v);
  } else if constexpr (kType == ArgType::i64) {
    static_assert(std::is_integral_v<T> || std::is_enum_v<T>, "an i64 trace argument takes an integer");
    w[0] = static_cast<u64>(static_cast<i64>(v));
  } else {
    static_assert(std::is_integral_v<T> || std::is_enum_v<T>, "an integer trace argument takes an integer");
    w[0] = to_word(v);
  }
}

template <EventId kId, usize... I, class... A>
void store_args(u64* words, std::index_sequence<I...>, const A&... args) {
  constexpr const EventInfo& e = event_info(kId);
  (store_arg<e.args[I].type>(words + arg_offset(e, I), args), ...);
}

}  // namespace detail

// Records event kId with `args` on the current CPU's ring of the active tracer. Trace points call it through
// PLATYPOS_TRACE, which checks the level first. Out of line: a trace point costs its call site a level check and a
// call, not an inlined recording.
template <EventId kId, class... A>
[[gnu::noinline]] void emit(const A&... args) {
  static_assert(sizeof...(A) == event_info(kId).arg_count, "wrong number of arguments for this trace event");
  Tracer* tracer = detail::g_tracer.unobserved().load(std::memory_order_acquire);
  if (tracer == nullptr) return;
  const CpuId cpu = Platform::current_cpu();
  const u64 ticks = Platform::ticks();
  u64 pos = 0;
  TraceRecord* r = tracer->ring(cpu).reserve(&pos);
  if (r == nullptr) return;
  r->ticks = ticks;
  r->task = current_task(cpu);
  r->event = static_cast<u16>(kId);
  detail::store_args<kId>(r->args, std::index_sequence_for<A...>(), args...);
  TraceRing::commit(r, pos);
}

}  // namespace platypos::trace
