#include <platypos/base/result.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "test_support.hpp"

namespace platypos {
namespace {

Result<int> parse_digit(char c) {
  if (c < '0' || c > '9') return Error::invalid_argument;
  return c - '0';
}

Result<int> sum_digits(const char* s) {
  int total = 0;
  for (; *s != '\0'; ++s) total += PLATYPOS_TRY(parse_digit(*s));
  return total;
}

Result<void> check_even(int v) {
  if (v % 2 != 0) return Error::out_of_range;
  return ok();
}

Result<int> even_sum(const char* s) {
  const int total = PLATYPOS_TRY(sum_digits(s));
  PLATYPOS_TRY(check_even(total));
  return total;
}

TEST(Result, HoldsValue) {
  Result<int> r = 42;
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(static_cast<bool>(r));
  EXPECT_FALSE(r.is_error());
  EXPECT_EQ(r.value(), 42);
  EXPECT_EQ(*r, 42);
  EXPECT_EQ(r.error_or_none(), Error::none);
}

TEST(Result, HoldsError) {
  Result<int> r = Error::no_memory;
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), Error::no_memory);
  EXPECT_EQ(r.value_or(-1), -1);
}

TEST(Result, TryPropagatesFirstError) {
  EXPECT_EQ(sum_digits("123").value(), 6);
  EXPECT_EQ(sum_digits("1x3").error(), Error::invalid_argument);
  EXPECT_EQ(even_sum("13").value(), 4);
  EXPECT_EQ(even_sum("12").error(), Error::out_of_range);
  EXPECT_EQ(even_sum("a").error(), Error::invalid_argument);
}

TEST(Result, VoidResult) {
  Result<void> good = ok();
  EXPECT_TRUE(good.has_value());
  Result<void> bad = Error::peer_closed;
  EXPECT_EQ(bad.error(), Error::peer_closed);
}

// Non-trivial payloads are constructed, moved and destroyed exactly once each.
TEST(Result, NonTrivialPayloadLifetime) {
  auto counter = std::make_shared<int>(0);
  {
    Result<std::shared_ptr<int>> r = counter;
    EXPECT_EQ(counter.use_count(), 2);
    Result<std::shared_ptr<int>> moved = std::move(r);
    EXPECT_EQ(counter.use_count(), 2);
    Result<std::shared_ptr<int>> copy = moved;
    EXPECT_EQ(counter.use_count(), 3);
    copy = Result<std::shared_ptr<int>>(Error::cancelled);
    EXPECT_EQ(counter.use_count(), 2);
    EXPECT_EQ(copy.error(), Error::cancelled);
  }
  EXPECT_EQ(counter.use_count(), 1);
}

TEST(Result, MoveOnlyValueThroughTry) {
  auto make = [](bool fail) -> Result<std::unique_ptr<std::string>> {
    if (fail) return Error::no_resources;
    return std::make_unique<std::string>("dedicated");
  };
  auto use = [&](bool fail) -> Result<usize> {
    std::unique_ptr<std::string> s = PLATYPOS_TRY(make(fail));
    return s->size();
  };
  EXPECT_EQ(use(false).value(), 9u);
  EXPECT_EQ(use(true).error(), Error::no_resources);
}

TEST(Result, ConvertingConstruction) {
  struct Base {};
  struct Derived : Base {};
  Derived d;
  Result<Base*> r = &d;
  EXPECT_EQ(r.value(), &d);
  Result<Base*> null = nullptr;
  EXPECT_EQ(null.value(), nullptr);
}

TEST(Error, NamesAreDistinctAndKnown) {
  for (u16 i = 0; i < kErrorCount; ++i) {
    const std::string name = error_name(static_cast<Error>(i));
    EXPECT_NE(name, "unknown_error") << "Error value " << i << " has no name";
    for (u16 j = 0; j < i; ++j) EXPECT_NE(name, error_name(static_cast<Error>(j)));
  }
  EXPECT_STREQ(error_name(static_cast<Error>(kErrorCount)), "unknown_error");
}

using ResultDeathTest = ::testing::Test;

TEST_F(ResultDeathTest, ValueOnErrorPanicsWithTheErrorName) {
  Result<int> r = Error::bad_handle;
  EXPECT_DEATH((void)r.value(), "KERNEL PANIC.*Result::value\\(\\) on error bad_handle");
}

TEST_F(ResultDeathTest, ErrorOnValuePanics) {
  Result<int> r = 3;
  EXPECT_DEATH((void)r.error(), "assertion failed: is_error\\(\\)");
}

TEST_F(ResultDeathTest, ConstructingFromErrorNonePanics) {
  EXPECT_DEATH(
      {
        Result<int> r = Error::none;
        (void)r;
      },
      "a failed Result needs a real error");
}

TEST_F(ResultDeathTest, ExpectNamesWhatFailed) {
  Result<int> r = Error::no_memory;
  EXPECT_DEATH((void)r.expect("boot page tables"), "boot page tables: no_memory");
}

}  // namespace
}  // namespace platypos
