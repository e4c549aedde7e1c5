#pragma once
// Operations a program submits (Sqe::opcode): one table, PLATYPOS_ABI_OPS, says everything generic about each op:
// its number, which entry fields it reads (every other field must be zero), how it uses the handle, the rights and
// object type that handle needs, and the buffers it reads or writes. The kernel checks all of that, and copies
// what it must read from program memory into its own, before the op's handler runs (core/src/ring/dispatch.cpp);
// the handler does the rest. Adding an op is one row here and one handler in core/src/ring/ops_*.cpp.
//
// Handles are the program's own handle values (u32). Buffers must lie entirely inside the program's memory
// (out_of_range otherwise); handle arrays (addr2) and ReadNeeded (arg1) must be 4-byte aligned (misaligned).
//
//   op                 fields                                          result
//   nop                -                                               0
//   channel_create     -                                               (end0 << 32) | end1: two new handles
//   channel_write      handle, addr/len bytes, addr2/count handles     0; the handles leave the program's table
//   channel_read       handle, addr/len buffer, addr2/count room for   bytes | (handles << 32); handles written at
//                      handles, arg1: address of a ReadNeeded (opt.)   addr2. Waits for a message unless
//                                                                      kSqeNonBlocking; buffer_too_small fills the
//                                                                      ReadNeeded at arg1 and leaves the message
//   handle_duplicate   handle (DUPLICATE), arg0: rights                the new handle
//   handle_close       handle                                          0
//   wait               handle (WAIT), arg0: signals wanted,            the signals set when one wanted is;
//                      arg1: timeout ns (0: none; saturates)           -timed_out at the deadline
//   timeout            arg0: nanoseconds (<= kMaxTimeoutNs)            0, after that long
//   log_write          handle (log namespace), addr/len: one record    0
//   process_spawn      addr/len: "program args...", arg0: cores,       a process handle (wait for
//                      arg1: memory bytes, addr2/count: handles given  signals::exited; MANAGE: exit it)
//                      to the child (they leave the program's table)
//   process_exit       handle: a process (MANAGE), or 0 for the        0 (exiting itself: no completion)
//                      program itself; arg0: exit code
//   memory_create      arg0: bytes                                     a memory object handle
//   memory_read        handle, arg0: offset, addr/len                  bytes read
//   memory_write       handle, arg0: offset, addr/len                  bytes written
//   log_create         addr/len: name, arg0: ring bytes (0: default)   a log namespace handle (all rights but SIGNAL)
//   log_read           handle (READ), addr/len: buffer, arg1:          bytes of the oldest record; waits for one
//                      address of a ReadNeeded (opt.)                  unless kSqeNonBlocking
//   ref_create         handle: the issuer key (any object held with    an opaque reference handle
//                      MANAGE), arg0: cookie
//   ref_resolve        handle: the reference, arg0: the issuer key     the cookie (access_denied: not the issuer)
//                      handle
//   console_write      addr/len: text                                  0 (the kernel console: debugging aid)
//   event_create       -                                               an event handle (wait, signal, duplicate,
//                                                                      transfer, manage)
//   object_signal      handle (SIGNAL), arg0: user signals to clear,   0
//                      arg1: user signals to set (signals::user_mask)
//   handle_revoke      handle (MANAGE)                                 0; every other handle to the object now
//                                                                      fails with revoked, this one goes on
//   handle_replace     handle, arg0: rights (a subset of its own)      the new handle; the old one is closed
//   net_listen         handle: a net grant (LISTEN), arg0: endpoint    listener handle | (port << 32): the port it
//                      (ipv4_endpoint; port 0: any free one),          is bound to (address_in_use, access_denied:
//                      arg1: backlog (0: kDefaultBacklog)              not an address the grant allows)
//   net_accept         handle: a listener (READ), arg0: 0, or          a stream handle; waits for a connection
//                      kAcceptMultishot                                unless kSqeNonBlocking. Multishot: one
//                                                                      completion per connection, until one
//                                                                      fails (that one ends it); not in a chain
//   net_connect        handle: a net grant (CONNECT), arg0: endpoint   a stream handle at once: WRITABLE once
//                                                                      connected; if it fails, READABLE and
//                                                                      PEER_CLOSED, and recv/send say why
//                                                                      (connection_refused, connection_reset)
//   net_recv           handle: a stream (READ), addr/len: buffer       bytes received, 0 at the end of the stream;
//                                                                      waits for some unless kSqeNonBlocking
//                                                                      (connection_reset: the connection broke)
//   net_send           handle: a stream (WRITE), addr/len: bytes       bytes taken (fewer than len when its send
//                                                                      queue is short of room); waits for room
//                                                                      unless kSqeNonBlocking
//   net_shutdown       handle: a stream (WRITE), arg0: kShutdownSend   0 (send: the peer sees the end of the stream
//                      and/or kShutdownReceive                         once the queued bytes are sent)
//   file_open_at       handle: a directory (READ to read or open a     a file handle (READ and/or WRITE as asked),
//                      subdirectory, WRITE to write, create or         or a directory handle (kOpenDirectory: the
//                      truncate), addr/len: a relative path            rights of the one opened beneath). not_found,
//                      (io/file.hpp: no "..", no leading '/'),         already_exists (kOpenExclusive), wrong_type
//                      arg0: kOpen* flags                              (a directory as a file or the reverse),
//                                                                      access_denied (a link out of the directory)
//   file_read_at       handle: a file (READ), addr/len: buffer,        bytes read (fewer at the end of the file, or
//                      arg0: offset                                    beyond kMaxFileTransfer); 0 at or past the end
//   file_write_at      handle: a file (WRITE), addr/len: bytes,        bytes written (fewer: the device took fewer,
//                      arg0: offset                                    or beyond kMaxFileTransfer); no_space
//   file_sync          handle: a file (WRITE)                          0 once the file's data is durable
//   file_size          handle: a file (any right)                      its size in bytes
//   net_pool_create    addr/len: a region of the program's memory,     a buffer pool handle (READ, WRITE: neither
//                      arg0: bytes per buffer (len / arg0 buffers)     duplicated nor transferred), every buffer free
//   net_pool_provide   handle: a pool (WRITE), arg0: first buffer,     0: those buffers are the kernel's to fill
//                      arg1: how many                                  again (bad_state if one already is)
//   net_recv_pool      handle: a stream (READ), arg0: a pool handle    bytes | (buffer << 32): the bytes are in that
//                      (READ), arg1: 0 or kRecvMultishot               buffer, which stays the program's until it
//                                                                      provides it back; 0 at the end of the stream;
//                                                                      no_resources: no buffer free. Multishot: one
//                                                                      completion per arrival, until one fails or
//                                                                      the stream ends (that one ends it)

