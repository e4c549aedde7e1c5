// file-server: HTTP/1.1 GET and HEAD, with keep-alive, for the files beneath its directory handle; curl, wrk and
// browsers work against it. Nothing outside the directory is reachable: the path is decoded and normalized here
// (http.hpp: a ".." segment is 403), and the kernel opens only beneath the directory handle (no "..", links that
// lead out are access_denied: 403).
//
//   file-server [port=8080] [address=127.0.0.1 as 0x7f000001]
//   handles: 0 a net grant that allows listening on the address, 1 a directory (READ)
//
// A path that ends in '/' serves that directory's index.html (no listings); a directory named without the '/' is
// redirected (301) to it. One task per connection; a request's file is read in 64 KiB pieces, each sent before the
// next is read, so a slow reader holds one piece (and the kernel's send queue) of memory, not the file.
// Serves on core 0.

#include <platypos/base/format.hpp>

#include "../support/args.hpp"
#include "../support/console.hpp"
#include "../support/text.hpp"
#include "http.hpp"

namespace platypos::examples::files {
namespace {

using user::Context;
using user::Handle;
using user::Status;
using user::Task;


constexpr std::size_t kChunk = 64 * 1024;
constexpr std::size_t kOutBytes = 2048;  // a response head, or an error response

struct Server {
  Context* cx;
  Context& context() { return *cx; }
  Handle dir;
  std::uint64_t requests = 0;
};

// A response head (or a short error response), formatted on the stack; truncated() if it did not fit.
using Out = FormatBuffer<kOutBytes>;

std::string_view content_type(std::string_view path) {
  std::size_t dot = path.size();
  while (dot > 0 && path[dot - 1] != '.' && path[dot - 1] != '/') --dot;
  if (dot == 0 || path[dot - 1] != '.') return "application/octet-stream";
  const std::string_view ext = tail(path, dot);
  struct Type {
    std::string_view ext, type;
  };
  static constexpr Type kTypes[] = {
      {"html", "text/html; charset=utf-8"}, {"htm", "text/html; charset=utf-8"},
      {"txt", "text/plain; charset=utf-8"}, {"css", "text/css"},
      {"js", "text/javascript"},            {"json", "application/json"},
      {"png", "image/png"},                 {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},               {"gif", "image/gif"},
      {"svg", "image/svg+xml"},             {"ico", "image/x-icon"},
      {"wasm", "application/wasm"},         {"pdf", "application/pdf"},
  };
  for (const Type& t : kTypes)
    if (t.ext == ext) return t.type;
  return "application/octet-stream";
}

Task<bool> send_all(Context& cx, Handle stream, std::string_view bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    auto n = co_await cx.send(stream, tail(bytes, off));
    if (!n) co_return false;
    off += *n;
  }
  co_return true;
}

void head_start(Out& o, int code, bool keep_alive) {
  o.append("{}", "HTTP/1.1 ");
  o.append("{}", static_cast<std::uint64_t>(code));
  o.append("{}", " ");
  o.append("{}", reason(code));
  o.append("{}", "\r\nServer: platypos-file-server\r\n");
  o.append("{}", keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
}

// A response without a file: a short text body saying what happened (none for HEAD).
Task<bool> send_status(Context& cx, Handle stream, int code, bool keep_alive, bool head, std::string_view location) {
  Out o;
  head_start(o, code, keep_alive);
  if (code == 405) o.append("{}", "Allow: GET, HEAD\r\n");
  if (!location.empty()) {
    o.append("{}", "Location: ");
    o.append("{}", location);
    o.append("{}", "\r\n");
  }
  o.append("{}", "Content-Type: text/plain; charset=utf-8\r\nContent-Length: ");
  const std::string_view why = reason(code);
  o.append("{}", 4 + why.size() + 1);
  o.append("{}", "\r\n\r\n");
  if (!head) {
    o.append("{}", static_cast<std::uint64_t>(code));
    o.append("{}", " ");
    o.append("{}", why);
    o.append("{}", "\n");
  }
  co_return !o.truncated() && co_await send_all(cx, stream, o.view());
}

// Percent-encodes `path` for a Location header.
void add_encoded(Out& o, std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : path) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                       c == '.' || c == '_' || c == '~' || c == '/';
    if (plain) {
      o.append("{}", std::string_view(&c, 1));
    } else {
      const char e[3] = {'%', kHex[(static_cast<unsigned char>(c) >> 4) & 15], kHex[static_cast<unsigned char>(c) & 15]};
      o.append("{}", std::string_view(e, 3));
    }
  }
}

int status_for(Status st) {
  switch (st) {
    case Status::not_found:
    case Status::wrong_type: return 404;
    case Status::access_denied: return 403;
    case Status::invalid_argument: return 400;
    case Status::no_resources:
    case Status::no_memory: return 503;
    default: return 500;
  }
}

