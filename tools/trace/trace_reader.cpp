#include "trace_reader.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <utility>

namespace platypos::tracetool {
namespace {

namespace wire = trace::wire;

// A cursor over the bytes. Reading past `end` throws Truncated, which read_trace() turns into `truncated`.
struct Truncated {};

class Cursor {
 public:
  Cursor(const std::uint8_t* data, std::size_t size, std::uint64_t base) : p_(data), end_(data + size), base_(base) {}

  std::uint8_t u8() {
    if (p_ == end_) throw Truncated{};
    return *p_++;
  }
  std::uint64_t le(int bytes) {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= std::uint64_t{u8()} << (8 * i);
    return v;
  }
  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const std::uint8_t b = u8();
      v |= std::uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) return v;
    }
    throw TraceError("varint longer than 10 bytes", offset());
  }
  std::int64_t zigzag() {
    const std::uint64_t z = varint();
    return static_cast<std::int64_t>((z >> 1) ^ (~(z & 1) + 1));
  }
  std::string_view bytes(std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n) throw Truncated{};
    std::string_view s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }
  std::string str() { return std::string(bytes(u8())); }
  bool done() const { return p_ == end_; }
  std::size_t left() const { return static_cast<std::size_t>(end_ - p_); }
  std::uint64_t offset() const { return base_; }
  const std::uint8_t* pos() const { return p_; }

 private:
  const std::uint8_t* p_;
  const std::uint8_t* end_;
  std::uint64_t base_;
};

bool valid_arg_type(std::uint8_t t) { return t >= 1 && t <= 8; }

}  // namespace

const EventDesc& Trace::event(std::uint16_t id) const {
  static const EventDesc unknown;
  return id < events.size() ? events[id] : unknown;
}

std::uint64_t Trace::dropped() const {
  std::uint64_t n = 0;
  for (const DropReport& d : drops) n += d.count;
  return n;
}

