// libFuzzer target: kv-server's memcached command-line parser (examples/kv/protocol.cpp) over arbitrary bytes, the
// way a connection feeds it: parse, consume, parse again. Checks: every answer consumes at least one whole line and
// never more than it was given; a good command's keys are valid memcached keys and a storage command's size is
// within the item limit; every error and fatal answer is a complete reply line; "need more" only when no line is
// complete and the buffer is below the line limit.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "protocol.hpp"

using namespace platypos::examples::kv;

namespace {
void check(bool ok) {
  if (!ok) std::abort();
}

bool valid_key(std::string_view k) {
  if (k.empty() || k.size() > kMaxKey) return false;
  for (char c : k) {
    if (static_cast<unsigned char>(c) <= 32 || c == 127) return false;
  }
  return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (int guard = 0; guard < 100000 && !in.empty(); ++guard) {
    const Parse p = parse_command(in);
    if (p.status == Parse::Status::need_more) {
      check(in.find('\n') == std::string_view::npos && in.size() < kMaxLine);
      break;
    }
    if (p.status == Parse::Status::fatal) {
      check(p.reply.size() >= 2 && p.reply.substr(p.reply.size() - 2) == "\r\n");
      break;
    }
    check(p.line_bytes >= 1 && p.line_bytes <= in.size() && in[p.line_bytes - 1] == '\n');
    check(in.substr(0, p.line_bytes - 1).find('\n') == std::string_view::npos);
    if (p.status == Parse::Status::error) {
      check(p.reply.size() >= 2 && p.reply.substr(p.reply.size() - 2) == "\r\n");
    } else {
      const Command& c = p.command;
      check(c.verb != Verb::none);
      if (c.key_count > 0) check(valid_key(c.key));
      if (c.verb == Verb::get || c.verb == Verb::gets) {
        std::string_view rest = c.key_list, k;
        std::size_t n = 0;
        while (next_key(&rest, &k)) {
          check(valid_key(k) && (n > 0 || k == c.key));
          ++n;
        }
        check(n == c.key_count);
      }
      const bool keyed = c.verb != Verb::flush_all && c.verb != Verb::version && c.verb != Verb::stats &&
                         c.verb != Verb::verbosity && c.verb != Verb::quit;
      check(keyed == (c.key_count > 0));
      const bool storage = c.verb == Verb::set || c.verb == Verb::add || c.verb == Verb::replace ||
                           c.verb == Verb::append || c.verb == Verb::prepend || c.verb == Verb::cas;
      if (storage) check(c.bytes <= kMaxValue && c.key_count == 1);
    }
    in.remove_prefix(p.line_bytes);
  }
  return 0;
}
