// kv-server's command-line parser (examples/kv/protocol.cpp) on the cases the fuzzer and the clients found.

#include <gtest/gtest.h>

#include <string>

#include "protocol.hpp"

namespace platypos::examples::kv {
namespace {

// A get names as many keys as its line holds. 65 keys once ran past a 64-entry key array (the kv_protocol fuzzer
// found it): the parser no longer stores keys, it walks the line.
TEST(KvProtocol, AGetTakesEveryKeyItsLineHolds) {
  std::string line = "get";
  for (int i = 0; i < 300; ++i) line += " k" + std::to_string(i);
  line += "\r\n";
  ASSERT_LT(line.size(), kMaxLine);
  const Parse p = parse_command(line);
  ASSERT_EQ(p.status, Parse::Status::ok);
  EXPECT_EQ(p.command.key_count, 300u);
  EXPECT_EQ(p.command.key, "k0");
  std::string_view rest = p.command.key_list, k;
  int n = 0;
  while (next_key(&rest, &k)) {
    EXPECT_EQ(k, "k" + std::to_string(n));
    ++n;
  }
  EXPECT_EQ(n, 300);
}

TEST(KvProtocol, AGetWithOneBadKeyAmongManyIsABadFormat) {
  std::string line = "gets";
  for (int i = 0; i < 100; ++i) line += " k" + std::to_string(i);
  line += " " + std::string(251, 'x') + "\r\n";
  const Parse p = parse_command(line);
  EXPECT_EQ(p.status, Parse::Status::error);
  EXPECT_EQ(p.reply, "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(p.line_bytes, line.size());
}

TEST(KvProtocol, TooManyTokensForAnythingButAGetIsAnError) {
  const Parse p = parse_command("set k 0 0 1 noreply x y z\r\n");
  EXPECT_EQ(p.status, Parse::Status::error);
  EXPECT_EQ(p.reply, "ERROR\r\n");
}

}  // namespace
}  // namespace platypos::examples::kv
