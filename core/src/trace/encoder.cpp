#include <platypos/base/assert.hpp>
#include <platypos/trace/encoder.hpp>

namespace platypos::trace {
namespace {

// Bounds-checked little-endian writer over a caller's buffer. Writing past the end sets `overflow` and writes
// nothing more.
struct Writer {
  u8* p;
  u8* end;
  bool overflow = false;

  void u8_(u8 v) {
    if (p == end) {
      overflow = true;
      return;
    }
    *p++ = v;
  }
  void le(u64 v, u32 bytes) {
    for (u32 i = 0; i < bytes; ++i) u8_(static_cast<u8>(v >> (8 * i)));
  }
  void varint(u64 v) {
    while (v >= 0x80) {
      u8_(static_cast<u8>(v | 0x80));
      v >>= 7;
    }
    u8_(static_cast<u8>(v));
  }
  void zigzag(i64 v) { varint((static_cast<u64>(v) << 1) ^ static_cast<u64>(v >> 63)); }
  void bytes(const void* d, usize n) {
    const auto* s = static_cast<const u8*>(d);
    for (usize i = 0; i < n; ++i) u8_(s[i]);
  }
  void str(std::string_view s) {
    const usize n = s.size() < 255 ? s.size() : 255;
    u8_(static_cast<u8>(n));
    bytes(s.data(), n);
  }
  usize written(const u8* start) const { return static_cast<usize>(p - start); }
};

usize c_strlen(const char* s) {
  usize n = 0;
  while (s[n] != '\0') ++n;
  return n;
}

// Payloads are built in a scratch buffer, then written behind their type and length.
usize finish_packet(u8* out, wire::PacketType type, const u8* payload, usize n) {
  Writer w{out, out + wire::kMaxPacketBytes};
  w.u8_(static_cast<u8>(type));
  w.varint(n);
  w.bytes(payload, n);
  PLATYPOS_ASSERT(!w.overflow, "trace packet of {} bytes exceeds the maximum", n);
  return w.written(out);
}

}  // namespace

usize WireEncoder::header(u8* out, usize cap, const HeaderInfo& info) {
  Writer w{out, out + cap};
  w.bytes(wire::kMagic, sizeof wire::kMagic);
  w.le(wire::kVersion, 2);
  u8* length_at = w.p;
  w.le(0, 4);  // patched below
  u8* body = w.p;
  w.le(info.cpu_count, 2);
  w.le(info.ticks_hz, 8);
  w.le(info.start_ticks, 8);
  w.le(info.start_ns, 8);
  w.str(info.producer);
  w.str(info.image);
  w.le(info.events.size(), 2);
  for (usize id = 0; id < info.events.size(); ++id) {
    const EventInfo& e = info.events[id];
    w.le(id, 2);
    w.u8_(static_cast<u8>(e.level));
    w.u8_(static_cast<u8>(e.kind));
    w.str({e.name, c_strlen(e.name)});
    w.str({e.category, c_strlen(e.category)});
    w.u8_(e.arg_count);
    for (u32 i = 0; i < e.arg_count; ++i) {
      w.u8_(static_cast<u8>(e.args[i].type));
      w.str({e.args[i].name, c_strlen(e.args[i].name)});
    }
  }
  if (w.overflow) return 0;
  const u64 body_len = static_cast<u64>(w.p - body);
  for (u32 i = 0; i < 4; ++i) length_at[i] = static_cast<u8>(body_len >> (8 * i));
  events_ = info.events;
  start_ticks_ = info.start_ticks;
  code_bias_ = info.code_bias;
  for (CpuId c = 0; c < kMaxCpus; ++c) seen_[c] = false;
  return w.written(out);
}

usize WireEncoder::record(u8* out, CpuId cpu, const TraceEvent& e) {
  if (e.event >= events_.size() || cpu >= kMaxCpus) return 0;
  const EventInfo& info = events_[e.event];
  u8 payload[wire::kMaxPacketBytes];
  Writer w{payload, payload + sizeof payload};
  w.varint(cpu);
  w.varint(e.event);
  const u64 prev = seen_[cpu] ? last_ticks_[cpu] : start_ticks_;
  w.zigzag(static_cast<i64>(e.ticks - prev));
  last_ticks_[cpu] = e.ticks;
  seen_[cpu] = true;
  w.varint(e.task);
  u32 word = 0;
  for (u32 i = 0; i < info.arg_count && word < kArgWords; ++i) {
    const ArgType t = info.args[i].type;
    if (t == ArgType::str) {
      char s[kMaxStringBytes];
      __builtin_memcpy(s, &e.args[word], kMaxStringBytes);
      usize n = 0;
      while (n < kMaxStringBytes && s[n] != '\0') ++n;
      w.u8_(static_cast<u8>(n));
      w.bytes(s, n);
    } else if (t == ArgType::i64) {
      w.zigzag(static_cast<i64>(e.args[word]));
    } else if (t == ArgType::addr) {
      const u64 a = e.args[word];
      w.varint(a >= code_bias_ ? a - code_bias_ : a);
    } else {
      w.varint(e.args[word]);
    }
    word += arg_words(t);
  }
  PLATYPOS_ASSERT(!w.overflow, "trace record payload overflow");
  return finish_packet(out, wire::PacketType::record, payload, w.written(payload));
}

usize WireEncoder::drops(u8* out, CpuId cpu, u64 ticks, u64 count, u64 total) {
  u8 payload[40];
  Writer w{payload, payload + sizeof payload};
  w.varint(cpu);
  w.varint(ticks);
  w.varint(count);
  w.varint(total);
  return finish_packet(out, wire::PacketType::drops, payload, w.written(payload));
}

usize WireEncoder::clock(u8* out, u64 ticks, u64 ns) {
  u8 payload[24];
  Writer w{payload, payload + sizeof payload};
  w.varint(ticks);
  w.varint(ns);
  return finish_packet(out, wire::PacketType::clock, payload, w.written(payload));
}

usize WireEncoder::end(u8* out, u64 records, u64 dropped, u64 uncommitted) {
  u8 payload[32];
  Writer w{payload, payload + sizeof payload};
  w.varint(records);
  w.varint(dropped);
  w.varint(uncommitted);
  return finish_packet(out, wire::PacketType::end, payload, w.written(payload));
}

}  // namespace platypos::trace
