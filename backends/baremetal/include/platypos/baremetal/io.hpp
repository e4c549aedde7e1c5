#pragma once
// x86 port I/O.

#include <platypos/base/types.hpp>

namespace platypos::baremetal {

inline void outb(u16 port, u8 v) { asm volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
inline u8 inb(u16 port) {
  u8 v;
  asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
inline void outl(u16 port, u32 v) { asm volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }

// A short delay for legacy devices (the 8259 PIC) that need time between writes: port 0x80 is the POST diagnostic
// port, which nothing listens to.
inline void io_wait() { outb(0x80, 0); }

}  // namespace platypos::baremetal
