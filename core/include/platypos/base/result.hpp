#pragma once
// Result<T>: a value or an Error, never an exception. Result<void>: success or an Error.
//
//   Result<PhysAddr> alloc(u32 order);
//   auto addr = PLATYPOS_TRY(alloc(0));        // propagates the error to the caller's Result
//   if (!r) return r.error();                   // or by hand
//
// Accessors assert: value() on an error, or error() on a value, is a bug and panics with the error's name. A failed
// Result never holds Error::none (constructing one panics). The type is [[nodiscard]]: ignoring a Result is a
// compile error under -Werror.

#include <platypos/base/assert.hpp>
#include <platypos/base/error.hpp>

#include <new>
#include <type_traits>
#include <utility>

namespace platypos {

template <class T>
class [[nodiscard]] Result {
  static_assert(!std::is_reference_v<T>, "Result<T&> is not supported: return a pointer");
  static_assert(!std::is_same_v<std::remove_cv_t<T>, Error>, "Result<Error> would be ambiguous");
  static_assert(!std::is_array_v<T>);

 public:
  using ValueType = T;

  Result(const T& v) requires std::is_copy_constructible_v<T> : error_(Error::none) { new (&value_) T(v); }
  Result(T&& v) requires std::is_move_constructible_v<T> : error_(Error::none) { new (&value_) T(std::move(v)); }
  // Converting construction, e.g. Result<Base*> from Derived*, Result<T*> from nullptr. The constraint excludes
  // Result itself, so this never hides the copy or move constructor.
  template <class U>
  requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::remove_cvref_t<U>, Result> &&
           !std::is_same_v<std::remove_cvref_t<U>, T> && !std::is_same_v<std::remove_cvref_t<U>, Error>)
      Result(U&& v)  // NOLINT(bugprone-forwarding-reference-overload)
      : error_(Error::none) {
    new (&value_) T(std::forward<U>(v));
  }
  Result(Error e) : error_(e) { PLATYPOS_ASSERT(e != Error::none, "a failed Result needs a real error"); }

  Result(const Result& o) requires std::is_copy_constructible_v<T> : error_(o.error_) {
    if (has_value()) new (&value_) T(o.value_);
  }
  Result(Result&& o) noexcept requires std::is_move_constructible_v<T> : error_(o.error_) {
    if (has_value()) new (&value_) T(std::move(o.value_));
  }
  Result& operator=(const Result& o) requires std::is_copy_constructible_v<T> {
    if (this != &o) {
      destroy();
      error_ = o.error_;
      if (has_value()) new (&value_) T(o.value_);
    }
    return *this;
  }
  Result& operator=(Result&& o) noexcept requires std::is_move_constructible_v<T> {
    if (this != &o) {
      destroy();
      error_ = o.error_;
      if (has_value()) new (&value_) T(std::move(o.value_));
    }
    return *this;
  }
  ~Result() { destroy(); }

  bool has_value() const { return error_ == Error::none; }
  bool is_error() const { return error_ != Error::none; }
  explicit operator bool() const { return has_value(); }

  T& value() & {
    check_value();
    return value_;
  }
  const T& value() const& {
    check_value();
    return value_;
  }
  T&& value() && {
    check_value();
    return std::move(value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  Error error() const {
    PLATYPOS_ASSERT(is_error(), "Result::error() on a value");
    return error_;
  }
  // Error::none on success: handy for tests and switch statements.
  Error error_or_none() const { return error_; }

  template <class U>
  T value_or(U&& fallback) const& {
    return has_value() ? value_ : static_cast<T>(std::forward<U>(fallback));
  }
  template <class U>
  T value_or(U&& fallback) && {
    return has_value() ? std::move(value_) : static_cast<T>(std::forward<U>(fallback));
  }

  // The value, or a panic naming `what` and the error. For places where failure is a bug (boot-time setup).
  T& expect(const char* what) & {
    if (is_error()) [[unlikely]]
      PLATYPOS_PANIC("{}: {}", what, error_);
    return value_;
  }
  T&& expect(const char* what) && {
    if (is_error()) [[unlikely]]
      PLATYPOS_PANIC("{}: {}", what, error_);
    return std::move(value_);
  }

 private:
  void check_value() const {
    if (is_error()) [[unlikely]]
      PLATYPOS_PANIC("Result::value() on error {}", error_);
  }
  void destroy() {
    if (has_value()) value_.~T();
  }

  union {
    T value_;
  };
  Error error_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  using ValueType = void;

  Result() : error_(Error::none) {}
  Result(Error e) : error_(e) { PLATYPOS_ASSERT(e != Error::none, "a failed Result needs a real error"); }

  bool has_value() const { return error_ == Error::none; }
  bool is_error() const { return error_ != Error::none; }
  explicit operator bool() const { return has_value(); }
  void value() const {
    if (is_error()) [[unlikely]]
      PLATYPOS_PANIC("Result<void>::value() on error {}", error_);
  }
  Error error() const {
    PLATYPOS_ASSERT(is_error(), "Result::error() on a value");
    return error_;
  }
  Error error_or_none() const { return error_; }
  void expect(const char* what) const {
    if (is_error()) [[unlikely]]
      PLATYPOS_PANIC("{}: {}", what, error_);
  }

 private:
  Error error_;
};

// Success for functions returning Result<void>: `return ok();`.
inline Result<void> ok() { return {}; }

namespace detail {
template <class T>
T result_take(Result<T>&& r) {
  return std::move(r).value();
}
inline void result_take(Result<void>&&) {}
}  // namespace detail

}  // namespace platypos

// Evaluates `expr` (a Result). On error, returns the error from the enclosing function (whose return type must be
// constructible from Error: any Result<U>, or Error). On success, the whole expression is the value (void for
// Result<void>). Uses a GNU statement expression (g++ and clang).
#define PLATYPOS_TRY(expr)                                                                             \
  ({                                                                                                   \
    auto&& platypos_try_result_ = (expr);                                                              \
    if (platypos_try_result_.is_error()) [[unlikely]] {                                                \
      return platypos_try_result_.error();                                                             \
    }                                                                                                  \
    ::platypos::detail::result_take(                                                                   \
        static_cast<std::remove_reference_t<decltype(platypos_try_result_)>&&>(platypos_try_result_)); \
  })
