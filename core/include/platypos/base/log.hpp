#pragma once
// Leveled kernel log messages on the console, printk-style: a line starts with "\x01" and the level digit, which the
// console turns into a level (hosted: the spdlog level, so --log-level filters it; bare metal: a "[warn]" tag).
//
//   log_info("cpu {} online", id);
//   log_warn("process {} exceeded its queue limit", name);

#include <platypos/base/format.hpp>

namespace platypos {

enum class LogLevel : u8 { trace = 0, debug = 1, info = 2, warn = 3, error = 4 };
inline constexpr char kLogMarker = '\x01';

const char* log_level_name(LogLevel l);

// Messages below this level are dropped before formatting (a cheap check). Default: info.
void set_log_level(LogLevel l);
LogLevel log_level();

void vlog(LogLevel level, const char* fmt, const FormatArg* args, usize count);

template <class... Args>
void log(LogLevel level, const char* fmt, const Args&... args) {
  if (static_cast<u8>(level) < static_cast<u8>(log_level())) return;
  const FormatArg arr[sizeof...(Args) + 1] = {FormatArg(args)..., FormatArg(0)};
  vlog(level, fmt, arr, sizeof...(Args));
}
template <class... Args>
void log_trace(const char* fmt, const Args&... args) {
  log(LogLevel::trace, fmt, args...);
}
template <class... Args>
void log_debug(const char* fmt, const Args&... args) {
  log(LogLevel::debug, fmt, args...);
}
template <class... Args>
void log_info(const char* fmt, const Args&... args) {
  log(LogLevel::info, fmt, args...);
}
template <class... Args>
void log_warn(const char* fmt, const Args&... args) {
  log(LogLevel::warn, fmt, args...);
}
template <class... Args>
void log_error(const char* fmt, const Args&... args) {
  log(LogLevel::error, fmt, args...);
}

}  // namespace platypos
