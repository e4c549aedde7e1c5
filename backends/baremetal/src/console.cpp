#include "console.hpp"

#include "serial.hpp"

#include <platypos/base/log.hpp>
#include <platypos/platform.hpp>

#include <atomic>

namespace platypos::baremetal::console {
namespace {

enum class State : u8 { line_start, level, text };

constinit State g_state = State::line_start;

// CPU writing to the console (kNoOwner: none). One message (print() hands over up to 256 bytes at once) reaches
// the UART whole even when several CPUs print. Not a SpinLock: a CPU that faults or panics while it holds it (an
// exception in the middle of a write) must still be able to print its report.
constexpr u32 kNoOwner = ~u32{0};
constinit std::atomic<u32> g_owner{kNoOwner};

constexpr const char* kTags[] = {"[trace] ", "[debug] ", "", "[warn] ", "[error] "};

void put_tag(const char* tag) {
  usize n = 0;
  while (tag[n] != '\0') ++n;
  serial::write(tag, n);
}

void write_locked(const char* s, usize n) {
  // Plain text goes to the UART in runs; only the two marker bytes are dropped (and replaced by a tag).
  usize run = 0;
  for (usize i = 0; i < n; ++i) {
    const char c = s[i];
    if (g_state == State::level) {
      g_state = State::text;
      if (c >= '0' && c <= '4') {
        put_tag(kTags[c - '0']);
        run = i + 1;
        continue;
      }
      // Not a level after all: the byte is text.
    } else if (g_state == State::line_start && c == kLogMarker) {
      serial::write(s + run, i - run);
      g_state = State::level;
      run = i + 1;
      continue;
    }
    g_state = c == '\n' ? State::line_start : State::text;
  }
  serial::write(s + run, n - run);
}

}  // namespace

void write(const char* s, usize n) {
  const Platform::IrqState irq = Platform::irq_save();
  const u32 me = Platform::current_cpu();
  const bool nested = g_owner.load(std::memory_order_relaxed) == me;
  if (!nested) {
    u32 expected = kNoOwner;
    while (!g_owner.compare_exchange_weak(expected, me, std::memory_order_acquire, std::memory_order_relaxed)) {
      expected = kNoOwner;
      Platform::cpu_relax();
    }
  }
  write_locked(s, n);
  if (!nested) g_owner.store(kNoOwner, std::memory_order_release);
  Platform::irq_restore(irq);
}

}  // namespace platypos::baremetal::console
