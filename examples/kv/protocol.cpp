#include "protocol.hpp"

namespace platypos::examples::kv {
namespace {

constexpr std::string_view kError = "ERROR\r\n";
constexpr std::string_view kBadFormat = "CLIENT_ERROR bad command line format\r\n";
constexpr std::string_view kTooLarge = "SERVER_ERROR object too large for cache\r\n";
constexpr std::string_view kLineTooLong = "CLIENT_ERROR line too long\r\n";
constexpr std::string_view kBadDelta = "CLIENT_ERROR invalid numeric delta argument\r\n";
constexpr std::string_view kBadExptime = "CLIENT_ERROR invalid exptime argument\r\n";

// Splits a line into space-separated tokens (memcached splits on spaces; tabs are part of a token).
struct Tokens {
  std::string_view t[8];  // the longest command: cas <key> <flags> <exptime> <bytes> <cas> noreply
  std::size_t n = 0;
  bool overflow = false;
};

Tokens tokenize(std::string_view line) {
  Tokens tk;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    if (i == line.size()) break;
    std::size_t j = i;
    while (j < line.size() && line[j] != ' ') ++j;
    if (tk.n == sizeof(tk.t) / sizeof(tk.t[0])) {
      tk.overflow = true;
      break;
    }
    tk.t[tk.n++] = std::string_view(line.data() + i, j - i);  // (not substr: it can throw, and this is freestanding)
    i = j;
  }
  return tk;
}

bool valid_key(std::string_view k) {
  if (k.empty() || k.size() > kMaxKey) return false;
  for (char c : k) {
    if (static_cast<unsigned char>(c) <= 32 || c == 127) return false;
  }
  return true;
}

Verb verb_of(std::string_view w) {
  struct Name {
    std::string_view name;
    Verb verb;
  };
  static constexpr Name kNames[] = {
      {"get", Verb::get},         {"gets", Verb::gets},         {"set", Verb::set},
      {"add", Verb::add},         {"replace", Verb::replace},   {"append", Verb::append},
      {"prepend", Verb::prepend}, {"cas", Verb::cas},           {"delete", Verb::del},
      {"incr", Verb::incr},       {"decr", Verb::decr},         {"touch", Verb::touch},
      {"flush_all", Verb::flush_all}, {"version", Verb::version}, {"stats", Verb::stats},
      {"verbosity", Verb::verbosity}, {"quit", Verb::quit},
  };
  for (const Name& n : kNames)
    if (n.name == w) return n.verb;
  return Verb::none;
}

Parse fail(std::size_t line_bytes, std::string_view reply) {
  Parse p;
  p.status = Parse::Status::error;
  p.line_bytes = line_bytes;
  p.reply = reply;
  return p;
}

}  // namespace

