#include "serial.hpp"

#include <platypos/baremetal/io.hpp>

namespace platypos::baremetal::serial {
namespace {

// Register offsets from the base port.
constexpr u16 kData = 0;          // THR (write) / divisor low (DLAB=1)
constexpr u16 kIntEnable = 1;     // IER / divisor high (DLAB=1)
constexpr u16 kFifoControl = 2;   // FCR
constexpr u16 kLineControl = 3;   // LCR
constexpr u16 kModemControl = 4;  // MCR
constexpr u16 kLineStatus = 5;    // LSR
constexpr u16 kScratch = 7;       // SCR: a byte the UART keeps, nothing else

constexpr u8 kLcrDlab = 0x80;
constexpr u8 kLcr8N1 = 0x03;
constexpr u8 kFcrEnableClear14 = 0xc7;     // enable FIFOs, clear both, receive trigger at 14 bytes
constexpr u8 kMcrDtrRts = 0x03;            // OUT2 stays off: the UART raises no interrupts
constexpr u8 kLsrThrEmpty = 0x20;          // transmit FIFO empty: room for kFifoDepth bytes
constexpr u8 kLsrTransmitterEmpty = 0x40;  // FIFO and shift register empty: everything sent
constexpr usize kFifoDepth = 16;
constexpr u16 kDivisor115200 = 1;

void program(u16 base) {
  outb(base + kIntEnable, 0);
  outb(base + kLineControl, kLcrDlab);
  outb(base + kData, kDivisor115200 & 0xff);
  outb(base + kIntEnable, kDivisor115200 >> 8);
  outb(base + kLineControl, kLcr8N1);
  outb(base + kFifoControl, kFcrEnableClear14);
  outb(base + kModemControl, kMcrDtrRts);
}

void send(u16 base, const u8* s, usize n) {
  // Once the holding register reports empty, the whole FIFO is free: fill it in one go (one status read per 16
  // bytes instead of one per byte, which matters under emulation).
  // `rep outsb` sends the burst in one instruction (an emulator handles it in one exit instead of sixteen).
  while (n > 0) {
    while ((inb(base + kLineStatus) & kLsrThrEmpty) == 0) __builtin_ia32_pause();
    usize burst = n < kFifoDepth ? n : kFifoDepth;
    n -= burst;
    asm volatile("rep outsb" : "+S"(s), "+c"(burst) : "d"(static_cast<u16>(base + kData)) : "memory");
  }
}

}  // namespace

void init() { program(kCom1); }

void write(const char* s, usize n) { send(kCom1, reinterpret_cast<const u8*>(s), n); }

bool init_port(u16 base) {
  // Nothing decodes an absent port's I/O addresses: reads return 0xff. A UART keeps what is written to its scratch
  // register.
  constexpr u8 kProbes[] = {0x5a, 0xa5};
  for (const u8 probe : kProbes) {
    outb(base + kScratch, probe);
    if (inb(base + kScratch) != probe) return false;
  }
  program(base);
  return true;
}

void write_port(u16 base, const u8* data, usize n) { send(base, data, n); }

void drain_port(u16 base) {
  while ((inb(base + kLineStatus) & kLsrTransmitterEmpty) == 0) __builtin_ia32_pause();
}

}  // namespace platypos::baremetal::serial
