#pragma once
// What a handle names and what it allows, as programs see it: object types, rights and signal bits. The kernel's
// capability layer (core/include/platypos/cap) uses these same definitions, so there is one set of values.

#include <cstdint>

namespace platypos::abi {

// The kinds of kernel object a handle can name. `any` is not a type: an op that accepts every type says so.
enum class ObjectType : std::uint8_t {
  any = 0,
  channel = 1,
  process = 2,
  memory_object = 3,
  log_namespace = 4,
  opaque_ref = 5,
  event = 6,
  net = 7,       // a grant: which addresses and ports its holder may listen on or connect to
  listener = 8,  // a bound, listening TCP socket
  stream = 9,    // a TCP connection
  directory = 10,  // a confined root of a file system: files beneath it can be opened, nothing above it
  file = 11,       // an open file
  io_request = 12, // kernel-internal (a file transfer in flight): never in a handle table
  buffer_pool = 13, // provided buffers in its creator's memory that net_recv_pool fills
};

// Rights: what a handle lets its holder do. A mask that only ever shrinks (duplicate and replace can drop rights,
// nothing adds one). Bit 6 is reserved (a future MAP right); a mask with it, or above bit 9, is invalid_argument.
namespace rights {
inline constexpr std::uint32_t read = 1u << 0;       // read messages, bytes, log records
inline constexpr std::uint32_t write = 1u << 1;      // write messages, bytes, log records
inline constexpr std::uint32_t transfer = 1u << 2;   // move the handle to another process (channel, spawn)
inline constexpr std::uint32_t duplicate = 1u << 3;  // make another handle with the same or fewer rights
inline constexpr std::uint32_t wait = 1u << 4;       // wait on the object's signals
inline constexpr std::uint32_t signal = 1u << 5;     // set and clear the object's user signals
inline constexpr std::uint32_t manage = 1u << 7;     // revoke the object; exit a process; issue references
inline constexpr std::uint32_t listen = 1u << 8;     // net grant: listen on an address it allows
inline constexpr std::uint32_t connect = 1u << 9;    // net grant: connect to an address it allows
inline constexpr std::uint32_t all = read | write | transfer | duplicate | wait | signal | manage | listen | connect;
}  // namespace rights

// Signals: state bits an object raises and clears; WAIT completes when one it asks for is set. The low byte means
// different things per type; the top byte is the user's (object_signal, with SIGNAL), the same on every type.
namespace signals {
inline constexpr std::uint32_t readable = 1u << 0;     // channel: a message is queued; log: a record is;
                                                       // listener: a connection waits; stream: bytes, end or error
inline constexpr std::uint32_t writable = 1u << 1;     // channel: the peer's queue has room; stream: its send
                                                       // queue has room (and it is connected)
inline constexpr std::uint32_t peer_closed = 1u << 2;  // channel: the other end is gone; stream: the peer ended
                                                       // its side (end of stream) or the connection broke
inline constexpr std::uint32_t exited = 1u << 3;       // process: it has exited
inline constexpr std::uint32_t revoked = 1u << 4;      // any: revoked by a holder of MANAGE
inline constexpr std::uint32_t user_mask = 0xffu << 24;
}  // namespace signals

}  // namespace platypos::abi
