#include <platypos/base/print.hpp>
#include <platypos/platform.hpp>

namespace platypos {
namespace {

// Collects output in a stack buffer and hands it to the console in chunks, so a message reaches the console in as
// few writes as possible (one, for anything under 256 bytes).
struct ChunkedConsole {
  char buf[256];
  usize len = 0;

  void flush() {
    if (len > 0) Platform::console_write(buf, len);
    len = 0;
  }
};

void chunked_write(void* ctx, const char* data, usize n) {
  auto* c = static_cast<ChunkedConsole*>(ctx);
  for (usize i = 0; i < n; ++i) {
    if (c->len == sizeof c->buf) c->flush();
    c->buf[c->len++] = data[i];
  }
}

void direct_write(void*, const char* data, usize n) { Platform::console_write(data, n); }

}  // namespace

void vprint(const char* fmt, const FormatArg* args, usize count) {
  ChunkedConsole out;
  vformat(FormatSink(&chunked_write, &out), fmt, args, count);
  out.flush();
}

FormatSink console_sink() { return FormatSink(&direct_write, nullptr); }

}  // namespace platypos