// One request: false if the connection must end.
Task<bool> serve(Server& s, Handle stream, const Request& r) {
  Context& cx = *s.cx;
  ++s.requests;
  const bool head = r.method == Method::head;
  // The file: the path, or its directory's index.html.
  char path[kMaxPath + 16];
  std::size_t n = 0;
  for (char c : r.path_view()) path[n++] = c;
  if (r.directory) {
    const std::string_view index = n == 0 ? "index.html" : "/index.html";
    for (char c : index) path[n++] = c;
  }
  if (n > kMaxPath) co_return co_await send_status(cx, stream, 414, r.keep_alive, head, {});
  const std::string_view file_path(path, n);
  auto f = co_await cx.open_at(s.dir, file_path, abi::kOpenRead);
  if (!f) {
    if (f.status() == Status::wrong_type && !r.directory) {
      // A directory named without its '/': send the client there.
      auto d = co_await cx.open_at(s.dir, file_path, abi::kOpenDirectory);
      if (d) {
        (void)co_await cx.close(*d);
        Out loc;
        loc.append("{}", "/");
        add_encoded(loc, file_path);
        loc.append("{}", "/");
        co_return !loc.truncated() && co_await send_status(cx, stream, 301, r.keep_alive, head, loc.view());
      }
    }
    co_return co_await send_status(cx, stream, status_for(f.status()), r.keep_alive, head, {});
  }
  auto size = co_await cx.size(*f);
  if (!size) {
    (void)co_await cx.close(*f);
    co_return co_await send_status(cx, stream, 500, r.keep_alive, head, {});
  }
  Out o;
  head_start(o, 200, r.keep_alive);
  o.append("{}", "Content-Type: ");
  o.append("{}", content_type(file_path));
  o.append("{}", "\r\nContent-Length: ");
  o.append("{}", *size);
  o.append("{}", "\r\n\r\n");
  bool ok = co_await send_all(cx, stream, o.view());
  if (ok && !head && *size > 0) {
    char* chunk = static_cast<char*>(cx.heap().alloc(kChunk));
    if (chunk == nullptr) {
      ok = false;  // (the head promised a body: the connection cannot go on)
    } else {
      std::uint64_t at = 0;
      while (ok && at < *size) {
        const std::uint64_t want = *size - at < kChunk ? *size - at : kChunk;
        auto got = co_await cx.read_at(*f, at, {chunk, static_cast<std::size_t>(want)});
        if (!got || *got == 0) {
          ok = false;  // the file shrank or failed under us: the length we sent is a lie now, so end here
          break;
        }
        ok = co_await send_all(cx, stream, {chunk, static_cast<std::size_t>(*got)});
        at += *got;
      }
      cx.heap().free(chunk, kChunk);
    }
  }
  (void)co_await cx.close(*f);
  co_return ok && r.keep_alive;
}

Task<void> serve_connection(Server& s, Handle stream) {
  Context& cx = *s.cx;
  char* in = static_cast<char*>(cx.heap().alloc(kMaxHead));
  std::size_t len = 0;
  bool open = in != nullptr;
  while (open) {
    // Every complete request in the buffer (pipelining), then read more.
    for (;;) {
      const HttpParse p = parse_request({in, len});
      if (p.status == HttpParse::Status::need_more) break;
      if (p.status == HttpParse::Status::refuse) {
        (void)co_await send_status(cx, stream, p.code, false, false, {});
        open = false;
        break;
      }
      const bool more = co_await serve(s, stream, p.request);
      for (std::size_t i = p.head_bytes; i < len; ++i) in[i - p.head_bytes] = in[i];
      len -= p.head_bytes;
      if (!more) {
        open = false;
        break;
      }
    }
    if (!open) break;
    auto got = co_await cx.recv(stream, {in + len, kMaxHead - len});
    if (!got || *got == 0) break;  // the client went
    len += *got;
  }
  if (in != nullptr) cx.heap().free(in, kMaxHead);
  (void)co_await cx.shutdown(stream, abi::kShutdownSend);
  (void)co_await cx.close(stream);
  co_return;
}

Task<int> file_server_main(Context& cx) {
  const Args args(cx.args());
  if (cx.env().core_index != 0) co_return 0;
  const auto handles = cx.initial_handles();
  const std::uint64_t port = args.u64_or("port", 8080);
  const std::uint64_t address = args.u64_or("address", 0x7f000001);
  if (handles.size() < 2 || !args.ok() || port > 65535 || address > 0xffffffffu) {
    co_await say(cx, "file-server: usage: file-server [port=N] [address=IPV4], with a net grant as handle 0 and a "
                     "directory as handle 1");
    co_return 2;
  }
  Server* s = cx.heap().make<Server>();
  if (s == nullptr) cx.fatal("file-server: no memory");
  s->cx = &cx;
  s->dir = handles[1];
  auto l = co_await cx.listen(handles[0], abi::ipv4_endpoint(static_cast<std::uint32_t>(address),
                                                              static_cast<std::uint16_t>(port)),
                              abi::kMaxBacklog);
  if (!l) {
    co_await say(cx, "file-server: cannot listen on port {}: {}", port, abi::status_name(l.status()));
    co_return 1;
  }
  co_await say(cx, "file-server: listening on {}.{}.{}.{}:{}", address >> 24, (address >> 16) & 0xff,
               (address >> 8) & 0xff, address & 0xff, l->port);
  auto on_connection = [](void* server, Handle stream) {
    auto* srv = static_cast<Server*>(server);
    srv->cx->spawn(serve_connection(*srv, stream));
  };
  for (;;) {
    const auto r = co_await cx.accept_each(l->listener, on_connection, s);
    const Status st = r ? Status::ok : r.status();
    if (st != Status::no_resources) {
      co_await say(cx, "file-server: accepting stopped: {}", abi::status_name(st));
      break;
    }
    (void)co_await cx.sleep(1'000'000);  // out of handles: that connection was closed; try again shortly
  }
  co_return 1;
}

}  // namespace
PLATYPOS_USER_PROGRAM("file-server", file_server_main);
}  // namespace platypos::examples::files
