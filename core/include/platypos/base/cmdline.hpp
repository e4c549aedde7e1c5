#pragma once
// The kernel command line: words separated by spaces, each `key` or `key=value` (the value runs to the next space;
// there is no quoting: boot loaders pass the text as is). A view over the caller's text: nothing is copied or
// allocated, and the text must outlive the CommandLine.
//
//   CommandLine cl("ktest=interrupts,platform verbose");
//   cl.value("ktest")   -> "interrupts,platform"
//   cl.has("verbose")   -> true;  cl.value("verbose") -> Error::not_found (a bare key has no value)
//   for (CommandLine::Word w : cl) ...   // every word, in order

#include <platypos/base/result.hpp>

#include <string_view>

namespace platypos {

class CommandLine {
 public:
  struct Word {
    std::string_view key;
    std::string_view value;  // empty when there is no '='
    bool has_value;
  };

  constexpr explicit CommandLine(std::string_view text) : text_(text) {}

  std::string_view text() const { return text_; }
  bool empty() const { return begin() == end(); }

  // Whether some word has this key (with or without a value).
  bool has(std::string_view key) const;
  // The value of the first `key=value` word; Error::not_found when there is none.
  Result<std::string_view> value(std::string_view key) const;

  class Iterator {
   public:
    Word operator*() const { return word_; }
    Iterator& operator++();
    bool operator==(const Iterator& o) const { return rest_.data() == o.rest_.data() && done_ == o.done_; }

   private:
    friend class CommandLine;
    explicit Iterator(std::string_view rest);
    std::string_view rest_;  // text after the current word
    Word word_{};
    bool done_ = false;
  };
  Iterator begin() const { return Iterator(text_); }
  Iterator end() const { return Iterator(std::string_view(text_.data() + text_.size(), 0)); }

 private:
  std::string_view text_;
};

}  // namespace platypos
