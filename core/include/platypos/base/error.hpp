#pragma once
// The kernel's error codes: small and stable. They stay inside the kernel: at the system-call boundary each is
// mapped to an abi::Status by one table (ring/status.hpp) whose completeness a static_assert checks, so a code added
// here without a status does not compile. Values never change once assigned; new codes go at the end.

#include <platypos/base/types.hpp>

namespace platypos {

// X(name, value, meaning)
#define PLATYPOS_ERRORS(X)                                                                                    \
  X(none, 0, "not an error; never stored in a failed Result")                                                 \
  X(no_memory, 1, "an allocator or a memory reservation is exhausted")                                        \
  X(invalid_argument, 2, "a malformed argument: zero or absurd size, bad flags, bad alignment request")       \
  X(bad_handle, 3, "the handle value does not name a live entry of the caller's table (closed, stale, junk)") \
  X(access_denied, 4, "the handle lacks a right the operation needs")                                         \
  X(would_block, 5, "nothing to do yet (empty queue, no message)")                                            \
  X(peer_closed, 6, "the other end of a channel is gone")                                                     \
  X(cancelled, 7, "the operation was cancelled (linked entry failed, process exited)")                        \
  X(no_resources, 8, "admission control refused: not enough free cores, memory, slots")                       \
  X(out_of_range, 9, "an address, index or length outside the object or region it refers to")                 \
  X(not_found, 10, "a name or id that does not exist")                                                        \
  X(already_exists, 11, "creating something that is already there")                                           \
  X(bad_state, 12, "the object is in a state where the operation makes no sense (exiting twice)")             \
  X(wrong_type, 13, "the handle names an object of another type")                                             \
  X(buffer_too_small, 14, "the destination is too small; the needed sizes are reported separately")           \
  X(timed_out, 15, "a deadline passed")                                                                       \
  X(not_supported, 16, "valid request this build or object does not implement")                               \
  X(misaligned, 17, "an address that must be aligned is not")                                                 \
  X(not_allocated, 18, "freeing memory that is not currently allocated (never was, or freed twice)")          \
  X(revoked, 19, "the object behind the handle was revoked by its manager")                                   \
  X(limit_reached, 20, "a per-object limit (queue depth, message size) would be exceeded")                   \
  X(address_in_use, 21, "the address is bound already (a listener on that port)")                         \
  X(connection_refused, 22, "nobody listens at the address, or it refused the connection")                \
  X(connection_reset, 23, "the connection broke: the peer reset it, or the network failed")              \
  X(io_error, 24, "the device or the host failed the transfer")                                             \
  X(no_space, 25, "the file system or device is full")

enum class Error : u16 {
#define PLATYPOS_ERROR_ENUM(name, value, meaning) name = value,
  PLATYPOS_ERRORS(PLATYPOS_ERROR_ENUM)
#undef PLATYPOS_ERROR_ENUM
};

namespace detail {
inline constexpr u16 kErrorValues[] = {
#define PLATYPOS_ERROR_VALUE(name, value, meaning) value,
    PLATYPOS_ERRORS(PLATYPOS_ERROR_VALUE)
#undef PLATYPOS_ERROR_VALUE
};
consteval bool errors_dense() {
  for (u16 i = 0; i < sizeof(kErrorValues) / sizeof(kErrorValues[0]); ++i)
    if (kErrorValues[i] != i) return false;
  return true;
}
static_assert(errors_dense(), "error values are 0, 1, 2, ... in order");
}  // namespace detail

inline constexpr u16 kErrorCount = sizeof(detail::kErrorValues) / sizeof(detail::kErrorValues[0]);

// "no_memory", "bad_handle", ...; "unknown_error" for a value outside the enum.
const char* error_name(Error e);

}  // namespace platypos
