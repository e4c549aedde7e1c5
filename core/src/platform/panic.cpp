// Panic path: print the report on the console, run the panic hook, stop the machine. Must work from any context
// (interrupt handlers, inside the allocator, with locks held), so it takes no locks and allocates nothing, and uses
// raw atomics (not Atomic<T>): a panic must not become a scheduling point of the simulator.

#include <platypos/base/assert.hpp>
#include <platypos/base/print.hpp>
#include <platypos/platform.hpp>

#include <platypos/base/log.hpp>

#include <atomic>

namespace platypos {
namespace {

constinit std::atomic<u32> g_panicking{0};
constinit std::atomic<PanicHook> g_panic_hook{nullptr};

constexpr usize kMaxFrames = 32;
// Every line of a panic report is logged at error level, so no log filter hides it.
constexpr char kErr[] = {kLogMarker, '0' + static_cast<char>(LogLevel::error), '\0'};

void print_backtrace(uptr caller) {
  uptr pcs[kMaxFrames];
  const usize n = Platform::backtrace(pcs, kMaxFrames);
  // Start at the function that panicked; if its frame is not found, show everything.
  usize first = 0;
  while (first < n && pcs[first] != caller) ++first;
  if (first == n) first = 0;
  print("{}backtrace:\n", kErr);
  for (usize i = first; i < n; ++i) {
    char name[160];
    if (Platform::symbolize(pcs[i], name, sizeof name)) {
      print("{}  #{:<2} {:#018x} {}\n", kErr, i - first, pcs[i], static_cast<const char*>(name));
    } else {
      print("{}  #{:<2} {:#018x}\n", kErr, i - first, pcs[i]);
    }
  }
}

[[noreturn]] void finish_panic() {
  if (PanicHook hook = g_panic_hook.load(std::memory_order_acquire)) hook();
  Platform::shutdown(ExitStatus::panic);
}

// A second panic (on this CPU inside the first, or on another CPU) does not print a second backtrace: the first
// report is the one that matters, and the machine is going down.
bool begin_panic() { return g_panicking.fetch_add(1, std::memory_order_acq_rel) == 0; }

}  // namespace

PanicHook set_panic_hook(PanicHook hook) { return g_panic_hook.exchange(hook, std::memory_order_acq_rel); }

bool panic_in_progress() { return g_panicking.load(std::memory_order_acquire) != 0; }

void panic_impl(const char* file, int line, uptr caller, const char* fmt, const FormatArg* args, usize count) {
  (void)Platform::irq_save();
  const bool first = begin_panic();
  print("\n{}KERNEL PANIC on cpu {} at {}:{}: ", kErr, Platform::current_cpu(), file, line);
  vprint(fmt, args, count);
  print("\n");
  if (first) print_backtrace(caller);
  finish_panic();
}

namespace detail {
void assert_failed_impl(const char* file, int line, uptr caller, const char* cond, const char* fmt,
                        const FormatArg* args, usize count) {
  (void)Platform::irq_save();
  const bool first = begin_panic();
  print("\n{}KERNEL PANIC on cpu {} at {}:{}: assertion failed: {}: ", kErr, Platform::current_cpu(), file, line, cond);
  vprint(fmt, args, count);
  print("\n");
  if (first) print_backtrace(caller);
  finish_panic();
}
}  // namespace detail

}  // namespace platypos
