#pragma once
// Checks inside a ktest test body.
//
//   KEXPECT_EQ(a, b)  KEXPECT_NE  KEXPECT_LT  KEXPECT_LE  KEXPECT_GT  KEXPECT_GE
//   KEXPECT_TRUE(c)   KEXPECT_FALSE(c)
//   KEXPECT_OK(result)                 a Result<T> that holds a value (prints the error otherwise)
//
// A failed KEXPECT_* marks the running test failed and lets it continue. Each KASSERT_* (same list) also ends the
// test by returning from the function it is written in, so use KASSERT_* in the test body itself (a void function),
// as with GoogleTest's ASSERT_*. A failure prints file:line, the check as written and both values:
//
//   /src/tests/ktest/selftest_test.cpp:14: KEXPECT_EQ failed: 1 + 1 == 3
//     1 + 1: 2
//     3: 3
//
// Values: integers (compared by value across signedness, like std::cmp_equal), bool, char, enums (Error printed by
// name), pointers, and strings. Two strings (char pointers or arrays, std::string_view) compare by content; a string
// and nullptr compare as pointers.

#include <platypos/base/error.hpp>
#include <platypos/base/format.hpp>

#include <concepts>
#include <cstddef>
#include <string_view>
#include <type_traits>
#include <utility>

namespace platypos::ktest::detail {

enum class Cmp : u8 { eq, ne, lt, le, gt, ge };

struct Site {
  const char* macro;
  const char* file;
  int line;
};

template <class T>
concept StringLike = !std::same_as<std::remove_cvref_t<T>, std::nullptr_t> &&
                     (std::same_as<std::decay_t<T>, const char*> || std::same_as<std::decay_t<T>, char*> ||
                      std::same_as<std::remove_cvref_t<T>, std::string_view>);

// Integers that std::cmp_* accepts (not bool, not the character types).
template <class T>
concept PlainInteger =
    std::is_integral_v<T> && !std::same_as<T, bool> && !std::same_as<T, char> && !std::same_as<T, char8_t> &&
    !std::same_as<T, char16_t> && !std::same_as<T, char32_t> && !std::same_as<T, wchar_t>;

template <Cmp op, class A, class B>
constexpr bool compare(const A& a, const B& b) {
  if constexpr (StringLike<A> && StringLike<B>) {
    return compare<op>(std::string_view(a).compare(std::string_view(b)), 0);
  } else if constexpr (PlainInteger<A> && PlainInteger<B>) {
    if constexpr (op == Cmp::eq) return std::cmp_equal(a, b);
    if constexpr (op == Cmp::ne) return std::cmp_not_equal(a, b);
    if constexpr (op == Cmp::lt) return std::cmp_less(a, b);
    if constexpr (op == Cmp::le) return std::cmp_less_equal(a, b);
    if constexpr (op == Cmp::gt) return std::cmp_greater(a, b);
    if constexpr (op == Cmp::ge) return std::cmp_greater_equal(a, b);
  } else {
    if constexpr (op == Cmp::eq) return a == b;
    if constexpr (op == Cmp::ne) return !(a == b);
    if constexpr (op == Cmp::lt) return a < b;
    if constexpr (op == Cmp::le) return !(b < a);
    if constexpr (op == Cmp::gt) return b < a;
    if constexpr (op == Cmp::ge) return !(a < b);
  }
}

template <class T>
FormatArg printable(const T& v) {
  if constexpr (std::same_as<T, std::nullptr_t>) {
    return FormatArg(static_cast<const void*>(nullptr));
  } else if constexpr (StringLike<T>) {
    return FormatArg(std::string_view(v));
  } else {
    static_assert(std::is_constructible_v<FormatArg, const T&>,
                  "ktest can print integers, bool, char, enums, Error, pointers and strings");
    return FormatArg(v);
  }
}

constexpr const char* op_text(Cmp op) {
  switch (op) {
    case Cmp::eq: return "==";
    case Cmp::ne: return "!=";
    case Cmp::lt: return "<";
    case Cmp::le: return "<=";
    case Cmp::gt: return ">";
    case Cmp::ge: return ">=";
  }
  return "?";
}

// Report a failed check and mark the running test failed (implemented in expect.cpp).
void fail_comparison(const Site& site, const char* a_text, const char* op, const char* b_text, const FormatArg& a,
                     const FormatArg& b);
void fail_condition(const Site& site, const char* text, bool expected);
void fail_result(const Site& site, const char* text, Error error);

template <Cmp op, class A, class B>
bool check(const Site& site, const A& a, const B& b, const char* a_text, const char* b_text) {
  if (compare<op>(a, b)) [[likely]]
    return true;
  fail_comparison(site, a_text, op_text(op), b_text, printable(a), printable(b));
  return false;
}

inline bool check_condition(const Site& site, bool value, bool expected, const char* text) {
  if (value == expected) [[likely]]
    return true;
  fail_condition(site, text, expected);
  return false;
}

template <class R>
bool check_ok(const Site& site, const R& result, const char* text) {
  if (result.has_value()) [[likely]]
    return true;
  fail_result(site, text, result.error());
  return false;
}

}  // namespace platypos::ktest::detail

