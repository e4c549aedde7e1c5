#pragma once
// HTTP/1.1 requests as file-server parses them (RFC 9112): the request line and header fields up to the empty line,
// into a Request, or the status code to refuse it with. Pure functions over bytes, no allocation: what the HTTP
// fuzzer (tests/fuzz/http_request_fuzzer.cpp) and the unit tests drive directly.
//
// What it takes: GET and HEAD, origin-form targets ("/path?query"), HTTP/1.0 and HTTP/1.1, no request body. What it
// refuses, each with its status (and the server then closes the connection, since it cannot tell where the next
// request starts): a malformed line or field, bare CR, obsolete line folding, a field name followed by whitespace
// (400); an HTTP/1.1 request without exactly one Host (400); a body (Content-Length other than 0, or any
// Transfer-Encoding: 400); another method (405 for the standard ones, 501 for the rest); another major version (505);
// a target longer than kMaxTarget (414); a head longer than kMaxHead (431).
//
// The target's path becomes a path relative to the served directory: percent-decoded first (a bad escape or a NUL:
// 400), then split at '/', empty and "." segments dropped; a ".." segment is 403 (never resolved: nothing above the
// root is reachable by construction, and the kernel would refuse it anyway). A path that ends in '/' (or is empty)
// names the directory: the server serves its index.html.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace platypos::examples::files {

inline constexpr std::size_t kMaxHead = 8192;
inline constexpr std::size_t kMaxTarget = 2048;
inline constexpr std::size_t kMaxPath = 1024;  // the kernel's abi::kMaxPathBytes

enum class Method : std::uint8_t { get, head };

struct Request {
  Method method = Method::get;
  bool http10 = false;
  bool keep_alive = true;
  bool directory = false;   // the path ended in '/' (or was empty): the directory's index.html is meant
  char path[kMaxPath];      // relative, '/'-separated, no empty, "." or ".." segment; path_len 0: the root
  std::size_t path_len = 0;
  std::string_view path_view() const { return {path, path_len}; }
};

struct HttpParse {
  enum class Status : std::uint8_t {
    need_more,  // no complete head yet (and fewer than kMaxHead bytes)
    ok,         // `request` is good; `head_bytes` consumed
    refuse,     // answer `code` and close the connection
  } status = Status::need_more;
  int code = 0;
  std::size_t head_bytes = 0;
  Request request;
};

// Parses the request head at the start of `in`.
HttpParse parse_request(std::string_view in);

// The reason phrase for a status code file-server sends.
std::string_view reason(int code);

}  // namespace platypos::examples::files
