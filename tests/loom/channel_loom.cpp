// Channel queues (core/src/cap/channel.cpp), the real code: two writers on one endpoint (two CPUs, each with its own
// handle table and memory account), a reader on the peer spinning on would_block. Every message arrives exactly once,
// each writer's in its order, and every message is freed at the end.
#include "loom.hpp"

#include <platypos/cap/channel.hpp>

#include "cap/cap_fixture.hpp"

namespace platypos::loom {
namespace {

constexpr u32 kPerWriter = 2;

cap::test::Kernel& kernel() {
  static cap::test::Kernel k(16 * MiB);
  return k;
}

struct ChannelTest final : Instance {
  cap::test::Domain w0{kernel()};
  cap::test::Domain w1{kernel()};
  cap::test::Domain reader{kernel()};
  cap::ChannelEndpoint::Pair pair = cap::ChannelEndpoint::create().value();
  u64 live_before = cap::ChannelEndpoint::live_messages();
  u8 last[2] = {0, 0};
  u32 got = 0;

  void run(CpuId cpu) override {
    if (cpu < 2) {
      cap::test::Domain& d = cpu == 0 ? w0 : w1;
      for (u32 i = 1; i <= kPerWriter; ++i) {
        const u8 msg[2] = {static_cast<u8>(cpu), static_cast<u8>(i)};
        const auto r = pair.a->write(d.table, *d.account, msg, {});
        LOOM_CHECK(r.has_value(), "write failed");
      }
      return;
    }
    while (got < 2 * kPerWriter) {
      u8 buf[2] = {};
      const auto r = pair.b->read(reader.table, buf, {});
      if (!r) {
        LOOM_CHECK(r.error() == Error::would_block, "read failed");
        if (r.error() != Error::would_block) return;
        Platform::cpu_relax();
        continue;
      }
      LOOM_CHECK(r->bytes == 2 && buf[0] < 2, "bad message");
      if (buf[0] < 2) {
        LOOM_CHECK(buf[1] == last[buf[0]] + 1, "message out of order, lost or duplicated");
        last[buf[0]] = buf[1];
      }
      ++got;
    }
  }
  void check() override {
    LOOM_CHECK(pair.b->queued_messages() == 0, "messages left queued");
    LOOM_CHECK(cap::ChannelEndpoint::live_messages() == live_before, "a message was not freed");
  }
};

const Register r1({"channel.two_writers", "real channel: 2 writers x 2 messages, 1 reader polling", 3, false,
                   [] { return std::make_unique<ChannelTest>(); }});

}  // namespace
}  // namespace platypos::loom
