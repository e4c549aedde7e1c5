#pragma once
// The kernel's error codes. Small, stable, and shared with the ABI: a completion carries -static_cast<int>(error).
// Values never change once assigned (programs and traces depend on them); new codes go at the end.

#include <platypos/base/types.hpp>

namespace platypos {

enum class Error : u16 {
  none = 0,               // not an error; never stored in a failed Result
  no_memory = 1,          // an allocator or a memory reservation is exhausted
  invalid_argument = 2,   // a malformed argument: zero or absurd size, bad flags, bad alignment request
  bad_handle = 3,         // the handle value does not name a live entry of the caller's table (closed, stale, junk)
  access_denied = 4,      // the handle lacks a right the operation needs
  would_block = 5,        // nothing to do yet (empty queue, no message)
  peer_closed = 6,        // the other end of a channel is gone
  cancelled = 7,          // the operation was cancelled (linked entry failed, process exited)
  no_resources = 8,       // admission control refused: not enough free cores, memory, slots
  out_of_range = 9,       // an address, index or length outside the object or region it refers to
  not_found = 10,         // a name or id that does not exist
  already_exists = 11,    // creating something that is already there
  bad_state = 12,         // the object is in a state where the operation makes no sense (exiting twice)
  wrong_type = 13,        // the handle names an object of another type
  buffer_too_small = 14,  // the destination is too small; the needed sizes are reported separately
  timed_out = 15,         // a deadline passed
  not_supported = 16,     // valid request this build or object does not implement
  misaligned = 17,        // an address that must be aligned is not
  not_allocated = 18,     // freeing memory that is not currently allocated (never was, or freed twice)
  revoked = 19,           // the object behind the handle was revoked by its manager
  limit_reached = 20,     // a per-object limit (queue depth, message size) would be exceeded
};

inline constexpr u16 kErrorCount = 21;

// "no_memory", "bad_handle", ...; "unknown_error" for a value outside the enum.
const char* error_name(Error e);

}  // namespace platypos