#include <platypos/abi/handles.hpp>
#include <platypos/abi/limits.hpp>

#include <cstdint>

namespace platypos::abi {

// Entry fields an op reads (OpInfo::fields).
namespace field {
inline constexpr std::uint32_t handle = 1u << 0, addr = 1u << 1, len = 1u << 2, count = 1u << 3, addr2 = 1u << 4,
                               arg0 = 1u << 5, arg1 = 1u << 6;
}

// How an op uses Sqe::handle.
enum class HandleUse : std::uint8_t {
  none,            // not at all (the field must be 0)
  object,          // names an object: looked up with OpInfo::rights and ::object before the handler runs
  object_or_self,  // the same, but 0 means the program's own process
  entry,           // names a table entry the op works on itself (duplicate, close, revoke, replace), checking
                   // OpInfo::rights as part of it
};

// How an op uses a buffer: the kernel reads it (in), writes it (out), or neither.
enum class Buffer : std::uint8_t { none, in, out };

// X(name, number, fields, handle use, rights, object type, addr/len use, max len, addr2/count use (u32 handles),
//   max count, arg1 is the address of a ReadNeeded). A max of 0 means "any size within the program's memory".
#define PLATYPOS_ABI_OPS(X)                                                                                           \
  X(nop, 0, 0, HandleUse::none, 0, ObjectType::any, Buffer::none, 0, Buffer::none, 0, false)                          \
  X(channel_create, 1, 0, HandleUse::none, 0, ObjectType::any, Buffer::none, 0, Buffer::none, 0, false)               \
  X(channel_write, 2, field::handle | field::addr | field::len | field::count | field::addr2, HandleUse::object,      \
    rights::write, ObjectType::channel, Buffer::in, kMaxMessageBytes, Buffer::in, kMaxMessageHandles, false)          \
  X(channel_read, 3, field::handle | field::addr | field::len | field::count | field::addr2 | field::arg1,            \
    HandleUse::object, rights::read, ObjectType::channel, Buffer::out, 0, Buffer::out, kMaxMessageHandles, true)      \
  X(handle_duplicate, 4, field::handle | field::arg0, HandleUse::entry, rights::duplicate, ObjectType::any,           \
    Buffer::none, 0, Buffer::none, 0, false)                                                                          \
  X(handle_close, 5, field::handle, HandleUse::entry, 0, ObjectType::any, Buffer::none, 0, Buffer::none, 0, false)    \
  X(wait, 6, field::handle | field::arg0 | field::arg1, HandleUse::object, rights::wait, ObjectType::any,             \
    Buffer::none, 0, Buffer::none, 0, false)                                                                          \
  X(timeout, 7, field::arg0, HandleUse::none, 0, ObjectType::any, Buffer::none, 0, Buffer::none, 0, false)            \
  X(log_write, 8, field::handle | field::addr | field::len, HandleUse::object, rights::write,                         \
    ObjectType::log_namespace, Buffer::in, kMaxLogRecord, Buffer::none, 0, false)                                     \
  X(process_spawn, 9, field::addr | field::len | field::count | field::addr2 | field::arg0 | field::arg1,             \
    HandleUse::none, 0, ObjectType::any, Buffer::in, kMaxSpawnText, Buffer::in, kMaxInitialHandles, false)            \
  X(process_exit, 10, field::handle | field::arg0, HandleUse::object_or_self, rights::manage, ObjectType::process,    \
    Buffer::none, 0, Buffer::none, 0, false)                                                                          \
  X(memory_create, 11, field::arg0, HandleUse::none, 0, ObjectType::any, Buffer::none, 0, Buffer::none, 0, false)     \
  X(memory_read, 12, field::handle | field::addr | field::len | field::arg0, HandleUse::object, rights::read,         \
    ObjectType::memory_object, Buffer::out, 0, Buffer::none, 0, false)                                                \
  X(memory_write, 13, field::handle | field::addr | field::len | field::arg0, HandleUse::object, rights::write,       \
    ObjectType::memory_object, Buffer::in, 0, Buffer::none, 0, false)                                                 \
  X(log_create, 14, field::addr | field::len | field::arg0, HandleUse::none, 0, ObjectType::any, Buffer::in,          \
    kMaxLogName, Buffer::none, 0, false)                                                                              \
  X(log_read, 15, field::handle | field::addr | field::len | field::arg1, HandleUse::object, rights::read,            \
    ObjectType::log_namespace, Buffer::out, 0, Buffer::none, 0, true)                                                 \
  X(ref_create, 16, field::handle | field::arg0, HandleUse::object, rights::manage, ObjectType::any, Buffer::none, 0, \
    Buffer::none, 0, false)                                                                                           \
  X(ref_resolve, 17, field::handle | field::arg0, HandleUse::object, 0, ObjectType::opaque_ref, Buffer::none, 0,      \
    Buffer::none, 0, false)                                                                                           \
  X(console_write, 18, field::addr | field::len, HandleUse::none, 0, ObjectType::any, Buffer::in, kMaxConsoleWrite,   \
    Buffer::none, 0, false)                                                                                           \
  X(event_create, 19, 0, HandleUse::none, 0, ObjectType::any, Buffer::none, 0, Buffer::none, 0, false)                \
  X(object_signal, 20, field::handle | field::arg0 | field::arg1, HandleUse::object, rights::signal, ObjectType::any, \
    Buffer::none, 0, Buffer::none, 0, false)                                                                          \
  X(handle_revoke, 21, field::handle, HandleUse::entry, rights::manage, ObjectType::any, Buffer::none, 0,             \
    Buffer::none, 0, false)                                                                                           \
  X(handle_replace, 22, field::handle | field::arg0, HandleUse::entry, 0, ObjectType::any, Buffer::none, 0,           \
    Buffer::none, 0, false)                                                                                           \
  X(net_listen, 23, field::handle | field::arg0 | field::arg1, HandleUse::object, rights::listen, ObjectType::net,    \
    Buffer::none, 0, Buffer::none, 0, false)                                                                          \
  X(net_accept, 24, field::handle | field::arg0, HandleUse::object, rights::read, ObjectType::listener, Buffer::none,  \
    0, Buffer::none, 0, false)                                                                                        \
  X(net_connect, 25, field::handle | field::arg0, HandleUse::object, rights::connect, ObjectType::net, Buffer::none,  \
    0, Buffer::none, 0, false)                                                                                        \
  X(net_recv, 26, field::handle | field::addr | field::len, HandleUse::object, rights::read, ObjectType::stream,      \
    Buffer::out, 0, Buffer::none, 0, false)                                                                           \
  X(net_send, 27, field::handle | field::addr | field::len, HandleUse::object, rights::write, ObjectType::stream,     \
    Buffer::in, 0, Buffer::none, 0, false)                                                                            \
  X(net_shutdown, 28, field::handle | field::arg0, HandleUse::object, rights::write, ObjectType::stream,             \
    Buffer::none, 0, Buffer::none, 0, false)                                                                          \
  X(file_open_at, 29, field::handle | field::addr | field::len | field::arg0, HandleUse::object, 0,                  \
    ObjectType::directory, Buffer::in, kMaxPathBytes, Buffer::none, 0, false)                                         \
  X(file_read_at, 30, field::handle | field::addr | field::len | field::arg0, HandleUse::object, rights::read,       \
    ObjectType::file, Buffer::out, 0, Buffer::none, 0, false)                                                         \
  X(file_write_at, 31, field::handle | field::addr | field::len | field::arg0, HandleUse::object, rights::write,     \
    ObjectType::file, Buffer::in, 0, Buffer::none, 0, false)                                                          \
  X(file_sync, 32, field::handle, HandleUse::object, rights::write, ObjectType::file, Buffer::none, 0, Buffer::none,  \
    0, false)                                                                                                         \
  X(file_size, 33, field::handle, HandleUse::object, 0, ObjectType::file, Buffer::none, 0, Buffer::none, 0, false)   \
  X(net_pool_create, 34, field::addr | field::len | field::arg0, HandleUse::none, 0, ObjectType::any, Buffer::out, 0, \
    Buffer::none, 0, false)                                                                                           \
  X(net_pool_provide, 35, field::handle | field::arg0 | field::arg1, HandleUse::object, rights::write,               \
    ObjectType::buffer_pool, Buffer::none, 0, Buffer::none, 0, false)                                                 \
  X(net_recv_pool, 36, field::handle | field::arg0 | field::arg1, HandleUse::object, rights::read, ObjectType::stream, \
    Buffer::none, 0, Buffer::none, 0, false)

enum class Op : std::uint8_t {
#define PLATYPOS_ABI_OP_ENUM(name, number, ...) name = number,
  PLATYPOS_ABI_OPS(PLATYPOS_ABI_OP_ENUM)
#undef PLATYPOS_ABI_OP_ENUM
};

struct OpInfo {
  const char* name;
  std::uint8_t number;
  std::uint32_t fields;
  HandleUse handle;
  std::uint32_t rights;
  ObjectType object;
  Buffer bytes;  // addr/len
  std::uint32_t max_len;
  Buffer handles;  // addr2/count
  std::uint32_t max_count;
  bool read_needed;  // arg1: address of a ReadNeeded (0: none)
};

inline constexpr OpInfo kOpInfo[] = {
#define PLATYPOS_ABI_OP_INFO(name, number, fields, handle, rights, object, bytes, max_len, handles, max_count, needed) \
  {#name, number, fields, handle, rights, object, bytes, max_len, handles, max_count, needed},
    PLATYPOS_ABI_OPS(PLATYPOS_ABI_OP_INFO)
#undef PLATYPOS_ABI_OP_INFO
};
inline constexpr std::uint8_t kOpCount = sizeof(kOpInfo) / sizeof(kOpInfo[0]);

namespace detail {
consteval bool ops_consistent() {
  for (std::uint32_t i = 0; i < kOpCount; ++i) {
    const OpInfo& o = kOpInfo[i];
    if (o.number != i) return false;  // opcodes are 0, 1, 2, ... in table order
    const bool uses_handle = (o.fields & field::handle) != 0;
    if (uses_handle != (o.handle != HandleUse::none)) return false;
    const bool uses_bytes = (o.fields & (field::addr | field::len)) == (field::addr | field::len);
    if (uses_bytes != (o.bytes != Buffer::none) || ((o.fields & field::addr) != 0) != uses_bytes) return false;
    const bool uses_handles = (o.fields & (field::addr2 | field::count)) == (field::addr2 | field::count);
    if (uses_handles != (o.handles != Buffer::none) || ((o.fields & field::addr2) != 0) != uses_handles) return false;
    if (uses_handles && o.max_count == 0) return false;  // a handle array is always bounded
    if (o.read_needed && (o.fields & field::arg1) == 0) return false;
  }
  return true;
}
static_assert(detail::ops_consistent(), "PLATYPOS_ABI_OPS: numbers in order, fields agree with the uses");
}  // namespace detail

constexpr const OpInfo* op_info(std::uint8_t opcode) { return opcode < kOpCount ? &kOpInfo[opcode] : nullptr; }
constexpr const char* op_name(Op op) {
  const OpInfo* o = op_info(static_cast<std::uint8_t>(op));
  return o != nullptr ? o->name : "unknown_op";
}

// An IPv4 endpoint as net_listen and net_connect take it in arg0: (address << 16) | port, the address in host byte
// order (127.0.0.1 is 0x7f000001); bits 48 to 63 must be zero.
constexpr std::uint64_t ipv4_endpoint(std::uint32_t address, std::uint16_t port) {
  return (std::uint64_t{address} << 16) | port;
}
inline constexpr std::uint64_t kAcceptMultishot = 1;
inline constexpr std::uint64_t kShutdownSend = 1;
inline constexpr std::uint64_t kShutdownReceive = 2;
// file_open_at's arg0. kOpenRead and/or kOpenWrite (the handle's rights), or kOpenDirectory alone; kOpenCreate (the
// file is made if missing, mode 0644 on a host), kOpenTruncate and kOpenExclusive (with kOpenCreate: fails with
// already_exists if it is there) need kOpenWrite.
inline constexpr std::uint64_t kOpenRead = 1;
inline constexpr std::uint64_t kOpenWrite = 2;
inline constexpr std::uint64_t kOpenCreate = 4;
inline constexpr std::uint64_t kOpenTruncate = 8;
inline constexpr std::uint64_t kOpenExclusive = 16;
inline constexpr std::uint64_t kOpenDirectory = 32;
inline constexpr std::uint64_t kOpenAll = 63;
// net_recv_pool's arg1.
inline constexpr std::uint64_t kRecvMultishot = 1;

// Where channel_read and log_read report the sizes they needed (buffer_too_small).
struct ReadNeeded {
  std::uint32_t bytes;
  std::uint32_t handles;
};

}  // namespace platypos::abi
