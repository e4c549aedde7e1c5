// The freestanding runtime: the few C library functions the compiler may call on its own (struct copies, zeroing,
// comparisons). Everything else core/ needs, it has to carry itself. Linked into the kernel and into the
// freestanding link check; never into hosted programs (which use libc's).
//
// Built with -fno-builtin and -fno-tree-loop-distribute-patterns, so these loops are not turned back into calls to
// themselves.

#include <platypos/base/types.hpp>

using platypos::u8;
using platypos::usize;

extern "C" {

void* memcpy(void* __restrict dst, const void* __restrict src, usize n) {
  auto* d = static_cast<u8*>(dst);
  const auto* s = static_cast<const u8*>(src);
  asm volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
  return dst;
}

void* memmove(void* dst, const void* src, usize n) {
  auto* d = static_cast<u8*>(dst);
  const auto* s = static_cast<const u8*>(src);
  if (d == s || n == 0) return dst;
  if (d < s || d >= s + n) return memcpy(dst, src, n);
  // Overlapping with dst after src: copy backwards.
  for (usize i = n; i > 0; --i) d[i - 1] = s[i - 1];
  return dst;
}

void* memset(void* dst, int c, usize n) {
  auto* d = static_cast<u8*>(dst);
  asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(static_cast<u8>(c)) : "memory");
  return dst;
}

int memcmp(const void* a, const void* b, usize n) {
  const auto* x = static_cast<const u8*>(a);
  const auto* y = static_cast<const u8*>(b);
  for (usize i = 0; i < n; ++i) {
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  }
  return 0;
}

usize strlen(const char* s) {
  usize n = 0;
  while (s[n] != '\0') ++n;
  return n;
}

}  // extern "C"
