#pragma once
// WireEncoder: turns trace records into the wire format (trace/wire_format.hpp), into buffers the caller provides.
// It keeps the per-CPU timestamp of the last record (the wire stores deltas), so one encoder produces one stream,
// in order. No allocation; freestanding.
//
//   WireEncoder enc;
//   usize n = enc.header(buf, sizeof buf, info);          // 0 if the buffer is too small
//   n += enc.record(buf + n, cpu, event);                 // needs wire::kMaxPacketBytes of room
//
// Copyable (it is plain state).

#include <platypos/trace/event.hpp>
#include <platypos/trace/trace_ring.hpp>
#include <platypos/trace/wire_format.hpp>

#include <span>
#include <string_view>

namespace platypos::trace {

struct HeaderInfo {
  u32 cpu_count = 1;
  u64 ticks_hz = 0;  // 0: unknown, the decoder uses the clock syncs
  u64 start_ticks = 0;
  u64 start_ns = 0;
  std::string_view producer = {};
  std::string_view image = {};
  u64 code_bias = 0;  // subtracted from `addr` arguments: the image's load bias (0 when loaded at its link address)
  std::span<const EventInfo> events = catalog();
};

class WireEncoder {
 public:
  WireEncoder() = default;

  // Writes the header (and remembers the catalog, the start ticks and the code bias). Returns the bytes written, or
  // 0 when `cap` is too small (nothing usable written).
  usize header(u8* out, usize cap, const HeaderInfo& info);
  // Each writes one packet at `out`, which must have wire::kMaxPacketBytes of room, and returns its size.
  // A record of an event id outside the catalog is not written (returns 0).
  usize record(u8* out, CpuId cpu, const TraceEvent& e);
  usize drops(u8* out, CpuId cpu, u64 ticks, u64 count, u64 total);
  usize clock(u8* out, u64 ticks, u64 ns);
  usize end(u8* out, u64 records, u64 dropped, u64 uncommitted);

 private:
  std::span<const EventInfo> events_ = catalog();
  u64 start_ticks_ = 0;
  u64 code_bias_ = 0;
  u64 last_ticks_[kMaxCpus] = {};
  bool seen_[kMaxCpus] = {};
};

}  // namespace platypos::trace
