#include <platypos/base/fault.hpp>

namespace platypos::fault {

namespace detail {
constinit const Injector* g_injector = nullptr;
}

const char* point_name(Point p) {
  switch (p) {
    case Point::alloc: return "alloc";
    case Point::channel_full: return "channel_full";
    case Point::cq_full: return "cq_full";
    case Point::completion_delay: return "completion_delay";
    case Point::spurious_wakeup: return "spurious_wakeup";
    case Point::kCount: break;
  }
  return "?";
}

void install(const Injector* injector) { detail::g_injector = injector; }

}  // namespace platypos::fault
