#include "console.hpp"

#include "serial.hpp"

#include <platypos/base/log.hpp>

namespace platypos::baremetal::console {
namespace {

enum class State : u8 { line_start, level, text };

constinit State g_state = State::line_start;

constexpr const char* kTags[] = {"[trace] ", "[debug] ", "", "[warn] ", "[error] "};

void put_tag(const char* tag) {
  usize n = 0;
  while (tag[n] != '\0') ++n;
  serial::write(tag, n);
}

}  // namespace

void write(const char* s, usize n) {
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

}  // namespace platypos::baremetal::console
