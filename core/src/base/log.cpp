#include <platypos/base/log.hpp>
#include <platypos/base/print.hpp>

#include <atomic>

namespace platypos {
namespace {
constinit std::atomic<u8> g_level{static_cast<u8>(LogLevel::info)};
}

const char* log_level_name(LogLevel l) {
  switch (l) {
    case LogLevel::trace: return "trace";
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
  }
  return "?";
}

void set_log_level(LogLevel l) { g_level.store(static_cast<u8>(l), std::memory_order_relaxed); }
LogLevel log_level() { return static_cast<LogLevel>(g_level.load(std::memory_order_relaxed)); }

void vlog(LogLevel level, const char* fmt, const FormatArg* args, usize count) {
  // One print call per line: the marker, the message and the newline reach the console together.
  FormatBuffer<512> line;
  const char marker[3] = {kLogMarker, static_cast<char>('0' + static_cast<u8>(level)), '\0'};
  line.append("{}", static_cast<const char*>(marker));
  struct Ctx {
    FormatBuffer<512>* b;
  } ctx{&line};
  vformat(FormatSink(
              [](void* c, const char* d, usize n) {
                auto* b = static_cast<Ctx*>(c)->b;
                b->append("{}", std::string_view(d, n));
              },
              &ctx),
          fmt, args, count);
  line.append("\n");
  print("{}", line.view());
}

}  // namespace platypos