bool parse_u64(std::string_view s, std::uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (v > (~std::uint64_t{0} - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

bool parse_i64(std::string_view s, std::int64_t* out) {
  const bool neg = !s.empty() && s[0] == '-';
  std::uint64_t v = 0;
  if (!parse_u64(neg ? std::string_view(s.data() + 1, s.size() - 1) : s, &v)) return false;
  if (neg ? v > (std::uint64_t{1} << 63) : v > (std::uint64_t{1} << 63) - 1) return false;
  *out = neg ? static_cast<std::int64_t>(0 - v) : static_cast<std::int64_t>(v);
  return true;
}

bool next_key(std::string_view* rest, std::string_view* key) {
  std::size_t i = 0;
  while (i < rest->size() && (*rest)[i] == ' ') ++i;
  if (i == rest->size()) {
    *rest = std::string_view();
    return false;
  }
  std::size_t j = i;
  while (j < rest->size() && (*rest)[j] != ' ') ++j;
  *key = std::string_view(rest->data() + i, j - i);
  *rest = std::string_view(rest->data() + j, rest->size() - j);
  return true;
}

Parse parse_command(std::string_view in) {
  std::size_t nl = 0;  // (a loop, not find(): no memchr in a freestanding program)
  while (nl < in.size() && in[nl] != '\n') ++nl;
  if (nl == in.size()) {
    Parse p;
    if (in.size() >= kMaxLine) {
      p.status = Parse::Status::fatal;
      p.reply = kLineTooLong;
    }
    return p;
  }
  const std::size_t line_bytes = nl + 1;
  if (nl >= kMaxLine) {
    Parse p;
    p.status = Parse::Status::fatal;
    p.reply = kLineTooLong;
    return p;
  }
  std::string_view line(in.data(), nl);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // memcached takes a bare "\n" too
  const Tokens tk = tokenize(line);
  if (tk.n == 0) return fail(line_bytes, kError);
  Parse p;
  p.line_bytes = line_bytes;
  Command& c = p.command;
  c.verb = verb_of(tk.t[0]);
  const std::size_t args = tk.n - 1;
  const std::string_view* a = tk.t + 1;
  auto noreply_at = [&](std::size_t i) { return args == i + 1 && a[i] == "noreply"; };
  if (tk.overflow && c.verb != Verb::get && c.verb != Verb::gets) return fail(line_bytes, kError);
  switch (c.verb) {
    case Verb::none: return fail(line_bytes, kError);
    case Verb::get:
    case Verb::gets:
    {
      if (args == 0) return fail(line_bytes, kError);
      // Every key on the line (there may be more than the tokens above hold).
      const std::size_t after_verb = static_cast<std::size_t>(tk.t[0].data() + tk.t[0].size() - line.data());
      c.key_list = std::string_view(line.data() + after_verb, line.size() - after_verb);
      std::string_view rest = c.key_list, k;
      while (next_key(&rest, &k)) {
        if (!valid_key(k)) return fail(line_bytes, kBadFormat);
        if (c.key_count == 0) c.key = k;
        ++c.key_count;
      }
      break;
    }
    case Verb::set:
    case Verb::add:
    case Verb::replace:
    case Verb::append:
    case Verb::prepend:
    case Verb::cas: {
      const std::size_t fixed = c.verb == Verb::cas ? 5 : 4;
      if (args != fixed && !noreply_at(fixed)) return fail(line_bytes, kError);
      c.noreply = args == fixed + 1;
      std::uint64_t flags = 0;
      std::int64_t bytes = 0;
      if (!parse_u64(a[1], &flags) || flags > 0xffffffffu || !parse_i64(a[2], &c.exptime) ||
          !parse_i64(a[3], &bytes) || bytes < 0 ||
          (c.verb == Verb::cas && !parse_u64(a[4], &c.cas))) {
        return fail(line_bytes, kBadFormat);
      }
      c.flags = static_cast<std::uint32_t>(flags);
      c.bytes = static_cast<std::uint64_t>(bytes);
      if (!valid_key(a[0])) {
        // memcached answers and skips the data block when the rest of the line made sense.
        Parse e = fail(line_bytes, kBadFormat);
        e.swallow = c.bytes + 2;
        return e;
      }
      if (c.bytes > kMaxValue) {
        Parse e = fail(line_bytes, kTooLarge);
        e.swallow = c.bytes + 2;
        return e;
      }
      c.key = a[0];
      c.key_count = 1;
      break;
    }
    case Verb::del:
      // "delete <key> [0] [noreply]": memcached still takes a 0 time for old clients.
      if (args == 0 || args > 3) return fail(line_bytes, kError);
      if (!valid_key(a[0])) return fail(line_bytes, kBadFormat);
      if (args == 2 && a[1] != "noreply" && a[1] != "0") {
        return fail(line_bytes, "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n");
      }
      if (args == 3 && (a[1] != "0" || a[2] != "noreply")) return fail(line_bytes, kBadFormat);
      c.noreply = a[args - 1] == "noreply";
      c.key = a[0];
      c.key_count = 1;
      break;
    case Verb::incr:
    case Verb::decr:
      if (args != 2 && !noreply_at(2)) return fail(line_bytes, kError);
      if (!valid_key(a[0])) return fail(line_bytes, kBadFormat);
      if (!parse_u64(a[1], &c.delta)) return fail(line_bytes, kBadDelta);
      c.noreply = args == 3;
      c.key = a[0];
      c.key_count = 1;
      break;
    case Verb::touch:
      if (args != 2 && !noreply_at(2)) return fail(line_bytes, kError);
      if (!valid_key(a[0])) return fail(line_bytes, kBadFormat);
      if (!parse_i64(a[1], &c.exptime)) return fail(line_bytes, kBadExptime);
      c.noreply = args == 3;
      c.key = a[0];
      c.key_count = 1;
      break;
    case Verb::flush_all:
      if (args > 2) return fail(line_bytes, kError);
      if (args >= 1 && a[args - 1] == "noreply") c.noreply = true;
      if (args - (c.noreply ? 1 : 0) == 1) {
        if (!parse_i64(a[0], &c.exptime) || c.exptime < 0) return fail(line_bytes, kBadFormat);
        c.has_delay = true;
      } else if (args == 2) {
        return fail(line_bytes, kError);
      }
      break;
    case Verb::verbosity:
      if (args == 0 || args > 2) return fail(line_bytes, kError);
      c.noreply = a[args - 1] == "noreply";  // (memcached: the level is optional)
      break;
    case Verb::version:
    case Verb::quit:
      break;  // memcached ignores anything after them
    case Verb::stats:
      // The general statistics only: a group (items, slabs, settings...) is not kept, and memcached answers a group
      // it does not know with ERROR.
      if (args != 0) return fail(line_bytes, kError);
      break;
  }
  p.status = Parse::Status::ok;
  return p;
}

}  // namespace platypos::examples::kv
