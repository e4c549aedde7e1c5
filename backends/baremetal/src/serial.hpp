#pragma once
// The console: a 16550 UART on COM1 (0x3f8), 115200 8N1, polled (no interrupts). QEMU's -serial connects it to the
// host. Writes never lock: printing must work from interrupt handlers and during a panic; text from different CPUs
// may interleave.

#include <platypos/base/types.hpp>

namespace platypos::baremetal::serial {

// Programs the UART. Called first thing at boot; writing before it works too on QEMU (the firmware set it up).
void init();

// Sends n bytes, waiting for room in the transmit FIFO.
void write(const char* s, usize n);

}  // namespace platypos::baremetal::serial
