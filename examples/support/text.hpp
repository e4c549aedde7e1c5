#pragma once
// std::string_view helpers that neither throw nor call into libc: substr() throws out_of_range (a __throw_* the
// freestanding link check rejects) and find() calls memchr (which the freestanding runtime does not provide).

#include <cstddef>
#include <string_view>

namespace platypos::examples {

// The first `n` characters of `s` (all of it if shorter).
constexpr std::string_view head(std::string_view s, std::size_t n) { return {s.data(), n < s.size() ? n : s.size()}; }
// What follows the first `n` characters (empty if there are no more).
constexpr std::string_view tail(std::string_view s, std::size_t n) {
  return n < s.size() ? std::string_view(s.data() + n, s.size() - n) : std::string_view();
}
// Index of the first `c` in `s`, or s.size().
constexpr std::size_t index_of(std::string_view s, char c) {
  std::size_t i = 0;
  while (i < s.size() && s[i] != c) ++i;
  return i;
}

}  // namespace platypos::examples
