#pragma once
// Kernel messages on the platform console: print("cpu {} up\n", id). Streams through a small stack buffer, so any
// length works and nothing is allocated. Lines from different CPUs may interleave at buffer boundaries (the
// console is not locked: printing must work inside a panic and from interrupt handlers).

#include <platypos/base/format.hpp>

namespace platypos {

void vprint(const char* fmt, const FormatArg* args, usize count);

template <class... Args>
void print(const char* fmt, const Args&... args) {
  const FormatArg arr[sizeof...(Args) + 1] = {FormatArg(args)..., FormatArg(0)};
  vprint(fmt, arr, sizeof...(Args));
}

// A FormatSink that writes straight to the console (unbuffered).
FormatSink console_sink();

}  // namespace platypos
