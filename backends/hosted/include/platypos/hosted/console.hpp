#pragma once
// The hosted console: the Platform's console_write goes, a line at a time, to an spdlog logger named "console"
// (stderr, like any log; pattern "%v" by default: kernel text as it is). Hosted programs may change its sinks or
// pattern (the simulator prefixes virtual time and CPU).

#include <spdlog/logger.h>

namespace platypos::hosted {

spdlog::logger& console_logger();

// Process exit status of a hosted run that panicked (EX_SOFTWARE). Success is 0, failure 1.
inline constexpr int kPanicExitCode = 70;

}  // namespace platypos::hosted
