#pragma once
// The legacy 8259 PIC pair. The kernel uses the local APIC; the PICs are remapped away from the exception vectors
// (to kVectorPicBase..+15) and every line masked, so nothing reaches the CPU through them except their spurious
// IRQ 7/15, which they can raise even when masked.

#include <platypos/base/types.hpp>

namespace platypos::baremetal::pic {

inline constexpr u8 kIrqCount = 16;

void remap_and_mask();

// A PIC vector arrived (irq = vector - kVectorPicBase). Spurious IRQ 7/15 are dropped; anything else is a bug
// (all lines are masked) and panics.
void on_interrupt(u8 irq);

}  // namespace platypos::baremetal::pic
