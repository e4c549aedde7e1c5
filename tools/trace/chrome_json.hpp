#pragma once
// Chrome trace-event JSON (the "JSON Object Format"), which ui.perfetto.dev and chrome://tracing open:
//
//   one process ("PlatypOS"), one track (thread) per CPU, named "cpu N" and sorted by number
//   X  complete events: a slice per task run (named after the task), and inside it one per span piece
//      (interrupts, drain passes), parents before children
//   i  instant events on the CPU's track for the other events, and for drops ("dropped N records")
//   s/f flow events for every flow (flow_begin -> flow_end arguments): the start binds to the slice around it, the
//      end to the next slice that begins on its track, which is the woken task's run (the end is written at that
//      run's first nanosecond)
//
// Timestamps are microseconds since the trace's start, with nanosecond decimals; every event is written in time
// order. The arguments of each record become the event's args (hex strings for hex/flow values, code addresses
// with their symbol).

#include <ostream>

#include "output.hpp"

namespace platypos::tracetool {

void write_chrome_json(std::ostream& out, const Output& o);

}  // namespace platypos::tracetool
