#pragma once
// Program arguments: the text after the program's name in spawn_process ("echo-client rate=20000 count=2000"), as
// whitespace-separated key=value words. A word without '=' is a flag (its value is empty). Nothing is allocated:
// values are views into the argument text (ProgramEnv::args, which lives in program memory).
//
//   Args a(cx.args());
//   const u64 rate = a.u64_or("rate", 20'000);
//   const std::string_view name = a.str_or("name", "app");
//
// Malformed numbers are reported by ok() (and the value falls back to the default), so that a program can refuse to
// start instead of running with a value nobody asked for.

#include "text.hpp"

#include <cstdint>
#include <initializer_list>
#include <string_view>

namespace platypos::examples {

class Args {
 public:
  explicit Args(std::string_view text) : text_(text) {}

  // The value of `key` (empty for a flag), or `fallback` when absent.
  std::string_view str_or(std::string_view key, std::string_view fallback) const {
    std::string_view v;
    return find(key, &v) ? v : fallback;
  }
  bool has(std::string_view key) const {
    std::string_view v;
    return find(key, &v);
  }
  // A decimal value (with an optional k/m/g suffix: 4k = 4000, 8m = 8'000'000) or a hexadecimal one (0x1f, up to
  // 16 digits), or `fallback` when absent.
  std::uint64_t u64_or(std::string_view key, std::uint64_t fallback) const {
    std::string_view v;
    if (!find(key, &v)) return fallback;
    std::uint64_t out = 0;
    if (!parse_u64(v, &out)) {
      bad_ = true;
      return fallback;
    }
    return out;
  }
  // False once a lookup found a value that does not parse.
  bool ok() const { return !bad_; }

  // The first word whose key is not one of `known` (a typo, say), or an empty view when there is none.
  std::string_view unknown_key(std::initializer_list<std::string_view> known) const {
    std::string_view rest = text_;
    while (!rest.empty()) {
      while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
      std::size_t end = 0;
      while (end < rest.size() && rest[end] != ' ') ++end;
      const std::string_view word = head(rest, end);
      rest.remove_prefix(end);
      if (word.empty()) continue;
      const std::string_view key = head(word, index_of(word, '='));
      bool found = false;
      for (std::string_view k : known) found = found || k == key;
      if (!found) return key;
    }
    return {};
  }

  static bool parse_u64(std::string_view s, std::uint64_t* out) {
    if (s.empty()) return false;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
      // Hexadecimal (an address): 1 to 16 digits, no suffix.
      s.remove_prefix(2);
      if (s.size() > 16) return false;
      std::uint64_t v = 0;
      for (char c : s) {
        const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return false;
        v = v << 4 | static_cast<std::uint64_t>(d);
      }
      *out = v;
      return true;
    }
    std::uint64_t scale = 1;
    switch (s.back()) {
      case 'k': scale = 1'000; break;
      case 'm': scale = 1'000'000; break;
      case 'g': scale = 1'000'000'000; break;
      default: break;
    }
    if (scale != 1) s.remove_suffix(1);
    if (s.empty() || s.size() > 19) return false;
    std::uint64_t v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (v > ~std::uint64_t{0} / scale) return false;
    *out = v * scale;
    return true;
  }

 private:
  bool find(std::string_view key, std::string_view* value) const {
    std::string_view rest = text_;
    while (!rest.empty()) {
      while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
      std::size_t end = 0;
      while (end < rest.size() && rest[end] != ' ') ++end;
      const std::string_view word = head(rest, end);
      rest.remove_prefix(end);
      if (word.empty()) continue;
      const std::size_t eq = index_of(word, '=');
      if (head(word, eq) != key) continue;
      *value = tail(word, eq + 1);
      return true;
    }
    return false;
  }

  std::string_view text_;
  mutable bool bad_ = false;
};

}  // namespace platypos::examples
