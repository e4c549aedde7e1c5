#pragma once
// Status codes a program sees in a completion: a non-negative result, or the negative of one of these. This is the
// only error vocabulary that crosses the boundary: the kernel's own codes (base/error.hpp) are mapped to these by one
// table (ring/status.hpp) that a static_assert keeps complete. Values never change once assigned; new ones go at the
// end.

#include <cstdint>

namespace platypos::abi {

// X(name, value, meaning)
#define PLATYPOS_ABI_STATUSES(X)                                                                           \
  X(ok, 0, "success")                                                                                      \
  X(no_memory, 1, "the program's memory (its reservation) is used up")                                     \
  X(invalid_argument, 2, "a malformed entry: bad flags, a nonzero unused field, a size out of its limits") \
  X(bad_handle, 3, "the handle does not name a live entry of the program's table")                         \
  X(access_denied, 4, "the handle lacks a right the operation needs")                                      \
  X(would_block, 5, "nothing to do yet and the entry asked not to wait")                                   \
  X(peer_closed, 6, "the other end of the channel is gone")                                                \
  X(cancelled, 7, "an earlier entry of the chain failed, or the chain was too long")                       \
  X(no_resources, 8, "admission control refused (cores, memory, process slots), or a table is full")       \
  X(out_of_range, 9, "a buffer outside the program's memory, an offset outside the object")                \
  X(not_found, 10, "no such program, object or reference")                                                 \
  X(already_exists, 11, "it exists already")                                                               \
  X(bad_state, 12, "the object is in a state where the operation makes no sense")                          \
  X(wrong_type, 13, "the handle names an object of another type")                                          \
  X(buffer_too_small, 14, "the destination is too small; the sizes needed are reported")                   \
  X(timed_out, 15, "the deadline passed")                                                                  \
  X(not_supported, 16, "unknown opcode, or an operation this build does not implement")                    \
  X(misaligned, 17, "an address that must be aligned is not")                                              \
  X(not_allocated, 18, "freeing what is not allocated")                                                    \
  X(revoked, 19, "the object was revoked by a holder of MANAGE")                                           \
  X(limit_reached, 20, "a limit of the object (queue depth, chain length, ring size) would be exceeded")     \
  X(address_in_use, 21, "the address is bound already (a listener on that port)")                         \
  X(connection_refused, 22, "nobody listens at the address, or it refused the connection")                \
  X(connection_reset, 23, "the connection broke: the peer reset it, or the network failed")              \
  X(io_error, 24, "the device or the host failed the transfer")                                          \
  X(no_space, 25, "the file system or device is full")

enum class Status : std::int32_t {
#define PLATYPOS_ABI_STATUS_ENUM(name, value, meaning) name = value,
  PLATYPOS_ABI_STATUSES(PLATYPOS_ABI_STATUS_ENUM)
#undef PLATYPOS_ABI_STATUS_ENUM
};

namespace detail {
inline constexpr const char* kStatusNames[] = {
#define PLATYPOS_ABI_STATUS_NAME(name, value, meaning) #name,
    PLATYPOS_ABI_STATUSES(PLATYPOS_ABI_STATUS_NAME)
#undef PLATYPOS_ABI_STATUS_NAME
};
inline constexpr std::int32_t kStatusValues[] = {
#define PLATYPOS_ABI_STATUS_VALUE(name, value, meaning) value,
    PLATYPOS_ABI_STATUSES(PLATYPOS_ABI_STATUS_VALUE)
#undef PLATYPOS_ABI_STATUS_VALUE
};
consteval bool statuses_dense() {
  for (std::int32_t i = 0; i < static_cast<std::int32_t>(sizeof(kStatusValues) / sizeof(kStatusValues[0])); ++i)
    if (kStatusValues[i] != i) return false;
  return true;
}
static_assert(statuses_dense(), "status values are 0, 1, 2, ... in order");
}  // namespace detail

inline constexpr std::int32_t kStatusCount = sizeof(detail::kStatusValues) / sizeof(detail::kStatusValues[0]);

constexpr std::int64_t error_result(Status s) { return -static_cast<std::int64_t>(s); }
constexpr bool is_error(std::int64_t result) { return result < 0; }
constexpr Status status_of(std::int64_t result) { return result < 0 ? static_cast<Status>(-result) : Status::ok; }
constexpr const char* status_name(Status s) {
  const auto v = static_cast<std::int32_t>(s);
  return v >= 0 && v < kStatusCount ? detail::kStatusNames[v] : "unknown_status";
}

}  // namespace platypos::abi
