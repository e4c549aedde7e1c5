#include <platypos/base/format.hpp>

#include <gtest/gtest.h>

#include <climits>
#include <cstdint>
#include <string>

namespace platypos {
namespace {

template <class... Args>
std::string fmt(const char* f, const Args&... args) {
  char buf[256];
  const usize n = format_to(buf, sizeof buf, f, args...);
  EXPECT_LT(n, sizeof buf);
  return std::string(buf);
}

TEST(Format, Integers) {
  EXPECT_EQ(fmt("{}", 0), "0");
  EXPECT_EQ(fmt("{} {} {}", 1, -1, 42u), "1 -1 42");
  EXPECT_EQ(fmt("{}", INT64_MIN), "-9223372036854775808");
  EXPECT_EQ(fmt("{}", INT64_MAX), "9223372036854775807");
  EXPECT_EQ(fmt("{}", UINT64_MAX), "18446744073709551615");
  EXPECT_EQ(fmt("{}", static_cast<u8>(255)), "255");
  EXPECT_EQ(fmt("{}", static_cast<i8>(-128)), "-128");
}

TEST(Format, Hex) {
  EXPECT_EQ(fmt("{:x}", 255), "ff");
  EXPECT_EQ(fmt("{:X}", 255u), "FF");
  EXPECT_EQ(fmt("{:#x}", 0xdeadbeefu), "0xdeadbeef");
  EXPECT_EQ(fmt("{:#018x}", 0xffffffff80001000ull), "0xffffffff80001000");
  EXPECT_EQ(fmt("{:#018x}", 0x1000u), "0x0000000000001000");
  EXPECT_EQ(fmt("{:08x}", 0xabcu), "00000abc");
  EXPECT_EQ(fmt("{:x}", -1), "ffffffffffffffff");
  EXPECT_EQ(fmt("{:#b}", 5u), "0b101");
}

TEST(Format, WidthAndAlignment) {
  EXPECT_EQ(fmt("[{:5}]", 42), "[   42]");
  EXPECT_EQ(fmt("[{:<5}]", 42), "[42   ]");
  EXPECT_EQ(fmt("[{:05}]", -42), "[-0042]");
  EXPECT_EQ(fmt("[{:8}]", "abc"), "[abc     ]");
  EXPECT_EQ(fmt("[{:>8}]", "abc"), "[     abc]");
  EXPECT_EQ(fmt("[{:2}]", 12345), "[12345]");  // never truncates
}

TEST(Format, StringsCharsBoolsPointersErrors) {
  EXPECT_EQ(fmt("{}", "kernel"), "kernel");
  const char* null_str = nullptr;
  EXPECT_EQ(fmt("{}", null_str), "(null)");
  EXPECT_EQ(fmt("{}", std::string_view("ring", 2)), "ri");
  EXPECT_EQ(fmt("{}{}", 'o', 'k'), "ok");
  EXPECT_EQ(fmt("{:d}", 'A'), "65");
  EXPECT_EQ(fmt("{} {}", true, false), "true false");
  EXPECT_EQ(fmt("{}", reinterpret_cast<void*>(0x1234)), "0x1234");
  EXPECT_EQ(fmt("{}", Error::no_memory), "no_memory");
  EXPECT_EQ(fmt("{:d}", Error::bad_handle), "3");
  enum class Color : u8 { red = 2 };
  EXPECT_EQ(fmt("{}", Color::red), "2");
}

TEST(Format, BracesAndMismatches) {
  EXPECT_EQ(fmt("{{}}"), "{}");
  EXPECT_EQ(fmt("a{{b}}c {}", 1), "a{b}c 1");
  EXPECT_EQ(fmt("{} {}", 1), "1 {?}");
  EXPECT_EQ(fmt("{}", 1, 2, 3), "1");
  EXPECT_EQ(fmt("{:q}", 1), "{:q}");  // unknown spec: printed literally, argument not consumed
  EXPECT_EQ(fmt("tail {"), "tail {");
  EXPECT_EQ(fmt("lone } brace"), "lone } brace");
}

TEST(Format, TruncationIsReportedAndTerminated) {
  char buf[8];
  const usize n = format_to(buf, sizeof buf, "{}-{}", 123456, 789);
  EXPECT_EQ(n, 10u);
  EXPECT_STREQ(buf, "123456-");
  char one[1];
  EXPECT_EQ(format_to(one, 1, "abc"), 3u);
  EXPECT_EQ(one[0], '\0');
  EXPECT_EQ(format_to(nullptr, 0, "abc {}", 1), 5u);
}

TEST(Format, HugeWidthIsClamped) {
  char buf[512];
  EXPECT_EQ(format_to(buf, sizeof buf, "{:99999}", 1), 256u);  // widths are clamped to 256
  EXPECT_EQ(std::string(buf).back(), '1');
}

TEST(FormatBuffer, AppendsAndTruncates) {
  FormatBuffer<16> b;
  b.append("cpu {}", 3);
  b.append(" up");
  EXPECT_EQ(b.view(), "cpu 3 up");
  EXPECT_FALSE(b.truncated());
  b.append(" and a long tail");
  EXPECT_TRUE(b.truncated());
  EXPECT_EQ(b.size(), 15u);
  EXPECT_STREQ(b.c_str(), "cpu 3 up and a ");
  b.clear();
  EXPECT_EQ(b.size(), 0u);
}

TEST(Format, StreamsToASink) {
  std::string out;
  FormatSink sink([](void* ctx, const char* d, usize n) { static_cast<std::string*>(ctx)->append(d, n); }, &out);
  format(sink, "{} + {} = {}", 2, 2, 4);
  EXPECT_EQ(out, "2 + 2 = 4");
}

}  // namespace
}  // namespace platypos
