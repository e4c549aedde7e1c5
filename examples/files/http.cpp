#include "http.hpp"

#include "../support/text.hpp"

namespace platypos::examples::files {
namespace {


bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '.': case '^':
    case '_': case '`': case '|': case '~': return true;
    default: return false;
  }
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_tchar(c)) return false;
  return true;
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

HttpParse refuse(int code, std::size_t head_bytes = 0) {
  HttpParse p;
  p.status = HttpParse::Status::refuse;
  p.code = code;
  p.head_bytes = head_bytes;
  return p;
}

// The next line of the head: [pos, end of line) without its "\r\n" (or bare "\n"). False at a bare CR inside it.
bool next_line(std::string_view block, std::size_t* pos, std::string_view* line) {
  const std::size_t start = *pos;
  std::size_t i = start;
  while (i < block.size() && block[i] != '\n') ++i;
  std::size_t end = i;
  if (end > start && block[end - 1] == '\r') --end;
  *line = std::string_view(block.data() + start, end - start);
  *pos = i + 1;
  for (char c : *line)
    if (c == '\r') return false;
  return true;
}

// Connection: a comma-separated list of options.
void connection_options(std::string_view v, bool* close, bool* keep_alive) {
  while (!v.empty()) {
    std::size_t comma = 0;
    while (comma < v.size() && v[comma] != ',') ++comma;
    const std::string_view opt = trim(head(v, comma));
    if (iequals(opt, "close")) *close = true;
    if (iequals(opt, "keep-alive")) *keep_alive = true;
    v.remove_prefix(comma < v.size() ? comma + 1 : comma);
  }
}

// The target's path (before '?'), decoded and normalized into r.path. 0 or the status to refuse with.
int decode_path(std::string_view target, Request& r) {
  std::size_t end = 0;
  while (end < target.size() && target[end] != '?' && target[end] != '#') ++end;
  const std::string_view raw = head(target, end);
  // Decode into a scratch copy first (segments are only known once decoded: "%2e%2e" is "..").
  char decoded[kMaxTarget];
  std::size_t n = 0;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '%') {
      if (i + 2 >= raw.size()) return 400;
      const int hi = hex(raw[i + 1]), lo = hex(raw[i + 2]);
      if (hi < 0 || lo < 0) return 400;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (c == '\0') return 400;
    decoded[n++] = c;
  }
  // Split and normalize.
  r.path_len = 0;
  r.directory = n == 0 || decoded[n - 1] == '/';
  std::size_t i = 0;
  while (i < n) {
    std::size_t j = i;
    while (j < n && decoded[j] != '/') ++j;
    const std::string_view seg(decoded + i, j - i);
    i = j + 1;
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") return 403;
    for (char c : seg)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return 400;
    const std::size_t need = r.path_len + (r.path_len > 0 ? 1 : 0) + seg.size();
    if (need > kMaxPath) return 414;
    if (r.path_len > 0) r.path[r.path_len++] = '/';
    for (char c : seg) r.path[r.path_len++] = c;
  }
  return 0;
}

}  // namespace

std::string_view reason(int code) {
  switch (code) {
    case 200: return "OK";
    case 301: return "Moved Permanently";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

HttpParse parse_request(std::string_view in) {
  // RFC 9112 2.2: a server SHOULD ignore at least one empty line before the request line.
  std::size_t lead = 0;
  while (lead < in.size() && lead < 4 && (in[lead] == '\r' || in[lead] == '\n')) ++lead;
  // The end of the head: an empty line.
  std::size_t end = 0;
  bool found = false;
  for (std::size_t i = lead; i < in.size() && i < kMaxHead; ++i) {
    if (in[i] != '\n') continue;
    if (i + 1 < in.size() && in[i + 1] == '\n') {
      end = i + 2;
      found = true;
      break;
    }
    if (i + 2 < in.size() && in[i + 1] == '\r' && in[i + 2] == '\n') {
      end = i + 3;
      found = true;
      break;
    }
  }
  if (!found || end > kMaxHead) {
    if (in.size() >= kMaxHead) return refuse(431);
    return HttpParse{};
  }
  const std::string_view block = head(in, end);
  HttpParse p;
  p.head_bytes = end;
  Request& r = p.request;
  std::size_t pos = lead;
  std::string_view line;
  if (!next_line(block, &pos, &line)) return refuse(400, end);
  // The request line: method SP target SP version, single spaces.
  std::size_t sp1 = 0;
  while (sp1 < line.size() && line[sp1] != ' ') ++sp1;
  if (sp1 == line.size()) return refuse(400, end);
  std::size_t sp2 = sp1 + 1;
  while (sp2 < line.size() && line[sp2] != ' ') ++sp2;
  if (sp2 == line.size()) return refuse(400, end);
  const std::string_view method = head(line, sp1);
  const std::string_view target = head(tail(line, sp1 + 1), sp2 - sp1 - 1);
  const std::string_view version = tail(line, sp2 + 1);
  if (!is_token(method) || target.empty()) return refuse(400, end);
  if (version.size() != 8 || head(version, 5) != "HTTP/" || version[6] != '.' || version[5] < '0' ||
      version[5] > '9' || version[7] < '0' || version[7] > '9') {
    return refuse(400, end);
  }
  if (version[5] != '1') return refuse(505, end);
  r.http10 = version[7] == '0';
  r.keep_alive = !r.http10;
  for (char c : target)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return refuse(400, end);
  if (target.size() > kMaxTarget) return refuse(414, end);
  if (target[0] != '/') return refuse(400, end);  // origin-form only
  if (method == "GET") {
    r.method = Method::get;
  } else if (method == "HEAD") {
    r.method = Method::head;
  } else if (method == "POST" || method == "PUT" || method == "DELETE" || method == "PATCH" || method == "OPTIONS" ||
             method == "CONNECT" || method == "TRACE") {
    return refuse(405, end);
  } else {
    return refuse(501, end);
  }
  // Header fields.
  int hosts = 0;
  bool close = false, keep_alive = false;
  for (;;) {
    if (!next_line(block, &pos, &line)) return refuse(400, end);
    if (line.empty()) break;
    if (line[0] == ' ' || line[0] == '\t') return refuse(400, end);  // obsolete line folding
    std::size_t colon = 0;
    while (colon < line.size() && line[colon] != ':') ++colon;
    if (colon == line.size()) return refuse(400, end);
    const std::string_view name = head(line, colon);
    if (!is_token(name)) return refuse(400, end);  // (also: whitespace before the colon)
    const std::string_view value = trim(tail(line, colon + 1));
    for (char c : value)
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) return refuse(400, end);
    if (iequals(name, "host")) {
      ++hosts;
    } else if (iequals(name, "connection")) {
      connection_options(value, &close, &keep_alive);
    } else if (iequals(name, "content-length")) {
      if (value != "0") return refuse(400, end);
    } else if (iequals(name, "transfer-encoding")) {
      return refuse(400, end);
    }
  }
  if (!r.http10 && hosts != 1) return refuse(400, end);
  if (hosts > 1) return refuse(400, end);
  if (close) r.keep_alive = false;
  else if (keep_alive) r.keep_alive = true;
  if (const int code = decode_path(target, r); code != 0) return refuse(code, end);
  p.status = HttpParse::Status::ok;
  return p;
}

}  // namespace platypos::examples::files
