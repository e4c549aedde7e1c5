// Frame-pointer backtraces (everything is built with -fno-omit-frame-pointer): each frame starts with the caller's
// rbp, then the return address. The walk stops at rbp == 0 (boot.S and the context trampoline start chains with
// it), at a frame that is not 8-byte aligned or not mapped (a corrupt chain must not fault inside a panic), at a
// return address outside the kernel's code, and after `max` frames (a cyclic chain). Frames on different stacks
// (an IST stack, the interrupted stack under it) are fine: trap_entry.S links them with a fake frame.

#include <platypos/baremetal/paging.hpp>
#include <platypos/platform.hpp>

namespace platypos::baremetal {
namespace {

bool readable(uptr frame) {
  if (frame == 0 || (frame & 7) != 0 || frame < paging::kDirectMapBase) return false;
  // The two words may straddle a page boundary only when frame is the last word of a page.
  return paging::translate(frame).has_value() && paging::translate(frame + 8).has_value();
}

}  // namespace

usize BaremetalPlatform::backtrace(uptr* pcs, usize max) {
  // Start with this function's frame: its return address is the caller's pc (the first entry, as on hosted).
  auto frame = reinterpret_cast<uptr>(__builtin_frame_address(0));
  usize n = 0;
  while (n < max && readable(frame)) {
    const auto* words = reinterpret_cast<const uptr*>(frame);
    const uptr next = words[0];
    const uptr ret = words[1];
    if (!paging::in_kernel_text(ret)) break;
    pcs[n++] = ret;
    frame = next;
  }
  return n;
}

// The kernel carries no symbol table: the host symbolizes (the QEMU runner, tools/qemu, names every address of a
// backtrace from the kernel ELF; gdb reads the same file).
bool BaremetalPlatform::symbolize(uptr, char*, usize) { return false; }

}  // namespace platypos::baremetal
