#pragma once
// A per-CPU timeline as a gnuplot script (gnuplot-nox renders it to a PNG without a display):
//
//   platypos-trace run.trace --format gnuplot --from 20ms --to 22ms --png timeline.png -o timeline.gp
//   gnuplot timeline.gp
//
// One lane per CPU (cpu 0 on top); a box per task run, coloured by task name (and process, when the trace names
// it), with a legend; span pieces (interrupts, drain passes) as a thin red band at the top of the lane; flows as
// arrows from the wake-up to the run it caused. The same data as the Chrome JSON, for pictures in documents.
// Boxes shorter than about a pixel (1/1600 of the window) are drawn a pixel wide, so short runs stay visible.

#include <ostream>

#include "output.hpp"

namespace platypos::tracetool {

void write_gnuplot(std::ostream& out, const Output& o);

}  // namespace platypos::tracetool
