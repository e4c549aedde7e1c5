#pragma once
// Readable text: a summary (what the trace holds), and the records per CPU in time order with the task that made
// each one, nested spans indented, span durations at their ends, flows followed to their other end, and drops
// where the drain worker noticed them.
//
//   === cpu 2: 4012 records, 0 dropped ===
//   [0.000020100] loadgen#3         sched_wake task=worker#5 (web) flow=0x... -> cpu 2 +0.4 us
//   [0.000020500] worker#5 (web)    sched_switch from=idle to=worker#5 (web) flow=0x... <- cpu 0 0.4 us earlier
//   [0.000031000] worker#5 (web)    irq_enter vector=32 pc=0x0
//   [0.000031002] worker#5 (web)      sched_timer late_ns=0
//   [0.000031010] worker#5 (web)    irq_exit vector=32 (10 ns)

#include <ostream>

#include "output.hpp"

namespace platypos::tracetool {

void write_summary(std::ostream& out, const Output& o);
void write_text(std::ostream& out, const Output& o);

}  // namespace platypos::tracetool
