#pragma once
// Copies that touch program memory: a program's other cores may be reading or rewriting it at the same moment (the
// threat the ring's copy-in rule answers, ring/user_memory.hpp). Such races are by design, so they are not what a
// data-race detector should judge: copy_program_memory() is left out of ThreadSanitizer's instrumentation, and
// copies with volatile accesses (a word at a time when everything is 8-byte aligned, as entries are) so that the
// compiler can neither call an instrumented memcpy for it nor read a byte twice. Every copy between kernel and
// program memory goes through it: entries, handle arrays and texts in (ring/), completions out, and the payloads
// that channels, log namespaces and memory objects carry (cap/).

#include <platypos/base/types.hpp>

namespace platypos {

// Keeps the compiler from reading program memory again in place of a copy it already made (it must assume the
// memory changed): what READ_ONCE is for in Linux.
inline void program_memory_barrier() { asm volatile("" ::: "memory"); }

// Copies n bytes between kernel and program memory (either way), each source byte read exactly once.
__attribute__((no_sanitize("thread"))) inline void copy_program_memory(void* dst, const void* src, u64 n) {
  const auto d = reinterpret_cast<uptr>(dst);
  const auto s = reinterpret_cast<uptr>(src);
  if (((d | s | n) & 7) == 0) {
    auto* dw = reinterpret_cast<volatile u64*>(d);
    const auto* sw = reinterpret_cast<const volatile u64*>(s);
    for (u64 i = 0; i < n / 8; ++i) dw[i] = sw[i];
  } else {
    auto* db = reinterpret_cast<volatile u8*>(d);
    const auto* sb = reinterpret_cast<const volatile u8*>(s);
    for (u64 i = 0; i < n; ++i) db[i] = sb[i];
  }
  program_memory_barrier();
}

}  // namespace platypos
