#pragma once
// Reading PlatypOS trace files (core/include/platypos/trace/wire_format.hpp, docs/tracing.md) into memory.
//
// The reader knows the format, not the events: names, categories, levels, kinds and argument types all come from
// the file's header, so a trace from any build decodes. Argument values of all records share one array (and the
// strings one buffer), so a trace of millions of records costs a few allocations.
//
// Bad input: a header that is not a trace, or a record that contradicts its header, throws TraceError with the
// byte offset. Bytes before the magic (a capture that caught something else first) are skipped and counted. A file
// that ends in the middle of a packet, or without the end packet, is a truncated trace: what was complete is kept.

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <platypos/trace/wire_format.hpp>

namespace platypos::tracetool {

using trace::ArgType;
using trace::EventKind;
using trace::Level;

class TraceError : public std::runtime_error {
 public:
  TraceError(const std::string& what, std::uint64_t offset)
      : std::runtime_error(what + " (at byte " + std::to_string(offset) + ")"), offset_(offset) {}
  std::uint64_t offset() const { return offset_; }

 private:
  std::uint64_t offset_;
};

struct ArgDesc {
  std::string name;
  ArgType type = ArgType::u64;
};

struct EventDesc {
  bool known = false;  // declared in the header
  std::uint16_t id = 0;
  Level level = Level::normal;
  EventKind kind = EventKind::instant;
  std::string name;
  std::string category;
  std::vector<ArgDesc> args;
};

// One argument value: integers in `bits` (an i64 as its two's complement), strings in Trace::strings.
struct Value {
  std::uint64_t bits = 0;
  std::uint32_t str_at = 0;
  std::uint8_t str_len = 0;
};

struct Record {
  std::uint64_t ticks = 0;
  std::uint32_t cpu = 0;
  std::uint32_t task = 0;
  std::uint16_t event = 0;
  std::uint8_t arg_count = 0;
  std::uint32_t first_arg = 0;  // index into Trace::values
};

struct ClockSync {
  std::uint64_t ticks = 0;
  std::uint64_t ns = 0;
};

struct DropReport {
  std::uint32_t cpu = 0;
  std::uint64_t ticks = 0;
  std::uint64_t count = 0;
  std::uint64_t total = 0;
  std::size_t after_record = 0;  // records (in file order) before it
};

struct EndTotals {
  std::uint64_t records = 0;
  std::uint64_t dropped = 0;
  std::uint64_t uncommitted = 0;
};

struct Header {
  std::uint16_t version = 0;
  std::uint32_t cpu_count = 0;
  std::uint64_t ticks_hz = 0;
  ClockSync start;
  std::string producer;
  std::string image;
};

struct Trace {
  Header header;
  std::vector<EventDesc> events;  // indexed by id
  std::vector<Record> records;    // in file order
  std::vector<Value> values;
  std::string strings;
  std::vector<ClockSync> syncs;  // the header's start first
  std::vector<DropReport> drops;
  std::optional<EndTotals> end;
  std::uint64_t skipped_prefix = 0;   // bytes before the magic
  std::uint64_t skipped_packets = 0;  // packets of unknown types
  bool truncated = false;             // the last packet is cut, or there is no end packet

  const EventDesc& event(std::uint16_t id) const;
  const Value& arg(const Record& r, std::size_t i) const { return values[r.first_arg + i]; }
  std::string_view str(const Value& v) const { return std::string_view(strings).substr(v.str_at, v.str_len); }
  // Nanoseconds of a timestamp: linear between the clock syncs around it, extrapolated past the ends with the
  // nearest usable segment's rate (or ticks_hz, or 1 tick = 1 ns when nothing else says).
  std::int64_t ns(std::uint64_t ticks) const;
  std::uint64_t dropped() const;
};

Trace read_trace(std::span<const std::uint8_t> bytes);
// Reads a whole file; throws TraceError (offset 0) when it cannot be read.
Trace read_trace_file(const std::string& path);

const char* arg_type_name(ArgType t);
const char* kind_name(EventKind k);
const char* level_name(Level l);

}  // namespace platypos::tracetool
