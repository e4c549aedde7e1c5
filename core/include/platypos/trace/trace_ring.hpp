#pragma once
// TraceRing: one CPU's trace records, in a ring of fixed 64-byte slots (one cache line each). Producers are the
// CPU's own code, including interrupt handlers that interrupt a recording in progress; the consumer is the drain
// worker, on any CPU. Recording takes no lock, allocates nothing and never waits: when the ring is full the record
// is dropped and counted.
//
// Positions are 64-bit counters that never wrap; slot = position & mask.
//
//   head_  next position to reserve. A producer reserves position p with a compare-and-swap p -> p + 1, after
//          checking p - tail_ < capacity (else: dropped_ += 1, nothing reserved). Its p can be older than tail_
//          (interrupt records reserved and drained meanwhile): that is not "full", the CAS fails and p catches up.
//   seq    each slot's commit marker. The producer fills the slot, then stores seq = p + 1 (release).
//   tail_  next position to consume. The consumer reads slot p only once seq == p + 1 (acquire), and publishes
//          tail_ = p + 1 (release) only after it has copied the slot out.
//
//     tail_                                 head_
//       v                                     v
//   ... [ committed | committed | reserved, being written | committed (by a nested interrupt) ] [ free ... ]
//
// Why an interrupt in the middle of a recording is safe (the design, not an accident):
//   - Between a producer's load of head_ and its CAS, a nested recording (an interrupt handler on the same CPU, or
//     another thread acting as this CPU in hosted mode) moves head_: the CAS fails and the producer retries with the
//     new head. Two recordings never get the same slot. Each retry means another record was reserved: lock-free.
//   - Between the CAS and the commit, the slot is the producer's alone: nobody else can reserve it again until the
//     consumer has passed it, and the consumer never passes a slot whose seq is not p + 1. A nested recording takes
//     the next position and may commit first; the consumer stops at the older, uncommitted slot and resumes once it
//     is committed, so records leave in reservation order and none is read half-written.
//   - A slot's seq from an earlier lap (p + 1 - capacity) or from initialization (0) never equals p + 1.
//   - Interrupts stay enabled throughout (the hot path has no irq_save/irq_restore); the simulator exercises this
//     by delivering timer interrupts at the Atomic<T> accesses inside a recording (tests/unit/trace).
// The one cost of not masking interrupts: a recording interrupted by a timer that then switches tasks (timeshare
// preemption, from the interrupt handler) keeps its slot reserved until the task runs again; meanwhile the consumer
// waits at that slot and the ring may fill up and drop (counted). Most trace points run with interrupts off (the
// scheduler's, the kernel page allocator's under its IRQ-safe lock, interrupt entry); the exposed ones are records
// made with interrupts on: markers, the drain worker's own span, a process allocating from its reservation. Lifting
// it needs a preempt-disable count that the scheduler honours, as Linux's ring buffer does.
//
// Not copyable or movable (other CPUs hold its address). Memory for the slots is given to init() and must outlive
// the ring's use.

#include <platypos/sync/atomic.hpp>
#include <platypos/trace/event.hpp>

namespace platypos::trace {

// One slot: exactly one cache line.
struct alignas(64) TraceRecord {
  Atomic<u64> seq{0};  // position + 1 once the record at `position` is complete
  u64 ticks = 0;       // Platform::ticks() when the event happened (read before the slot was reserved)
  u32 task = 0;        // the task running on the CPU (0: idle context); an interrupt records the interrupted one
  u16 event = 0;       // EventId
  u16 reserved = 0;
  u64 args[kArgWords] = {};
};
static_assert(sizeof(TraceRecord) == 64, "a trace record is one cache line");

// A record copied out of a ring.
struct TraceEvent {
  u64 ticks = 0;
  u32 task = 0;
  u16 event = 0;
  u64 args[kArgWords] = {};
};

class TraceRing {
 public:
  constexpr TraceRing() = default;
  TraceRing(const TraceRing&) = delete;
  TraceRing& operator=(const TraceRing&) = delete;

  // Gives the ring `capacity` slots (a power of two, at least 2) at `slots`, and empties it. Only while nothing
  // records into it or drains it.
  void init(TraceRecord* slots, u32 capacity);
  // Detaches the slots (recording drops from then on). Only while nothing records into it or drains it.
  void reset();

  // --- Producer (any context on the ring's CPU, nested interrupts included) ---
  // A free slot at position *pos, or nullptr when the ring is full (the record is counted as dropped).
  TraceRecord* reserve(u64* pos) {
    u64 p = head_.load(std::memory_order_relaxed);
    for (;;) {
      // p may be stale: records reserved after it (by a nested interrupt) may even be consumed already (tail > p).
      // Then the CAS below fails and brings p up to date; only p >= tail says anything about room.
      const u64 t = tail_.load(std::memory_order_acquire);
      if (p >= t && p - t >= capacity_) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        return nullptr;
      }
      if (head_.compare_exchange_weak(p, p + 1, std::memory_order_relaxed, std::memory_order_relaxed)) break;
    }
    *pos = p;
    return &slots_[p & mask_];
  }
  // Publishes the record reserved at `pos`.
  static void commit(TraceRecord* r, u64 pos) { r->seq.store(pos + 1, std::memory_order_release); }

  // --- Consumer (one at a time) ---
  // Copies out up to `max` committed records in order, calling f(const TraceEvent&) for each, then frees their
  // slots. Stops early at a slot that is reserved but not committed yet. Returns how many it consumed.
  template <class F>
  usize consume(usize max, F&& f) {
    const u64 start = tail_.load(std::memory_order_relaxed);
    const u64 head = head_.load(std::memory_order_acquire);
    u64 t = start;
    while (t != head && t - start < max) {
      TraceRecord& r = slots_[t & mask_];
      if (r.seq.load(std::memory_order_acquire) != t + 1) break;
      TraceEvent e;
      e.ticks = r.ticks;
      e.task = r.task;
      e.event = r.event;
      for (u32 i = 0; i < kArgWords; ++i) e.args[i] = r.args[i];
      ++t;
      f(static_cast<const TraceEvent&>(e));
    }
    if (t != start) tail_.store(t, std::memory_order_release);
    return static_cast<usize>(t - start);
  }

  u32 capacity() const { return static_cast<u32>(capacity_); }
  // Records reserved so far (committed or not), consumed so far, and dropped because the ring was full.
  u64 reserved() const { return head_.load(std::memory_order_acquire); }
  u64 consumed() const { return tail_.load(std::memory_order_acquire); }
  u64 dropped() const { return dropped_.load(std::memory_order_acquire); }
  // Reserved records not committed yet: recordings in progress (an interrupt handler calling this sees the one it
  // interrupted) or abandoned. A scan of the unconsumed slots without scheduling points; exact when nothing else
  // touches the ring meanwhile. For tests and reports.
  u64 uncommitted() const;

 private:
  // The producer's line: head_ changes on every record; slots_/mask_/capacity_ are read-only after init().
  alignas(64) Atomic<u64> head_{0};
  TraceRecord* slots_ = nullptr;
  u64 mask_ = 0;
  u64 capacity_ = 0;  // 0: no slots, every record is dropped
  // The consumer's line, written once per drain batch.
  alignas(64) Atomic<u64> tail_{0};
  alignas(64) Atomic<u64> dropped_{0};
};

}  // namespace platypos::trace
