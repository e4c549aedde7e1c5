#pragma once
// Console output for the example programs. Text handed to the kernel must lie in program memory, so a line is
// formatted into the frame of the coroutine that prints it (frames come from the program's heap), never from a string
// literal or the C stack. One console_write per line: the hosted console keeps whole lines together.
//
//   co_await say(cx, "echo-client: {} requests", n);
//
// Lines longer than kMaxLine are cut (the console refuses writes above 1 KiB anyway).

#include <platypos/abi/status.hpp>
#include <platypos/base/format.hpp>
#include <platypos/user/context.hpp>

#include <cstdint>

namespace platypos::examples {

inline constexpr std::size_t kMaxLine = 240;
using Line = FormatBuffer<kMaxLine>;

// Prints `line` as it is (it must end with '\n' and live in program memory).
inline user::Operation<void> print(user::Context& cx, const Line& line) { return cx.console_write(line.view()); }

// Formats one line (a '\n' is added) and prints it.
template <class... Args>
user::Task<void> say(user::Context& cx, const char* fmt, const Args&... args) {
  Line line;
  line.append(fmt, args...);
  line.append("\n");
  (void)co_await cx.console_write(line.view());
}

// Appends `ns` as microseconds with one decimal ("12.3").
template <std::size_t N>
void append_us(FormatBuffer<N>& b, std::uint64_t ns) {
  const std::uint64_t tenths = (ns + 50) / 100;
  b.append("{}.{}", tenths / 10, tenths % 10);
}

// Appends `ns` as milliseconds with one decimal ("40.1").
template <std::size_t N>
void append_ms(FormatBuffer<N>& b, std::uint64_t ns) {
  const std::uint64_t tenths = (ns + 50'000) / 100'000;
  b.append("{}.{}", tenths / 10, tenths % 10);
}

inline const char* name_of(abi::Status s) { return abi::status_name(s); }

}  // namespace platypos::examples
