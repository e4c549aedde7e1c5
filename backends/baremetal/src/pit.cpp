#include "pit.hpp"

#include <platypos/baremetal/io.hpp>

namespace platypos::baremetal::pit {
namespace {

constexpr u16 kChannel2 = 0x42;
constexpr u16 kCommand = 0x43;
constexpr u16 kPortB = 0x61;  // bit 0: channel 2 gate, bit 1: speaker data enable, bit 5: channel 2 output

constexpr u8 kChannel2Mode0LoHi = 0xb0;  // channel 2, access low then high byte, mode 0, binary

}  // namespace

void start_countdown(u16 ticks) {
  outb(kPortB, static_cast<u8>((inb(kPortB) & ~0x02) | 0x01));  // gate on, speaker off
  outb(kCommand, kChannel2Mode0LoHi);                           // mode 0: output low until the count runs out
  outb(kChannel2, static_cast<u8>(ticks & 0xff));
  outb(kChannel2, static_cast<u8>(ticks >> 8));  // counting starts with the high byte
}

bool countdown_expired() { return (inb(kPortB) & 0x20) != 0; }

}  // namespace platypos::baremetal::pit
