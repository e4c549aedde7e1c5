// file-server's HTTP request parser (examples/files/http.cpp): what it takes, how it normalizes paths, and what it
// refuses with which status.

#include <gtest/gtest.h>

#include <string>

#include "http.hpp"

namespace platypos::examples::files {
namespace {

HttpParse parse(const std::string& s) { return parse_request(s); }

TEST(HttpRequest, PipelinedRequestsParseOneAtATime) {
  const std::string two = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /b/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  const HttpParse a = parse(two);
  ASSERT_EQ(a.status, HttpParse::Status::ok);
  EXPECT_EQ(a.request.method, Method::get);
  EXPECT_EQ(a.request.path_view(), "a");
  EXPECT_TRUE(a.request.keep_alive);
  const HttpParse b = parse(two.substr(a.head_bytes));
  ASSERT_EQ(b.status, HttpParse::Status::ok);
  EXPECT_EQ(b.request.method, Method::head);
  EXPECT_EQ(b.request.path_view(), "b");
  EXPECT_TRUE(b.request.directory);
  EXPECT_FALSE(b.request.keep_alive);
  EXPECT_EQ(a.head_bytes + b.head_bytes, two.size());
}

TEST(HttpRequest, PathsAreDecodedThenNormalized) {
  const HttpParse p = parse("GET //x/./y%20z//w?q=1 HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_EQ(p.status, HttpParse::Status::ok);
  EXPECT_EQ(p.request.path_view(), "x/y z/w");
  EXPECT_FALSE(p.request.directory);
  // ".." is refused however it is spelled: decoding comes first.
  for (const char* t : {"/..", "/a/../b", "/%2e%2e/x", "/%2E%2e", "/a%2f..%2fb"}) {
    const HttpParse r = parse(std::string("GET ") + t + " HTTP/1.1\r\nHost: h\r\n\r\n");
    EXPECT_EQ(r.status, HttpParse::Status::refuse) << t;
    EXPECT_EQ(r.code, 403) << t;
  }
}

TEST(HttpRequest, Http10ClosesUnlessAskedToKeepAlive) {
  EXPECT_FALSE(parse("GET / HTTP/1.0\r\n\r\n").request.keep_alive);
  EXPECT_TRUE(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").request.keep_alive);
}

TEST(HttpRequest, MalformedRequestsGetTheirStatus) {
  struct Case {
    std::string in;
    int code;
  } cases[] = {
      {"GET / HTTP/1.1\r\n\r\n", 400},                                    // no Host
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},              // two
      {"GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505},
      {"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx", 400},
      {"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},                 // absolute-form
      {"GET /\ra HTTP/1.1\r\nHost: a\r\n\r\n", 400},                      // a bare CR
      {"DELETE / HTTP/1.1\r\nHost: a\r\n\r\n", 405},
      {"FROB / HTTP/1.1\r\nHost: a\r\n\r\n", 501},
      {"GET /%4 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"GET /" + std::string(kMaxTarget, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", 414},
  };
  for (const Case& c : cases) {
    const HttpParse p = parse(c.in);
    EXPECT_EQ(p.status, HttpParse::Status::refuse) << c.in;
    EXPECT_EQ(p.code, c.code) << c.in;
  }
  // A head that never ends: more is needed until the limit, then 431.
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\n").status, HttpParse::Status::need_more);
  const HttpParse big = parse("GET / HTTP/1.1\r\nX: " + std::string(kMaxHead, 'x'));
  EXPECT_EQ(big.status, HttpParse::Status::refuse);
  EXPECT_EQ(big.code, 431);
}

}  // namespace
}  // namespace platypos::examples::files
