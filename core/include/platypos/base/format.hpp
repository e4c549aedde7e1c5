#pragma once
// A tiny freestanding formatter for kernel messages: `{}` placeholders in the spirit of std::format, without
// allocation, exceptions or locale.
//
//   format_to(buf, sizeof buf, "order {} block {:#x} ({})", order, addr, error)
//
// Spec: `{[:[<|>][#][0][width][type]]}`, type one of d (decimal), x/X (hex), b (binary), c (char), s (string),
// p (pointer, always 0x-prefixed hex). `{{` and `}}` are literal braces. Arguments: integers, bool, char, C strings,
// std::string_view, pointers, and Error (printed by name). A placeholder with no argument left prints `{?}`; extra
// arguments are ignored. Output goes to a FormatSink, so the console path streams without any buffer limit.

#include <platypos/base/error.hpp>
#include <platypos/base/types.hpp>

#include <concepts>
#include <string_view>
#include <type_traits>

namespace platypos {

// Where formatted characters go: a function pointer and its context (no virtual calls, no allocation).
class FormatSink {
 public:
  using WriteFn = void (*)(void* ctx, const char* data, usize len);
  constexpr FormatSink(WriteFn fn, void* ctx) : fn_(fn), ctx_(ctx) {}
  void write(const char* data, usize len) const { fn_(ctx_, data, len); }
  void put(char c) const { fn_(ctx_, &c, 1); }

 private:
  WriteFn fn_;
  void* ctx_;
};

// One type-erased argument. Cheap to copy; strings are borrowed and must outlive the call.
class FormatArg {
 public:
  enum class Kind : u8 { sint, uint, boolean, character, string, pointer, error };

  template <std::signed_integral T>
  requires(!std::same_as<T, char>) constexpr FormatArg(T v) : kind_(Kind::sint), s_(v) {}
  template <std::unsigned_integral T>
  requires(!std::same_as<T, bool>) constexpr FormatArg(T v) : kind_(Kind::uint), u_(v) {}
  constexpr FormatArg(bool v) : kind_(Kind::boolean), u_(v ? 1 : 0) {}
  constexpr FormatArg(char v) : kind_(Kind::character), u_(static_cast<unsigned char>(v)) {}
  constexpr FormatArg(const char* v) : kind_(Kind::string), str_{v ? v : "(null)", v ? length(v) : 6} {}
  constexpr FormatArg(char* v) : FormatArg(static_cast<const char*>(v)) {}
  constexpr FormatArg(std::string_view v) : kind_(Kind::string), str_{v.data(), v.size()} {}
  FormatArg(const void* v) : kind_(Kind::pointer), u_(reinterpret_cast<uptr>(v)) {}
  template <class T>
  requires(!std::same_as<std::remove_cv_t<T>, char>) FormatArg(T* v) : FormatArg(static_cast<const void*>(v)) {}
  constexpr FormatArg(Error e) : kind_(Kind::error), u_(static_cast<u16>(e)) {}
  // Scoped enums other than Error print as their underlying integer.
  template <class E>
  requires(std::is_enum_v<E> && !std::same_as<E, Error>) constexpr FormatArg(E e)
      : FormatArg(static_cast<std::underlying_type_t<E>>(e)) {}

  Kind kind() const { return kind_; }
  i64 as_signed() const { return s_; }
  u64 as_unsigned() const { return u_; }
  std::string_view as_string() const { return {str_.data, str_.len}; }

 private:
  static constexpr usize length(const char* s) {
    usize n = 0;
    while (s[n] != '\0') ++n;
    return n;
  }

  Kind kind_;
  struct Str {
    const char* data;
    usize len;
  };
  union {
    i64 s_;
    u64 u_;
    Str str_;
  };
};

// Formats `fmt` with `count` arguments into `sink`.
void vformat(FormatSink sink, const char* fmt, const FormatArg* args, usize count);

template <class... Args>
void format(FormatSink sink, const char* fmt, const Args&... args) {
  const FormatArg arr[sizeof...(Args) + 1] = {FormatArg(args)..., FormatArg(0)};
  vformat(sink, fmt, arr, sizeof...(Args));
}

// Formats into `buf` (capacity `cap`), always NUL-terminated when cap > 0. Returns the length the whole output
// would have had, like snprintf: a result >= cap means the text was truncated.
usize vformat_to(char* buf, usize cap, const char* fmt, const FormatArg* args, usize count);

template <class... Args>
usize format_to(char* buf, usize cap, const char* fmt, const Args&... args) {
  const FormatArg arr[sizeof...(Args) + 1] = {FormatArg(args)..., FormatArg(0)};
  return vformat_to(buf, cap, fmt, arr, sizeof...(Args));
}

// A fixed-capacity text buffer on the stack: append formatted text, read it back. Truncates silently at N-1
// characters (truncated() tells).
template <usize N>
class FormatBuffer {
  static_assert(N >= 2);

 public:
  template <class... Args>
  void append(const char* fmt, const Args&... args) {
    format(FormatSink(&FormatBuffer::sink, this), fmt, args...);
  }
  const char* c_str() const { return buf_; }
  std::string_view view() const { return {buf_, len_}; }
  usize size() const { return len_; }
  bool truncated() const { return truncated_; }
  void clear() {
    len_ = 0;
    buf_[0] = '\0';
    truncated_ = false;
  }

 private:
  static void sink(void* ctx, const char* data, usize len) {
    auto* self = static_cast<FormatBuffer*>(ctx);
    for (usize i = 0; i < len; ++i) {
      if (self->len_ + 1 >= N) {
        self->truncated_ = true;
        break;
      }
      self->buf_[self->len_++] = data[i];
    }
    self->buf_[self->len_] = '\0';
  }

  char buf_[N] = {};
  usize len_ = 0;
  bool truncated_ = false;
};

}  // namespace platypos
