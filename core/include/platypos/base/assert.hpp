#pragma once
// Panics and assertions. A broken invariant is a bug: it stops the machine with a message, file:line and a
// backtrace, printed on the platform's console. Never used for bad input from user space (that gets an Error).
//
//   PLATYPOS_ASSERT(order <= kMaxOrder, "order {} out of range", order);
//   PLATYPOS_PANIC("unreachable: state {}", state);
//
// Assertions are always compiled in (kernel asserts guard memory safety; NDEBUG does not remove them).

#include <platypos/base/format.hpp>

namespace platypos {

// `caller` is the return address into the function that panicked: the backtrace starts there, leaving out the
// panic machinery's own frames.
[[noreturn]] void panic_impl(const char* file, int line, uptr caller, const char* fmt, const FormatArg* args,
                             usize count);

template <class... Args>
[[noreturn, gnu::cold, gnu::noinline]] void panic_at(const char* file, int line, const char* fmt, const Args&... args) {
  const FormatArg arr[sizeof...(Args) + 1] = {FormatArg(args)..., FormatArg(0)};
  panic_impl(file, line, reinterpret_cast<uptr>(__builtin_return_address(0)), fmt, arr, sizeof...(Args));
}

namespace detail {
[[noreturn]] void assert_failed_impl(const char* file, int line, uptr caller, const char* cond, const char* fmt,
                                     const FormatArg* args, usize count);

template <class... Args>
[[noreturn, gnu::cold, gnu::noinline]] void assert_failed(const char* file, int line, const char* cond, const char* fmt,
                                                          const Args&... args) {
  const FormatArg arr[sizeof...(Args) + 1] = {FormatArg(args)..., FormatArg(0)};
  assert_failed_impl(file, line, reinterpret_cast<uptr>(__builtin_return_address(0)), cond, fmt, arr, sizeof...(Args));
}
}  // namespace detail

// Called once, on the panicking CPU, after the panic report is printed and before the machine shuts down. The ktest
// runner uses it to report the running test as failed. Returns the previous hook.
using PanicHook = void (*)();
PanicHook set_panic_hook(PanicHook hook);

// True once some CPU has started panicking (lets other code paths stay quiet instead of piling on).
bool panic_in_progress();

}  // namespace platypos

#define PLATYPOS_PANIC(...) ::platypos::panic_at(__FILE__, __LINE__, __VA_ARGS__)

#define PLATYPOS_ASSERT(cond, ...)                                               \
  do {                                                                           \
    if (!(cond)) [[unlikely]] {                                                  \
      ::platypos::detail::assert_failed(__FILE__, __LINE__, #cond, __VA_ARGS__); \
    }                                                                            \
  } while (0)