#define PLATYPOS_KTEST_SITE_(macro) (::platypos::ktest::detail::Site{macro, __FILE__, __LINE__})
#define PLATYPOS_KTEST_CMP_(macro, op, a, b) \
  ::platypos::ktest::detail::check<::platypos::ktest::detail::Cmp::op>(PLATYPOS_KTEST_SITE_(macro), (a), (b), #a, #b)
#define PLATYPOS_KTEST_COND_(macro, c, expected) \
  ::platypos::ktest::detail::check_condition(PLATYPOS_KTEST_SITE_(macro), static_cast<bool>(c), expected, #c)
#define PLATYPOS_KTEST_OK_(macro, r) ::platypos::ktest::detail::check_ok(PLATYPOS_KTEST_SITE_(macro), (r), #r)
#define PLATYPOS_KTEST_ASSERT_(check) \
  do {                                \
    if (!(check)) return;             \
  } while (0)

#define KEXPECT_EQ(a, b) (void)PLATYPOS_KTEST_CMP_("KEXPECT_EQ", eq, a, b)
#define KEXPECT_NE(a, b) (void)PLATYPOS_KTEST_CMP_("KEXPECT_NE", ne, a, b)
#define KEXPECT_LT(a, b) (void)PLATYPOS_KTEST_CMP_("KEXPECT_LT", lt, a, b)
#define KEXPECT_LE(a, b) (void)PLATYPOS_KTEST_CMP_("KEXPECT_LE", le, a, b)
#define KEXPECT_GT(a, b) (void)PLATYPOS_KTEST_CMP_("KEXPECT_GT", gt, a, b)
#define KEXPECT_GE(a, b) (void)PLATYPOS_KTEST_CMP_("KEXPECT_GE", ge, a, b)
#define KEXPECT_TRUE(c) (void)PLATYPOS_KTEST_COND_("KEXPECT_TRUE", c, true)
#define KEXPECT_FALSE(c) (void)PLATYPOS_KTEST_COND_("KEXPECT_FALSE", c, false)
#define KEXPECT_OK(r) (void)PLATYPOS_KTEST_OK_("KEXPECT_OK", r)

#define KASSERT_EQ(a, b) PLATYPOS_KTEST_ASSERT_(PLATYPOS_KTEST_CMP_("KASSERT_EQ", eq, a, b))
#define KASSERT_NE(a, b) PLATYPOS_KTEST_ASSERT_(PLATYPOS_KTEST_CMP_("KASSERT_NE", ne, a, b))
#define KASSERT_LT(a, b) PLATYPOS_KTEST_ASSERT_(PLATYPOS_KTEST_CMP_("KASSERT_LT", lt, a, b))
#define KASSERT_LE(a, b) PLATYPOS_KTEST_ASSERT_(PLATYPOS_KTEST_CMP_("KASSERT_LE", le, a, b))
#define KASSERT_GT(a, b) PLATYPOS_KTEST_ASSERT_(PLATYPOS_KTEST_CMP_("KASSERT_GT", gt, a, b))
#define KASSERT_GE(a, b) PLATYPOS_KTEST_ASSERT_(PLATYPOS_KTEST_CMP_("KASSERT_GE", ge, a, b))
#define KASSERT_TRUE(c) PLATYPOS_KTEST_ASSERT_(PLATYPOS_KTEST_COND_("KASSERT_TRUE", c, true))
#define KASSERT_FALSE(c) PLATYPOS_KTEST_ASSERT_(PLATYPOS_KTEST_COND_("KASSERT_FALSE", c, false))
#define KASSERT_OK(r) PLATYPOS_KTEST_ASSERT_(PLATYPOS_KTEST_OK_("KASSERT_OK", r))
