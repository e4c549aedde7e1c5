#pragma once
// The trace wire format, version 1: what the drain worker writes (a file in hosted mode, COM2 on bare metal) and
// tools/trace/platypos-trace reads. Self-describing: the header carries the event catalog, so a decoder needs no
// compiled-in knowledge of the events. Little-endian; docs/tracing.md has the same description with examples.
//
//   file    = header packet*
//   header  = magic "PLATYTRC" (8 bytes)
//             u16 version (1)
//             u32 length of the rest of the header in bytes (a reader skips fields it does not know)
//             u16 cpu_count
//             u64 ticks_hz              nominal tick rate of the timestamps; 0: unknown, use the clock syncs
//             u64 start_ticks, u64 start_ns   the first clock sync: ticks and nanoseconds read together
//             str producer              what recorded it ("platypos-sim --scenario server ...", "PlatypOS 0.1.0 ...")
//             str image                 the ELF whose symbols name `addr` arguments ("" if unknown)
//             u16 event_count, then per event:
//               u16 id, u8 level, u8 kind, str name, str category, u8 arg_count, per arg: u8 type, str name
//   str     = u8 length, bytes (no terminator)
//
//   packet  = u8 type, varint payload length, payload       (unknown types are skipped by length)
//   record  (type 1): varint cpu, varint event id, zigzag varint (ticks - previous ticks of that cpu; the first
//                     record of a cpu is relative to start_ticks), varint task, then the arguments in catalog
//                     order: str as u8 length + bytes; i64 as zigzag varint; every other type as varint. `addr`
//                     values are relative to the image's link address (runtime address - load bias).
//   drops   (type 2): varint cpu, varint ticks (when the drain worker noticed), varint count (new drops since the
//                     last drops packet of that cpu), varint total (drops of that cpu so far)
//   clock   (type 3): varint ticks, varint ns: a clock sync, written at every drain pass. Nanoseconds of a record =
//                     linear interpolation between the syncs around its ticks (extrapolated past the ends).
//   end     (type 4): varint records, varint dropped, varint uncommitted: totals of a trace that was closed cleanly
//                     (uncommitted: reserved but never completed, e.g. by a task that never ran again). A file
//                     without it was cut short (a crash, a killed QEMU).
//
//   varint  = LEB128 (7 bits per byte, low first, high bit = more); zigzag(v) = (v << 1) ^ (v >> 63)
//
// Within one cpu, records appear in the order their slots were reserved; an interrupt that nests inside a
// recording can make a later record carry an earlier timestamp than the one before it (hence the zigzag deltas).
// Decoders sort each cpu's records by timestamp, stably.
//
// The vocabulary below (levels, argument types, event kinds) is the format's; which events exist is not (that is
// trace/catalog.hpp, and each file's header).

#include <platypos/base/types.hpp>

namespace platypos::trace {

// How much detail. Values are part of the wire format.
enum class Level : u8 {
  off = 0,     // nothing (a tracer's level only)
  coarse = 1,  // lifecycle: processes and tasks created and gone, user markers
  normal = 2,  // scheduling, interrupts, reservations: what a timeline shows
  fine = 3,    // hot paths (every page allocated and freed)
};

// The type of one argument: how it is stored in a record, encoded on the wire and shown by the decoder. Values are
// part of the wire format.
enum class ArgType : u8 {
  u64 = 1,         // unsigned integer, shown in decimal
  i64 = 2,         // signed integer
  hex = 3,         // unsigned integer shown in hex (ids, physical addresses)
  addr = 4,        // a code address: stored relative to the image's link address, symbolized from the ELF
  task = 5,        // a task id (0: the CPU's idle context); the decoder shows the task's name
  str = 6,         // a short string, at most kMaxStringBytes bytes (longer ones are cut); takes two record words
  flow_begin = 7,  // a flow id this event starts (an arrow from here ...)
  flow_end = 8,    // ... to the event that ends the same flow id; 0 means no flow
};
inline constexpr u32 kMaxStringBytes = 16;

// What the decoder does with an event beyond listing it. Values are part of the wire format.
enum class EventKind : u8 {
  instant = 0,      // a point in time
  begin = 1,        // opens a span in the current task's context (interrupt handlers, drain passes)
  end = 2,          // closes the innermost open span of the current task's context
  task_switch = 3,  // the CPU switches tasks: its first two `task` arguments are from and to
  task_new = 4,     // names a task: its first `task` argument and its first `str` argument
};

}  // namespace platypos::trace

namespace platypos::trace::wire {

inline constexpr char kMagic[8] = {'P', 'L', 'A', 'T', 'Y', 'T', 'R', 'C'};
inline constexpr u16 kVersion = 1;

enum class PacketType : u8 { record = 1, drops = 2, clock = 3, end = 4 };

// The largest packet the encoder produces: a record with every argument at its widest (type, length, cpu, id,
// timestamp, task, five 10-byte varints or two 17-byte strings and three varints).
inline constexpr usize kMaxPacketBytes = 1 + 2 + 2 + 3 + 10 + 5 + 5 * 10;

}  // namespace platypos::trace::wire
