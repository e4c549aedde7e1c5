#pragma once
// The hosted console: the Platform's console_write goes, a line at a time, to an spdlog logger named "console" on
// stderr (like any log; program results go to stdout). Lines that core logged with a level (base/log.hpp) keep it,
// so the logger's level filters them; plain console text is "info".
//
// In sim mode every line is prefixed with the virtual time and the simulated CPU instead of anything from the wall
// clock, so a run's log is identical for the same seed:   [   0.012345678 cpu 3] message

#include <spdlog/logger.h>

#include <string>

namespace platypos::hosted {

spdlog::logger& console_logger();

// Hands one complete console line to the logger (level marker parsed, sim prefix added).
void emit_console_line(const std::string& line);

// Process exit status of a hosted run that panicked (EX_SOFTWARE). Success is 0, failure 1.
inline constexpr int kPanicExitCode = 70;

}  // namespace platypos::hosted
