#pragma once
// Channel helpers for servers that read messages from clients they do not trust.

#include <platypos/abi/ops.hpp>
#include <platypos/user/context.hpp>

namespace platypos::examples {

// Takes off `ch` a message that did not fit (a read failed with buffer_too_small and filled `needed`): reads it into
// scratch memory of the sizes `needed` gives and closes every handle it carried. Left in place it would block the
// channel for good. Gives the status of that read.
inline user::Task<user::Status> discard_message(user::Context& cx, user::Handle ch, abi::ReadNeeded needed) {
  const std::uint64_t bytes = needed.bytes == 0 ? 1 : needed.bytes;
  const std::uint64_t handle_bytes = (needed.handles == 0 ? 1 : needed.handles) * sizeof(user::Handle);
  char* data = static_cast<char*>(cx.heap().alloc(bytes));
  auto* handles = static_cast<user::Handle*>(cx.heap().alloc(handle_bytes));
  if (data == nullptr || handles == nullptr) cx.fatal("discard_message: out of program memory");
  auto r = co_await cx.read(ch, {data, needed.bytes}, {handles, needed.handles});
  if (r) {
    for (std::uint32_t i = 0; i < r->handles; ++i) (void)co_await cx.close(handles[i]);
  }
  cx.heap().free(data, bytes);
  cx.heap().free(handles, handle_bytes);
  co_return r.status();
}

}  // namespace platypos::examples