std::int64_t Trace::ns(std::uint64_t ticks) const {
  using i128 = __int128;
  auto line = [&](const ClockSync& a, const ClockSync& b) {
    const i128 dt = static_cast<i128>(ticks) - static_cast<i128>(a.ticks);
    const i128 span_ticks = static_cast<i128>(b.ticks) - static_cast<i128>(a.ticks);
    const i128 span_ns = static_cast<i128>(b.ns) - static_cast<i128>(a.ns);
    return static_cast<std::int64_t>(static_cast<i128>(a.ns) + dt * span_ns / span_ticks);
  };
  // Syncs are in time order; use the segment around `ticks` (ignoring segments with no tick progress).
  const ClockSync* before = nullptr;
  const ClockSync* after = nullptr;
  auto it = std::upper_bound(syncs.begin(), syncs.end(), ticks,
                             [](std::uint64_t t, const ClockSync& s) { return t < s.ticks; });
  if (it != syncs.begin()) before = &*(it - 1);
  if (it != syncs.end()) after = &*it;
  if (before != nullptr && after != nullptr && after->ticks > before->ticks) return line(*before, *after);
  // Past an end: the nearest segment that advances.
  if (syncs.size() >= 2) {
    if (after == nullptr) {
      for (std::size_t i = syncs.size() - 1; i > 0; --i)
        if (syncs[i].ticks > syncs[i - 1].ticks) return line(syncs[i - 1], syncs[i]);
    } else {
      for (std::size_t i = 1; i < syncs.size(); ++i)
        if (syncs[i].ticks > syncs[i - 1].ticks) return line(syncs[i - 1], syncs[i]);
    }
  }
  const ClockSync base = before != nullptr ? *before : after != nullptr ? *after : header.start;
  const i128 dt = static_cast<i128>(ticks) - static_cast<i128>(base.ticks);
  const i128 hz = header.ticks_hz != 0 ? header.ticks_hz : 1'000'000'000;
  return static_cast<std::int64_t>(static_cast<i128>(base.ns) + dt * 1'000'000'000 / hz);
}

Trace read_trace(std::span<const std::uint8_t> bytes) {
  Trace t;
  // Find the magic (a serial capture may start with something else).
  const auto* begin = bytes.data();
  const auto* end = bytes.data() + bytes.size();
  const auto* magic = std::search(begin, end, std::begin(wire::kMagic), std::end(wire::kMagic),
                                  [](std::uint8_t a, char b) { return a == static_cast<std::uint8_t>(b); });
  if (magic == end) throw TraceError("not a PlatypOS trace: no PLATYTRC magic", 0);
  t.skipped_prefix = static_cast<std::uint64_t>(magic - begin);
  const std::uint64_t header_at = t.skipped_prefix;
  Cursor c(magic + sizeof wire::kMagic, static_cast<std::size_t>(end - magic) - sizeof wire::kMagic,
           header_at + sizeof wire::kMagic);
  std::size_t body_len = 0;
  try {
    t.header.version = static_cast<std::uint16_t>(c.le(2));
    if (t.header.version != wire::kVersion) {
      throw TraceError("trace format version " + std::to_string(t.header.version) + ", this decoder reads version " +
                           std::to_string(wire::kVersion),
                       header_at);
    }
    body_len = c.le(4);
  } catch (const Truncated&) {
    throw TraceError("trace header cut short", header_at);
  }
  if (c.left() < body_len) throw TraceError("trace header cut short", header_at);
  const std::uint64_t body_at = header_at + sizeof wire::kMagic + 6;
  Cursor h(c.pos(), body_len, body_at);
  try {
    t.header.cpu_count = static_cast<std::uint32_t>(h.le(2));
    t.header.ticks_hz = h.le(8);
    t.header.start.ticks = h.le(8);
    t.header.start.ns = h.le(8);
    t.header.producer = h.str();
    t.header.image = h.str();
    const std::size_t count = h.le(2);
    for (std::size_t i = 0; i < count; ++i) {
      EventDesc e;
      e.known = true;
      e.id = static_cast<std::uint16_t>(h.le(2));
      const std::uint8_t level = h.u8();
      const std::uint8_t kind = h.u8();
      if (level > 3 || kind > 4) throw TraceError("event with a bad level or kind in the catalog", body_at);
      e.level = static_cast<Level>(level);
      e.kind = static_cast<EventKind>(kind);
      e.name = h.str();
      e.category = h.str();
      const std::size_t args = h.u8();
      for (std::size_t k = 0; k < args; ++k) {
        ArgDesc a;
        const std::uint8_t type = h.u8();
        if (!valid_arg_type(type)) throw TraceError("argument of unknown type in the catalog", body_at);
        a.type = static_cast<ArgType>(type);
        a.name = h.str();
        e.args.push_back(std::move(a));
      }
      if (e.id >= t.events.size()) t.events.resize(e.id + 1u);
      t.events[e.id] = std::move(e);
    }
  } catch (const Truncated&) {
    throw TraceError("trace header shorter than its catalog", body_at);
  }
  if (t.header.cpu_count == 0) throw TraceError("trace header with 0 cpus", body_at);
  t.syncs.push_back(t.header.start);

  // Packets.
  const std::uint8_t* packets = c.pos() + body_len;
  Cursor p(packets, static_cast<std::size_t>(end - packets), body_at + body_len);
  std::vector<std::uint64_t> last_ticks(t.header.cpu_count, t.header.start.ticks);
  t.records.reserve(bytes.size() / 10);
  t.values.reserve(bytes.size() / 5);
  while (!p.done()) {
    const std::uint64_t at = p.offset() + static_cast<std::uint64_t>(p.pos() - packets);
    std::uint8_t type = 0;
    std::string_view payload;
    try {
      type = p.u8();
      const std::uint64_t len = p.varint();
      if (len > p.left()) throw Truncated{};
      payload = p.bytes(static_cast<std::size_t>(len));
    } catch (const Truncated&) {
      t.truncated = true;
      break;
    }
    Cursor q(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size(), at);
    try {
      switch (static_cast<wire::PacketType>(type)) {
        case wire::PacketType::record: {
          Record r;
          const std::uint64_t cpu = q.varint();
          if (cpu >= t.header.cpu_count) throw TraceError("record of cpu " + std::to_string(cpu), at);
          r.cpu = static_cast<std::uint32_t>(cpu);
          const std::uint64_t id = q.varint();
          const EventDesc& e = t.event(static_cast<std::uint16_t>(id));
          if (id > 0xffff || !e.known)
            throw TraceError("record of event " + std::to_string(id) + ", not in the catalog", at);
          r.event = static_cast<std::uint16_t>(id);
          r.ticks = last_ticks[r.cpu] + static_cast<std::uint64_t>(q.zigzag());
          last_ticks[r.cpu] = r.ticks;
          r.task = static_cast<std::uint32_t>(q.varint());
          r.first_arg = static_cast<std::uint32_t>(t.values.size());
          r.arg_count = static_cast<std::uint8_t>(e.args.size());
          for (const ArgDesc& a : e.args) {
            Value v;
            if (a.type == ArgType::str) {
              const std::string_view s = q.bytes(q.u8());
              v.str_at = static_cast<std::uint32_t>(t.strings.size());
              v.str_len = static_cast<std::uint8_t>(s.size());
              t.strings.append(s);
            } else if (a.type == ArgType::i64) {
              v.bits = static_cast<std::uint64_t>(q.zigzag());
            } else {
              v.bits = q.varint();
            }
            t.values.push_back(v);
          }
          // Extra bytes: arguments a newer writer added; ignored.
          t.records.push_back(r);
          break;
        }
        case wire::PacketType::drops: {
          DropReport d;
          const std::uint64_t cpu = q.varint();
          if (cpu >= t.header.cpu_count) throw TraceError("drops of cpu " + std::to_string(cpu), at);
          d.cpu = static_cast<std::uint32_t>(cpu);
          d.ticks = q.varint();
          d.count = q.varint();
          d.total = q.varint();
          d.after_record = t.records.size();
          t.drops.push_back(d);
          break;
        }
        case wire::PacketType::clock: {
          ClockSync s;
          s.ticks = q.varint();
          s.ns = q.varint();
          if (s.ticks < t.syncs.back().ticks) throw TraceError("clock sync going backwards", at);
          t.syncs.push_back(s);
          break;
        }
        case wire::PacketType::end: {
          EndTotals e;
          e.records = q.varint();
          e.dropped = q.varint();
          e.uncommitted = q.varint();
          t.end = e;
          break;
        }
        default: ++t.skipped_packets; break;
      }
    } catch (const Truncated&) {
      throw TraceError("packet shorter than its contents", at);
    }
  }
  if (!t.end) t.truncated = true;
  return t;
}

Trace read_trace_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw TraceError("cannot open " + path + ": " + std::strerror(errno), 0);
  const std::streamsize size = in.tellg();
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size > 0 ? size : 0));
  in.seekg(0);
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size)) {
    throw TraceError("cannot read " + path + ": " + std::strerror(errno), 0);
  }
  return read_trace(bytes);
}

const char* arg_type_name(ArgType t) {
  switch (t) {
    case ArgType::u64: return "u64";
    case ArgType::i64: return "i64";
    case ArgType::hex: return "hex";
    case ArgType::addr: return "addr";
    case ArgType::task: return "task";
    case ArgType::str: return "str";
    case ArgType::flow_begin: return "flow_begin";
    case ArgType::flow_end: return "flow_end";
  }
  return "?";
}

const char* kind_name(EventKind k) {
  switch (k) {
    case EventKind::instant: return "instant";
    case EventKind::begin: return "begin";
    case EventKind::end: return "end";
    case EventKind::task_switch: return "task_switch";
    case EventKind::task_new: return "task_new";
  }
  return "?";
}

const char* level_name(Level l) {
  switch (l) {
    case Level::off: return "off";
    case Level::coarse: return "coarse";
    case Level::normal: return "normal";
    case Level::fine: return "fine";
  }
  return "?";
}

}  // namespace platypos::tracetool
