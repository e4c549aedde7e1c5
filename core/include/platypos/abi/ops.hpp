#pragma once
// Operations a program submits (Sqe::opcode), with the fields each reads and what its completion's result is.
// Handles are the program's own handle values (u32). Buffers must lie entirely inside the program's memory.
// Fields not listed must be zero (invalid_argument otherwise).
//
//   op                 fields                                          result
//   nop                -                                               0
//   channel_create     -                                               (end0 << 32) | end1: two new handles
//   channel_write      handle, addr/len bytes, addr2/count handles     0; the handles leave the program's table
//   channel_read       handle, addr/len buffer, addr2/count room for   bytes | (handles << 32); handles written at
//                      handles, arg1: address of a ReadNeeded (opt.)   addr2. Waits for a message unless
//                                                                      kSqeNonBlocking; buffer_too_small fills the
//                                                                      ReadNeeded at arg1 and leaves the message
//   handle_duplicate   handle, arg0: rights                            the new handle
//   handle_close       handle                                          0
//   wait               handle, arg0: signals wanted, arg1: timeout ns  the signals set (or -timed_out); 0: none
//   timeout            arg0: nanoseconds                               0, after that long
//   log_write          handle (log namespace), addr/len: one record    0
//   process_spawn      addr/len: program name, arg0: cores,            a process handle (wait for
//                      arg1: memory bytes, addr2/count: handles given  kSignalExited, manage: exit it)
//                      to the child (they leave the program's table)
//   process_exit       handle: a process (MANAGE), or 0 for the        0 (exiting itself: no completion)
//                      program itself; arg0: exit code
//   memory_create      arg0: bytes                                     a memory object handle
//   memory_read        handle, arg0: offset, addr/len                  bytes read
//   memory_write       handle, arg0: offset, addr/len                  bytes written
//   log_create         addr/len: name, arg0: ring bytes                a log namespace handle (all rights)
//   log_read           handle (READ), addr/len: buffer, arg1:          bytes of the oldest record; waits for one
//                      address of a ReadNeeded (opt.)                  unless kSqeNonBlocking
//   ref_create         handle: the issuer key (any object held with    an opaque reference handle
//                      MANAGE), arg0: cookie
//   ref_resolve        handle: the reference, arg0: the issuer key     the cookie (access_denied: not the issuer)
//                      handle
//   console_write      addr/len: text                                  0 (the kernel console: debugging aid)

#include <cstdint>

namespace platypos::abi {

enum class Op : std::uint8_t {
  nop = 0,
  channel_create = 1,
  channel_write = 2,
  channel_read = 3,
  handle_duplicate = 4,
  handle_close = 5,
  wait = 6,
  timeout = 7,
  log_write = 8,
  process_spawn = 9,
  process_exit = 10,
  memory_create = 11,
  memory_read = 12,
  memory_write = 13,
  log_create = 14,
  log_read = 15,
  ref_create = 16,
  ref_resolve = 17,
  console_write = 18,
};
inline constexpr std::uint8_t kOpCount = 19;

// Where channel_read reports the sizes it needed (buffer_too_small).
struct ReadNeeded {
  std::uint32_t bytes;
  std::uint32_t handles;
};

// Rights and signals, as programs name them (the same bits as the kernel's cap::Rights and kSignal*).
namespace rights {
inline constexpr std::uint64_t read = 1u << 0, write = 1u << 1, transfer = 1u << 2, duplicate = 1u << 3, wait = 1u << 4,
                               signal = 1u << 5, map = 1u << 6, manage = 1u << 7;
}
namespace signals {
inline constexpr std::uint64_t readable = 1u << 0, writable = 1u << 1, peer_closed = 1u << 2, exited = 1u << 3,
                               revoked = 1u << 4;
}

const char* op_name(Op op);

}  // namespace platypos::abi
