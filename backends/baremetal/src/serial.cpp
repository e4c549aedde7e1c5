#include "serial.hpp"

#include <platypos/baremetal/io.hpp>

namespace platypos::baremetal::serial {
namespace {

constexpr u16 kCom1 = 0x3f8;
// Register offsets from the base port.
constexpr u16 kData = 0;          // THR (write) / divisor low (DLAB=1)
constexpr u16 kIntEnable = 1;     // IER / divisor high (DLAB=1)
constexpr u16 kFifoControl = 2;   // FCR
constexpr u16 kLineControl = 3;   // LCR
constexpr u16 kModemControl = 4;  // MCR
constexpr u16 kLineStatus = 5;    // LSR

constexpr u8 kLcrDlab = 0x80;
constexpr u8 kLcr8N1 = 0x03;
constexpr u8 kFcrEnableClear14 = 0xc7;  // enable FIFOs, clear both, receive trigger at 14 bytes
constexpr u8 kMcrDtrRts = 0x03;         // OUT2 stays off: the UART raises no interrupts
constexpr u8 kLsrThrEmpty = 0x20;       // transmit FIFO empty: room for kFifoDepth bytes
constexpr usize kFifoDepth = 16;
constexpr u16 kDivisor115200 = 1;

}  // namespace

void init() {
  outb(kCom1 + kIntEnable, 0);
  outb(kCom1 + kLineControl, kLcrDlab);
  outb(kCom1 + kData, kDivisor115200 & 0xff);
  outb(kCom1 + kIntEnable, kDivisor115200 >> 8);
  outb(kCom1 + kLineControl, kLcr8N1);
  outb(kCom1 + kFifoControl, kFcrEnableClear14);
  outb(kCom1 + kModemControl, kMcrDtrRts);
}

void write(const char* s, usize n) {
  // Once the holding register reports empty, the whole FIFO is free: fill it in one go (one status read per 16
  // bytes instead of one per byte, which matters under emulation).
  usize i = 0;
  while (i < n) {
    while ((inb(kCom1 + kLineStatus) & kLsrThrEmpty) == 0) __builtin_ia32_pause();
    for (usize k = 0; k < kFifoDepth && i < n; ++k, ++i) outb(kCom1 + kData, static_cast<u8>(s[i]));
  }
}

}  // namespace platypos::baremetal::serial
