// The wire format: what core's WireEncoder writes, tools/trace's reader reads back equal, field for field; with the
// kernel's catalog and with a made-up one (the reader knows no events); and bad or cut files.

#include <platypos/trace/encoder.hpp>

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "test_support.hpp"
#include "trace_reader.hpp"

namespace platypos::trace {
namespace {

using tracetool::Trace;

struct Stream {
  std::vector<u8> bytes;
  WireEncoder enc;
  u8 packet[wire::kMaxPacketBytes];

  void header(const HeaderInfo& h) {
    std::vector<u8> buf(64 * 1024);
    const usize n = enc.header(buf.data(), buf.size(), h);
    ASSERT_GT(n, 0u);
    bytes.insert(bytes.end(), buf.begin(), buf.begin() + static_cast<isize>(n));
  }
  void add(usize n) {
    ASSERT_LE(n, wire::kMaxPacketBytes);
    bytes.insert(bytes.end(), packet, packet + n);
  }
};

// A random value of the given type, stored the way emit() stores it.
void random_arg(std::mt19937_64& rng, ArgType t, u64* words) {
  switch (t) {
    case ArgType::str: {
      static const char* kStrings[] = {"", "a", "worker", "exactly16bytes!!", "trace-drain", "\x01\x7f\xff bytes"};
      char s[kMaxStringBytes] = {};
      const char* src = kStrings[rng() % 6];
      for (u32 i = 0; i < kMaxStringBytes && src[i] != '\0'; ++i) s[i] = src[i];
      __builtin_memcpy(words, s, kMaxStringBytes);
      return;
    }
    case ArgType::i64: words[0] = static_cast<u64>(static_cast<i64>(rng()) >> (rng() % 64)); return;
    default: words[0] = rng() >> (rng() % 64); return;
  }
}

std::string str_of(const u64* words) {
  char s[kMaxStringBytes + 1] = {};
  __builtin_memcpy(s, words, kMaxStringBytes);
  return s;
}

struct Sent {
  CpuId cpu;
  TraceEvent e;
};

// Encodes `count` random records of the catalog's events on `cpus` CPUs (timestamps moving back and forth a
// little, as nested interrupts make them), with drops and clock syncs between them, then checks the decoded trace.
void round_trip(std::span<const EventInfo> events, u32 cpus, usize count, u64 seed) {
  std::mt19937_64 rng(seed);
  Stream s;
  const HeaderInfo h{.cpu_count = cpus,
                     .ticks_hz = 2'100'000'000,
                     .start_ticks = 1'000'000,
                     .start_ns = 5'000,
                     .producer = "wire test",
                     .image = "/no/such/image",
                     .code_bias = 0x1000,
                     .events = events};
  s.header(h);
  std::vector<Sent> sent;
  std::vector<u64> ticks(cpus, h.start_ticks);
  std::vector<tracetool::DropReport> drops;
  std::vector<tracetool::ClockSync> syncs;
  u64 clock_ticks = h.start_ticks, clock_ns = h.start_ns;
  for (usize i = 0; i < count; ++i) {
    Sent m{static_cast<CpuId>(rng() % cpus), {}};
    m.e.event = static_cast<u16>(rng() % events.size());
    const i64 step = static_cast<i64>(rng() % 5000) - 200;  // sometimes earlier than the last one
    ticks[m.cpu] = static_cast<u64>(static_cast<i64>(ticks[m.cpu]) + step);
    m.e.ticks = ticks[m.cpu];
    m.e.task = static_cast<u32>(rng() % 3 == 0 ? 0 : rng());
    const EventInfo& info = events[m.e.event];
    for (u32 a = 0; a < info.arg_count; ++a) random_arg(rng, info.args[a].type, &m.e.args[arg_offset(info, a)]);
    // addr arguments come out relative to the image (minus the code bias); keep them above it.
    for (u32 a = 0; a < info.arg_count; ++a) {
      if (info.args[a].type == ArgType::addr) m.e.args[arg_offset(info, a)] |= 0x10000;
    }
    s.add(s.enc.record(s.packet, m.cpu, m.e));
    sent.push_back(m);
    if (rng() % 50 == 0) {
      tracetool::DropReport d{static_cast<u32>(rng() % cpus), rng() >> 8, rng() % 100 + 1, rng() % 10000, 0};
      s.add(s.enc.drops(s.packet, d.cpu, d.ticks, d.count, d.total));
      drops.push_back(d);
    }
    if (rng() % 100 == 0) {
      clock_ticks += rng() % 1'000'000;
      clock_ns += rng() % 500'000;
      s.add(s.enc.clock(s.packet, clock_ticks, clock_ns));
      syncs.push_back({clock_ticks, clock_ns});
    }
  }
  s.add(s.enc.end(s.packet, sent.size(), 1234, 5));

  const Trace t = tracetool::read_trace(s.bytes);
  EXPECT_EQ(t.header.version, wire::kVersion);
  EXPECT_EQ(t.header.cpu_count, cpus);
  EXPECT_EQ(t.header.ticks_hz, h.ticks_hz);
  EXPECT_EQ(t.header.start.ticks, h.start_ticks);
  EXPECT_EQ(t.header.start.ns, h.start_ns);
  EXPECT_EQ(t.header.producer, "wire test");
  EXPECT_EQ(t.header.image, "/no/such/image");
  EXPECT_FALSE(t.truncated);
  EXPECT_EQ(t.skipped_prefix, 0u);
  ASSERT_TRUE(t.end.has_value());
  EXPECT_EQ(t.end->records, sent.size());
  EXPECT_EQ(t.end->dropped, 1234u);
  EXPECT_EQ(t.end->uncommitted, 5u);
  // The catalog, from the header alone.
  ASSERT_EQ(t.events.size(), events.size());
  for (usize id = 0; id < events.size(); ++id) {
    const tracetool::EventDesc& d = t.events[id];
    EXPECT_TRUE(d.known);
    EXPECT_EQ(d.name, events[id].name);
    EXPECT_EQ(d.category, events[id].category);
    EXPECT_EQ(d.level, events[id].level);
    EXPECT_EQ(d.kind, events[id].kind);
    ASSERT_EQ(d.args.size(), events[id].arg_count);
    for (u32 a = 0; a < events[id].arg_count; ++a) {
      EXPECT_EQ(d.args[a].name, events[id].args[a].name);
      EXPECT_EQ(d.args[a].type, events[id].args[a].type);
    }
  }
  // Every record, equal.
  ASSERT_EQ(t.records.size(), sent.size());
  for (usize i = 0; i < sent.size(); ++i) {
    const tracetool::Record& r = t.records[i];
    const Sent& m = sent[i];
    const EventInfo& info = events[m.e.event];
    ASSERT_EQ(r.cpu, m.cpu) << "record " << i;
    ASSERT_EQ(r.event, m.e.event) << "record " << i;
    ASSERT_EQ(r.ticks, m.e.ticks) << "record " << i;
    ASSERT_EQ(r.task, m.e.task) << "record " << i;
    ASSERT_EQ(r.arg_count, info.arg_count);
    for (u32 a = 0; a < info.arg_count; ++a) {
      const u64* w = &m.e.args[arg_offset(info, a)];
      const tracetool::Value& v = t.arg(r, a);
      switch (info.args[a].type) {
        case ArgType::str: ASSERT_EQ(std::string(t.str(v)), str_of(w)) << "record " << i << " arg " << a; break;
        case ArgType::addr: ASSERT_EQ(v.bits, w[0] - h.code_bias) << "record " << i; break;
        default: ASSERT_EQ(v.bits, w[0]) << "record " << i << " arg " << a; break;
      }
    }
  }
  ASSERT_EQ(t.drops.size(), drops.size());
  for (usize i = 0; i < drops.size(); ++i) {
    EXPECT_EQ(t.drops[i].cpu, drops[i].cpu);
    EXPECT_EQ(t.drops[i].ticks, drops[i].ticks);
    EXPECT_EQ(t.drops[i].count, drops[i].count);
    EXPECT_EQ(t.drops[i].total, drops[i].total);
  }
  ASSERT_EQ(t.syncs.size(), syncs.size() + 1);  // the header's start first
  for (usize i = 0; i < syncs.size(); ++i) {
    EXPECT_EQ(t.syncs[i + 1].ticks, syncs[i].ticks);
    EXPECT_EQ(t.syncs[i + 1].ns, syncs[i].ns);
  }
}

TEST(TraceWire, KernelCatalogRoundTripsFieldForField) {
  for (u64 seed = 1; seed <= 20; ++seed) round_trip(catalog(), 8, 5000, seed);
}

TEST(TraceWire, ManyCpus) { round_trip(catalog(), kMaxCpus, 20000, 99); }

// Events no build of the kernel has: the reader takes everything from the header.
constexpr EventInfo kMadeUp[] = {
    {"alpha", "x", Level::coarse, EventKind::instant, 0, {}},
    {"every_type",
     "made up",
     Level::fine,
     EventKind::instant,
     4,
     {{"u", ArgType::u64}, {"s", ArgType::i64}, {"text", ArgType::str}, {"code", ArgType::addr}}},
    {"flows",
     "y",
     Level::normal,
     EventKind::begin,
     3,
     {{"t", ArgType::task}, {"in", ArgType::flow_begin}, {"out", ArgType::flow_end}}},
};

TEST(TraceWire, MadeUpCatalogRoundTrips) {
  for (u64 seed = 1; seed <= 5; ++seed) round_trip(kMadeUp, 3, 2000, seed);
}

std::vector<u8> small_trace() {
  Stream s;
  s.header({.cpu_count = 2, .ticks_hz = 1'000'000'000, .producer = "small"});
  TraceEvent e;
  e.event = static_cast<u16>(EventId::sched_block);
  e.ticks = 100;
  e.args[0] = 7;
  s.add(s.enc.record(s.packet, 1, e));
  s.add(s.enc.end(s.packet, 1, 0, 0));
  return s.bytes;
}

TEST(TraceWire, JunkBeforeTheHeaderIsSkipped) {
  std::vector<u8> bytes = {'b', 'o', 'o', 't', '\n', 0, 0xff};
  const std::vector<u8> trace = small_trace();
  bytes.insert(bytes.end(), trace.begin(), trace.end());
  const Trace t = tracetool::read_trace(bytes);
  EXPECT_EQ(t.skipped_prefix, 7u);
  ASSERT_EQ(t.records.size(), 1u);
  EXPECT_EQ(t.arg(t.records[0], 0).bits, 7u);
}

TEST(TraceWire, ACutFileKeepsWhatIsCompleteAndSaysSo) {
  const std::vector<u8> whole = small_trace();
  // The end packet is the last 5 bytes (type, length, three 1-byte varints): cutting 1..5 loses it, 6 cuts into
  // the record before it.
  for (usize cut = 1; cut <= 6; ++cut) {
    const std::vector<u8> bytes(whole.begin(), whole.end() - static_cast<isize>(cut));
    const Trace t = tracetool::read_trace(bytes);
    EXPECT_TRUE(t.truncated) << cut;
    EXPECT_FALSE(t.end.has_value()) << cut;
  }
  const Trace t = tracetool::read_trace(whole);
  EXPECT_FALSE(t.truncated);
}

TEST(TraceWire, UnknownPacketTypesAreSkipped) {
  std::vector<u8> bytes = small_trace();
  const std::vector<u8> odd = {0x7e, 3, 1, 2, 3};         // type 126, 3 bytes
  bytes.insert(bytes.end() - 5, odd.begin(), odd.end());  // before the end packet (5 bytes)
  const Trace t = tracetool::read_trace(bytes);
  EXPECT_EQ(t.skipped_packets, 1u);
  EXPECT_EQ(t.records.size(), 1u);
  EXPECT_TRUE(t.end.has_value());
}

TEST(TraceWire, BadInputIsRefusedWithItsOffset) {
  const std::vector<u8> not_a_trace = {'h', 'e', 'l', 'l', 'o'};
  EXPECT_THROW(tracetool::read_trace(not_a_trace), tracetool::TraceError);
  std::vector<u8> bytes = small_trace();
  bytes[8] = 2;  // version 2
  EXPECT_THROW(tracetool::read_trace(bytes), tracetool::TraceError);
  bytes = small_trace();
  bytes.resize(20);  // header cut short
  EXPECT_THROW(tracetool::read_trace(bytes), tracetool::TraceError);
  // A record of a cpu the header does not have.
  Stream s;
  s.header({.cpu_count = 1, .producer = "x"});
  TraceEvent e;
  s.add(s.enc.record(s.packet, 3, e));
  try {
    tracetool::read_trace(s.bytes);
    FAIL() << "accepted a record of cpu 3 in a 1-cpu trace";
  } catch (const tracetool::TraceError& err) {
    EXPECT_GT(err.offset(), 0u);
    EXPECT_NE(std::string(err.what()).find("cpu 3"), std::string::npos) << err.what();
  }
}

TEST(TraceWire, TicksBecomeNanosecondsThroughTheClockSyncs) {
  Trace t;
  t.header.ticks_hz = 0;
  t.syncs = {{1000, 0}, {3000, 1000}, {3000, 1000}, {7000, 5000}};  // 2 ticks/ns, then 1 tick/ns
  EXPECT_EQ(t.ns(1000), 0);
  EXPECT_EQ(t.ns(2000), 500);
  EXPECT_EQ(t.ns(3000), 1000);
  EXPECT_EQ(t.ns(5000), 3000);
  EXPECT_EQ(t.ns(9000), 7000);  // past the end: the last segment's rate
  EXPECT_EQ(t.ns(0), -500);     // before the start: the first segment's rate
  Trace one;
  one.header.ticks_hz = 2'000'000'000;
  one.header.start = {100, 50};
  one.syncs = {one.header.start};
  EXPECT_EQ(one.ns(300), 150);  // a single sync: the nominal rate
}

}  // namespace
}  // namespace platypos::trace
