#pragma once
// The UARTs: 16550s at COM1 (0x3f8, the console) and COM2 (0x2f8, the trace stream), 115200 8N1, polled (no
// interrupts). QEMU's -serial options connect them to the host, in order: the first to COM1, the second to COM2.
// Writes never lock: printing must work from interrupt handlers and during a panic; text from different CPUs may
// interleave.

#include <platypos/base/types.hpp>

namespace platypos::baremetal::serial {

inline constexpr u16 kCom1 = 0x3f8;
inline constexpr u16 kCom2 = 0x2f8;

// Programs COM1. Called first thing at boot; writing before it works too on QEMU (the firmware set it up).
void init();
// Sends n bytes on COM1, waiting for room in the transmit FIFO.
void write(const char* s, usize n);

// Another port (COM2): programs it and returns true, or returns false when no UART answers at `base` (QEMU
// creates COM2 only when given a second -serial).
bool init_port(u16 base);
// Sends n bytes on that port (binary data: nothing is translated).
void write_port(u16 base, const u8* data, usize n);
// Waits until the port has sent everything (transmit FIFO and shift register empty).
void drain_port(u16 base);

}  // namespace platypos::baremetal::serial
