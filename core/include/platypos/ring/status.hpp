#pragma once
// The boundary's one translation of errors: every kernel Error to the abi::Status a program sees. The table has a row
// per Error, in order, and the static_assert below fails the build when an Error is added without a row, so no
// kernel code ever puts its own error value into a completion.

#include <platypos/abi/status.hpp>
#include <platypos/base/error.hpp>

namespace platypos::ring {

struct ErrorStatus {
  Error error;
  abi::Status status;
};

inline constexpr ErrorStatus kErrorStatus[] = {
    {Error::none, abi::Status::ok},  // never in a failed Result; a completion with it would read as success
    {Error::no_memory, abi::Status::no_memory},
    {Error::invalid_argument, abi::Status::invalid_argument},
    {Error::bad_handle, abi::Status::bad_handle},
    {Error::access_denied, abi::Status::access_denied},
    {Error::would_block, abi::Status::would_block},
    {Error::peer_closed, abi::Status::peer_closed},
    {Error::cancelled, abi::Status::cancelled},
    {Error::no_resources, abi::Status::no_resources},
    {Error::out_of_range, abi::Status::out_of_range},
    {Error::not_found, abi::Status::not_found},
    {Error::already_exists, abi::Status::already_exists},
    {Error::bad_state, abi::Status::bad_state},
    {Error::wrong_type, abi::Status::wrong_type},
    {Error::buffer_too_small, abi::Status::buffer_too_small},
    {Error::timed_out, abi::Status::timed_out},
    {Error::not_supported, abi::Status::not_supported},
    {Error::misaligned, abi::Status::misaligned},
    {Error::not_allocated, abi::Status::not_allocated},
    {Error::revoked, abi::Status::revoked},
    {Error::limit_reached, abi::Status::limit_reached},
    {Error::address_in_use, abi::Status::address_in_use},
    {Error::connection_refused, abi::Status::connection_refused},
    {Error::connection_reset, abi::Status::connection_reset},
    {Error::io_error, abi::Status::io_error},
    {Error::no_space, abi::Status::no_space},
};

namespace detail {
consteval bool error_status_complete() {
  if (sizeof(kErrorStatus) / sizeof(kErrorStatus[0]) != kErrorCount) return false;
  for (u16 i = 0; i < kErrorCount; ++i) {
    if (static_cast<u16>(kErrorStatus[i].error) != i) return false;
    const auto s = static_cast<i32>(kErrorStatus[i].status);
    if (s < 0 || s >= abi::kStatusCount) return false;
    if ((i == 0) != (kErrorStatus[i].status == abi::Status::ok)) return false;  // only `none` is success
  }
  return true;
}
static_assert(error_status_complete(), "kErrorStatus: one row per Error, in order, each to a real failure status");
}  // namespace detail

constexpr abi::Status to_status(Error e) {
  const auto v = static_cast<u16>(e);
  return v < kErrorCount ? kErrorStatus[v].status : abi::Status::invalid_argument;
}
// The completion result for a failed operation.
constexpr i64 error_result(Error e) { return abi::error_result(to_status(e)); }

}  // namespace platypos::ring
