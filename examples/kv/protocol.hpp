#pragma once
// The memcached text protocol's command lines, as kv-server parses them: one line (up to "\r\n") into a Command, or
// the reply memcached gives to a malformed one. Pure functions over bytes, no allocation: what the parser fuzzer
// (tests/fuzz/kv_protocol_fuzzer.cpp) and the unit tests drive directly.
//
// Limits are memcached's where clients depend on them: keys up to 250 bytes with no control characters or spaces,
// items up to 1 MiB, a command line up to 2048 bytes (so a get names as many keys as fit in it).

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace platypos::examples::kv {

inline constexpr std::size_t kMaxKey = 250;
inline constexpr std::size_t kMaxValue = 1024 * 1024;
inline constexpr std::size_t kMaxLine = 2048;

enum class Verb : std::uint8_t {
  none,  // not parsed: see Parse::reply
  get,
  gets,
  set,
  add,
  replace,
  append,
  prepend,
  cas,
  del,
  incr,
  decr,
  touch,
  flush_all,
  version,
  stats,
  verbosity,
  quit,
};

struct Command {
  Verb verb = Verb::none;
  std::string_view key;       // the key (get/gets: the first)
  std::string_view key_list;  // get/gets: every key, space-separated as on the line (next_key walks it)
  std::size_t key_count = 0;
  std::uint32_t flags = 0;
  std::int64_t exptime = 0;
  std::uint64_t bytes = 0;  // storage commands: the data block that follows the line (without its "\r\n")
  std::uint64_t cas = 0;
  std::uint64_t delta = 0;  // incr/decr
  bool noreply = false;
  bool has_delay = false;   // flush_all
};

struct Parse {
  enum class Status : std::uint8_t {
    need_more,  // no complete line yet (and the buffer is below kMaxLine)
    ok,         // `command` is good; `line_bytes` consumed (the line and its "\r\n")
    error,      // answer `reply` and consume `line_bytes`; for a storage command `swallow` more bytes (its data block
                // and "\r\n") are skipped too, as memcached does for an item that is too large
    fatal,      // answer `reply` and close the connection (a line longer than kMaxLine)
  } status = Status::need_more;
  Command command;
  std::size_t line_bytes = 0;
  std::uint64_t swallow = 0;
  std::string_view reply;
};

// The next key of a get's key_list: false when none is left. `rest` moves past it.
bool next_key(std::string_view* rest, std::string_view* key);

// Parses the command line at the start of `in`.
Parse parse_command(std::string_view in);

// Decimal parsing the way memcached accepts numbers (no sign for unsigned, no junk after the digits, no overflow).
bool parse_u64(std::string_view s, std::uint64_t* out);
bool parse_i64(std::string_view s, std::int64_t* out);

}  // namespace platypos::examples::kv
