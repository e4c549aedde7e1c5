#pragma once
// The Platform's console on bare metal: text to the COM1 UART, with the log level markers of base/log.hpp turned
// into tags. A line that starts with "\x01" and a level digit is printed with "[trace] ", "[debug] ", "[warn] " or
// "[error] " in front (info lines plainly), so a log filter on the host side (or a reader) can tell them apart.
//
// Keeps one piece of state, whether the next byte starts a line, since a marker may arrive split across writes.
// Not locked, like the UART underneath: printing must work in interrupt handlers and panics.

#include <platypos/base/types.hpp>

namespace platypos::baremetal::console {

void write(const char* s, usize n);

}  // namespace platypos::baremetal::console
