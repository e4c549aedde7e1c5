#pragma once
// Channel helpers for servers that read messages from clients they do not trust.

#include <platypos/abi/ops.hpp>
#include <platypos/user/context.hpp>

#include <cstdint>
#include <span>

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

// Writes like Context::write, except that a full queue (limit_reached: the reader is behind, for now) is waited out:
// the write is retried after a pause that doubles from 1 us to 1 ms, for up to `patience_ns` in all. Any other
// status comes back at once. A failed write moved no handle: they are still the caller's, for the retry too.
inline user::Task<user::Status> write_patiently(user::Context& cx, user::Handle ch, std::span<const char> bytes,
                                                std::span<const user::Handle> handles = {},
                                                std::uint64_t patience_ns = 100'000'000) {
  std::uint64_t waited = 0, pause = 1'000;
  for (;;) {
    // Bound to a local first: GCC 12.2 miscompiles `if (!co_await ...)` inside an endless loop (core/user/README.md).
    const auto w = co_await cx.write(ch, bytes, handles);
    const user::Status st = w.status();
    if (st != user::Status::limit_reached || waited >= patience_ns) co_return st;
    (void)co_await cx.sleep(pause);
    waited += pause;
    pause = pause < 1'000'000 ? pause * 2 : pause;
  }
}

}  // namespace platypos::examples
