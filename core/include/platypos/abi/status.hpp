#pragma once
// Status codes a program sees in a completion: a non-negative result, or the negative of one of these. They are the
// kernel's Error values (core/include/platypos/base/error.hpp), fixed here as the ABI so that programs need no kernel
// headers; ring_abi_test checks that the two agree.

#include <cstdint>

namespace platypos::abi {

enum class Status : std::int32_t {
  ok = 0,
  no_memory = 1,
  invalid_argument = 2,
  bad_handle = 3,
  access_denied = 4,
  would_block = 5,
  peer_closed = 6,
  cancelled = 7,
  no_resources = 8,
  out_of_range = 9,
  not_found = 10,
  already_exists = 11,
  bad_state = 12,
  wrong_type = 13,
  buffer_too_small = 14,
  timed_out = 15,
  not_supported = 16,
  misaligned = 17,
  not_allocated = 18,
  revoked = 19,
  limit_reached = 20,
};

constexpr std::int64_t error_result(Status s) { return -static_cast<std::int64_t>(s); }
constexpr bool is_error(std::int64_t result) { return result < 0; }
constexpr Status status_of(std::int64_t result) { return result < 0 ? static_cast<Status>(-result) : Status::ok; }
const char* status_name(Status s);

}  // namespace platypos::abi
