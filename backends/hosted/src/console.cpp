#include "cpu_state.hpp"

#include <platypos/base/log.hpp>
#include <platypos/hosted/console.hpp>
#include <platypos/hosted/sim_machine.hpp>

#include <spdlog/sinks/stdout_sinks.h>

#include <cstdio>

namespace platypos::hosted {

spdlog::logger& console_logger() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = std::make_shared<spdlog::logger>("console", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_pattern("%v");
    l->set_level(spdlog::level::trace);
    l->flush_on(spdlog::level::warn);
    return l;
  }();
  return *logger;
}

void emit_console_line(const std::string& line) {
  spdlog::level::level_enum level = spdlog::level::info;
  std::string_view text = line;
  if (text.size() >= 2 && text[0] == kLogMarker && text[1] >= '0' && text[1] <= '4') {
    static constexpr spdlog::level::level_enum kLevels[] = {
        spdlog::level::trace, spdlog::level::debug, spdlog::level::info, spdlog::level::warn, spdlog::level::err};
    level = kLevels[text[1] - '0'];
    text.remove_prefix(2);
  }
  spdlog::logger& log = console_logger();
  if (!log.should_log(level)) return;
  if (g_sim != nullptr) {
    const u64 t = g_sim->now();
    char prefix[48];
    std::snprintf(prefix, sizeof prefix, "[%4llu.%09llu cpu %2u] ", static_cast<unsigned long long>(t / 1'000'000'000),
                  static_cast<unsigned long long>(t % 1'000'000'000), static_cast<unsigned>(t_cpu_id));
    log.log(level, "{}{}", prefix, text);
  } else {
    log.log(level, "{}", text);
  }
}

}  // namespace platypos::hosted
