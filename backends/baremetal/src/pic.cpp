#include "pic.hpp"

#include <platypos/baremetal/io.hpp>
#include <platypos/baremetal/vectors.hpp>
#include <platypos/base/assert.hpp>

namespace platypos::baremetal::pic {
namespace {

constexpr u16 kMasterCommand = 0x20;
constexpr u16 kMasterData = 0x21;
constexpr u16 kSlaveCommand = 0xa0;
constexpr u16 kSlaveData = 0xa1;

constexpr u8 kIcw1Init = 0x11;  // initialize, ICW4 follows, cascade mode, edge triggered
constexpr u8 kIcw48086 = 0x01;
constexpr u8 kOcw3ReadIsr = 0x0b;
constexpr u8 kEoi = 0x20;

u8 in_service(u16 command_port) {
  outb(command_port, kOcw3ReadIsr);
  return inb(command_port);
}

}  // namespace

void remap_and_mask() {
  outb(kMasterCommand, kIcw1Init);
  io_wait();
  outb(kSlaveCommand, kIcw1Init);
  io_wait();
  outb(kMasterData, kVectorPicBase);  // ICW2: vector base
  io_wait();
  outb(kSlaveData, kVectorPicBase + 8);
  io_wait();
  outb(kMasterData, 1 << 2);  // ICW3: the slave hangs on the master's IRQ 2
  io_wait();
  outb(kSlaveData, 2);  // ICW3: the slave's cascade identity
  io_wait();
  outb(kMasterData, kIcw48086);
  io_wait();
  outb(kSlaveData, kIcw48086);
  io_wait();
  outb(kMasterData, 0xff);
  outb(kSlaveData, 0xff);
}

void on_interrupt(u8 irq) {
  const bool slave = irq >= 8;
  const u8 line = irq & 7;
  if (line == 7 && (in_service(slave ? kSlaveCommand : kMasterCommand) & (1u << 7)) == 0) {
    // Spurious: the request went away before the CPU acknowledged it. Not in service, so no EOI to the PIC that
    // raised it; but a spurious IRQ 15 came through the master's cascade line, which did see a real request.
    if (slave) outb(kMasterCommand, kEoi);
    return;
  }
  PLATYPOS_PANIC("legacy PIC IRQ {} arrived although every PIC line is masked", irq);
}

}  // namespace platypos::baremetal::pic
