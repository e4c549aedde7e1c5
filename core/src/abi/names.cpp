#include <platypos/abi/ops.hpp>
#include <platypos/abi/status.hpp>

namespace platypos::abi {

const char* status_name(Status s) {
  switch (s) {
    case Status::ok: return "ok";
    case Status::no_memory: return "no_memory";
    case Status::invalid_argument: return "invalid_argument";
    case Status::bad_handle: return "bad_handle";
    case Status::access_denied: return "access_denied";
    case Status::would_block: return "would_block";
    case Status::peer_closed: return "peer_closed";
    case Status::cancelled: return "cancelled";
    case Status::no_resources: return "no_resources";
    case Status::out_of_range: return "out_of_range";
    case Status::not_found: return "not_found";
    case Status::already_exists: return "already_exists";
    case Status::bad_state: return "bad_state";
    case Status::wrong_type: return "wrong_type";
    case Status::buffer_too_small: return "buffer_too_small";
    case Status::timed_out: return "timed_out";
    case Status::not_supported: return "not_supported";
    case Status::misaligned: return "misaligned";
    case Status::not_allocated: return "not_allocated";
    case Status::revoked: return "revoked";
    case Status::limit_reached: return "limit_reached";
  }
  return "unknown_status";
}

const char* op_name(Op op) {
  switch (op) {
    case Op::nop: return "nop";
    case Op::channel_create: return "channel_create";
    case Op::channel_write: return "channel_write";
    case Op::channel_read: return "channel_read";
    case Op::handle_duplicate: return "handle_duplicate";
    case Op::handle_close: return "handle_close";
    case Op::wait: return "wait";
    case Op::timeout: return "timeout";
    case Op::log_write: return "log_write";
    case Op::process_spawn: return "process_spawn";
    case Op::process_exit: return "process_exit";
    case Op::memory_create: return "memory_create";
    case Op::memory_read: return "memory_read";
    case Op::memory_write: return "memory_write";
    case Op::log_create: return "log_create";
    case Op::log_read: return "log_read";
    case Op::ref_create: return "ref_create";
    case Op::ref_resolve: return "ref_resolve";
    case Op::console_write: return "console_write";
  }
  return "unknown_op";
}

}  // namespace platypos::abi
