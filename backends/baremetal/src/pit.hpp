#pragma once
// The 8254 PIT, used only as a reference clock to calibrate the TSC and the local APIC timer: channel 2 counts down
// once (mode 0) with its gate enabled through port 0x61 (speaker output off), and port 0x61 bit 5 shows its output,
// which goes high when the count runs out. No interrupts.

#include <platypos/base/types.hpp>

namespace platypos::baremetal::pit {

inline constexpr u64 kFrequencyHz = 1193182;

// Starts a one-shot countdown of `ticks` PIT ticks (ticks / kFrequencyHz seconds).
void start_countdown(u16 ticks);

// True once the countdown started by start_countdown() has run out.
bool countdown_expired();

}  // namespace platypos::baremetal::pit
