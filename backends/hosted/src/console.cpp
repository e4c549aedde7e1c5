#include <platypos/hosted/console.hpp>

#include <spdlog/sinks/stdout_sinks.h>

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

}  // namespace platypos::hosted
