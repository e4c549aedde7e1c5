// TraceRing (core/include/platypos/trace/trace_ring.hpp): two producers recording into one small ring (in the
// kernel the second producer is an interrupt on the same CPU; here another simulated CPU, which the reservation's
// compare-and-swap makes equivalent) and a consumer draining it concurrently. Every record leaves at most once, in
// each producer's order, never half written, and consumed + dropped = recorded.
#include "loom.hpp"

#include <platypos/sync/atomic.hpp>
#include <platypos/trace/trace_ring.hpp>

namespace platypos::loom {
namespace {

constexpr u32 kCapacity = 2;
constexpr u32 kPerProducer = 3;

struct TraceTest final : Instance {
  trace::TraceRecord slots[kCapacity];
  trace::TraceRing ring;
  Atomic<u32> done{0};
  u32 seen = 0;
  u64 last[2] = {0, 0};
  TraceTest() { ring.init(slots, kCapacity); }

  void consume() {
    ring.consume(kCapacity, [&](const trace::TraceEvent& e) {
      const u64 who = e.args[0] >> 8;
      const u64 n = e.args[0] & 0xff;
      LOOM_CHECK(who < 2 && e.args[1] == ~e.args[0], "torn or foreign record");
      if (who < 2) {
        LOOM_CHECK(n > last[who], "record out of order or seen twice");
        last[who] = n;
      }
      ++seen;
    });
  }

  void run(CpuId cpu) override {
    if (cpu < 2) {
      for (u32 i = 1; i <= kPerProducer; ++i) {
        u64 pos = 0;
        trace::TraceRecord* r = ring.reserve(&pos);
        if (r != nullptr) {
          r->args[0] = (u64{cpu} << 8) | i;
          r->args[1] = ~r->args[0];
          trace::TraceRing::commit(r, pos);
        }
      }
      done.fetch_add(1);
      return;
    }
    // The drain worker: until both producers are done and everything reserved is consumed.
    for (;;) {
      consume();
      if (done.load() == 2) {
        consume();
        if (ring.consumed() == ring.reserved()) break;
      }
      Platform::cpu_relax();
    }
  }
  void check() override {
    LOOM_CHECK(seen + ring.dropped() == 2 * kPerProducer,
               "seen " + std::to_string(seen) + " + dropped " + std::to_string(ring.dropped()) + " != recorded");
  }
};

const Register r1({"trace.ring", "2 producers x 3 records into a 2-slot TraceRing, 1 concurrent consumer", 3, false,
                   [] { return std::make_unique<TraceTest>(); }});

}  // namespace
}  // namespace platypos::loom
