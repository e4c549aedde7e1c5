#include <platypos/base/cmdline.hpp>

namespace platypos {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

CommandLine::Iterator::Iterator(std::string_view rest) : rest_(rest) { ++*this; }

CommandLine::Iterator& CommandLine::Iterator::operator++() {
  usize i = 0;
  while (i < rest_.size() && is_space(rest_[i])) ++i;
  if (i == rest_.size()) {
    // The end iterator: positioned at the end of the text, so every exhausted iterator compares equal to it.
    rest_ = std::string_view(rest_.data() + rest_.size(), 0);
    done_ = true;
    word_ = Word{};
    return *this;
  }
  usize j = i;
  while (j < rest_.size() && !is_space(rest_[j])) ++j;
  // Slices by hand: string_view's substr() and find() can throw or call memchr, neither of which the kernel has.
  const char* word = rest_.data() + i;
  const usize len = j - i;
  usize eq = 0;
  while (eq < len && word[eq] != '=') ++eq;
  if (eq == len) {
    word_ = Word{std::string_view(word, len), {}, false};
  } else {
    word_ = Word{std::string_view(word, eq), std::string_view(word + eq + 1, len - eq - 1), true};
  }
  rest_ = std::string_view(rest_.data() + j, rest_.size() - j);
  return *this;
}

bool CommandLine::has(std::string_view key) const {
  for (Word w : *this) {
    if (w.key == key) return true;
  }
  return false;
}

Result<std::string_view> CommandLine::value(std::string_view key) const {
  for (Word w : *this) {
    if (w.key == key && w.has_value) return w.value;
  }
  return Error::not_found;
}

}  // namespace platypos
