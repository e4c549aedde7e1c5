#include <platypos/base/error.hpp>

namespace platypos {

const char* error_name(Error e) {
  switch (e) {
    case Error::none: return "none";
    case Error::no_memory: return "no_memory";
    case Error::invalid_argument: return "invalid_argument";
    case Error::bad_handle: return "bad_handle";
    case Error::access_denied: return "access_denied";
    case Error::would_block: return "would_block";
    case Error::peer_closed: return "peer_closed";
    case Error::cancelled: return "cancelled";
    case Error::no_resources: return "no_resources";
    case Error::out_of_range: return "out_of_range";
    case Error::not_found: return "not_found";
    case Error::already_exists: return "already_exists";
    case Error::bad_state: return "bad_state";
    case Error::wrong_type: return "wrong_type";
    case Error::buffer_too_small: return "buffer_too_small";
    case Error::timed_out: return "timed_out";
    case Error::not_supported: return "not_supported";
    case Error::misaligned: return "misaligned";
    case Error::not_allocated: return "not_allocated";
    case Error::revoked: return "revoked";
    case Error::limit_reached: return "limit_reached";
  }
  return "unknown_error";
}

}  // namespace platypos
