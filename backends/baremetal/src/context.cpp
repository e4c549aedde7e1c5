#include <platypos/base/assert.hpp>
#include <platypos/platform.hpp>

extern "C" void platypos_context_switch(platypos::uptr* save_rsp, platypos::uptr new_rsp);
extern "C" void platypos_context_trampoline();

extern "C" [[noreturn]] void platypos_context_returned(void* entry) {
  PLATYPOS_PANIC("context entry {} returned; a context must switch away for good instead", entry);
}

namespace platypos::baremetal {

void BaremetalPlatform::context_init(Context& ctx, void* stack, usize size, ContextEntry entry, void* arg) {
  PLATYPOS_ASSERT(stack != nullptr && size >= 1024, "context stack too small: {} bytes", size);
  auto top = (reinterpret_cast<uptr>(stack) + size) & ~uptr{15};
  auto* sp = reinterpret_cast<uptr*>(top);
  // After the six pops and the ret into the trampoline, rsp == top: 16-byte aligned just before the trampoline's
  // call into the entry, as the System V ABI requires.
  *--sp = reinterpret_cast<uptr>(&platypos_context_trampoline);  // ret target
  *--sp = 0;                                                     // rbp
  *--sp = 0;                                                     // rbx
  *--sp = reinterpret_cast<uptr>(entry);                         // r12
  *--sp = reinterpret_cast<uptr>(arg);                           // r13
  *--sp = 0;                                                     // r14
  *--sp = 0;                                                     // r15
  ctx.rsp = reinterpret_cast<uptr>(sp);
}

void BaremetalPlatform::context_switch(Context& from, Context& to) {
  PLATYPOS_ASSERT(to.rsp != 0, "switching to a context that is running or was never initialized");
  const uptr target = to.rsp;
  to.rsp = 0;
  platypos_context_switch(&from.rsp, target);
}

}  // namespace platypos::baremetal
