// libFuzzer target: file-server's HTTP request parser (examples/files/http.cpp) over arbitrary bytes, the way a
// connection feeds it: parse, consume, parse again. Checks: every answer consumes a whole head within the limit and
// never more than it was given; a good request's path is relative and normalized (no empty, "." or ".." segment, no
// NUL or control byte, within kMaxPath); every refusal is a status the server has a reason phrase for; "need more"
// only while no head is complete and the buffer is below the head limit.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http.hpp"

using namespace platypos::examples::files;

namespace {
void check(bool ok) {
  if (!ok) std::abort();
}

void check_path(std::string_view p) {
  check(p.size() <= kMaxPath);
  if (p.empty()) return;
  check(p.front() != '/' && p.back() != '/');
  std::size_t start = 0;
  for (std::size_t i = 0; i <= p.size(); ++i) {
    if (i < p.size()) {
      const auto c = static_cast<unsigned char>(p[i]);
      check(c >= 0x20 && c != 0x7f);
      if (p[i] != '/') continue;
    }
    const std::string_view seg = p.substr(start, i - start);
    check(!seg.empty() && seg != "." && seg != "..");
    start = i + 1;
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (int guard = 0; guard < 10000 && !in.empty(); ++guard) {
    const HttpParse p = parse_request(in);
    if (p.status == HttpParse::Status::need_more) {
      check(in.size() < kMaxHead);
      break;
    }
    if (p.status == HttpParse::Status::refuse) {
      check(reason(p.code) != "Unknown" && p.code >= 400);
      break;  // the server closes the connection
    }
    check(p.head_bytes >= 2 && p.head_bytes <= in.size() && p.head_bytes <= kMaxHead + 2);
    check(in[p.head_bytes - 1] == '\n');
    check(p.request.method == Method::get || p.request.method == Method::head);
    check_path(p.request.path_view());
    in.remove_prefix(p.head_bytes);
  }
  return 0;
}
