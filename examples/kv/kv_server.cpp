// kv-server: a memcached-compatible server (the text protocol) on the sockets its net grant allows, so unmodified
// memcached clients work against it (libmemcached's tools, pymemcache, nc).
//
//   kv-server [port=11311] [address=127.0.0.1 as 0x7f000001] [memory=BYTES] [connections=4096] [epoch=UNIX_SECONDS]
//   handles: 0 a net grant that allows listening on the address
//
// Items live in `memory` bytes of the program's own memory (default: 3/4 of its heap, at most all but 8 MiB), in
// memcached-style slab classes with an LRU each: when they are full, the least recently used items of the class go
// (cache.hpp). It never grows past that. `epoch` is the Unix time at launch, for memcached's absolute expiry times
// (a relative time is up to 30 days in seconds); without it, absolute times are refused as invalid.
//
// One task per connection: it reads into a buffer that grows to hold one command line and one item (1 MiB), answers
// every complete command in it into an output buffer, and sends that once it holds kOutFlush bytes (a many-key get
// in the middle of its keys) and before it reads again, so a client that does not read its replies holds at most
// 256 KiB and one value of them (the kernel's send queue then fills: backpressure). Beyond `connections` open at
// once, a new connection gets memcached's "SERVER_ERROR too many open connections" and is closed.
// Serves on every core it is given: core 0 sets up the item store (in its heap, carved up front: nothing touches
// that heap from another core) and the listener, and publishes them in its env's program_word; it accepts and deals
// the connections out round robin to the cores (their inboxes, an event each), and every core serves its own. The
// store is shared under one spinlock (commands never suspend while holding it).

#include <platypos/base/format.hpp>

#include <atomic>

#include "../support/args.hpp"
#include "../support/console.hpp"
#include "cache.hpp"
#include "protocol.hpp"

namespace platypos::examples::kv {
namespace {

using user::Context;
using user::Handle;
using user::Status;
using user::Task;

// A spinlock in program memory, for the cores of this process (the kernel's are not the program's to use).
class SpinLock {
 public:
  void lock() {
    while (flag_.exchange(true, std::memory_order_acquire)) {
      while (flag_.load(std::memory_order_relaxed)) {
      }
    }
  }
  void unlock() { flag_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> flag_{false};
};
class Guard {
 public:
  explicit Guard(SpinLock& l) : l_(l) { l_.lock(); }
  ~Guard() { l_.unlock(); }
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;

 private:
  SpinLock& l_;
};

constexpr std::uint64_t kRelativeLimit = 60 * 60 * 24 * 30;  // memcached: larger exptimes are Unix times
// An idle connection holds kInitialIn bytes of buffer (and its task); the output buffer is made on the first reply.
constexpr std::size_t kInitialIn = 1024;
constexpr std::size_t kMaxIn = 2 * 1024 * 1024;  // a line and a 1 MiB item, with room to spare
// Replies are sent once this many are waiting (and before the next command is read): a client that pipelines
// requests without reading the replies holds at most this, plus one value, of the server's memory.
constexpr std::size_t kOutFlush = 256 * 1024;
constexpr std::uint64_t kDefaultConnections = 4096;
constexpr std::string_view kTooMany = "SERVER_ERROR too many open connections\r\n";

// A core's inbox: connections core 0 accepted for it; `event` (its user signal kInboxSignal) says one is there.
constexpr std::uint32_t kInboxSize = 1024;
constexpr std::uint32_t kInboxSignal = 1u << 24;
struct Inbox {
  Handle items[kInboxSize];
  std::uint32_t head = 0, tail = 0;
  Handle event{};
  bool ready = false;  // the core is up and waits on `event`
};

// The item store and counters every core shares: touched only under `lock` (no task suspends while holding it).
struct Server {
  Context* cx;  // core 0's (its clock: the same on every core)
  SpinLock lock;
  Cache cache;
  Handle listener;
  std::uint64_t epoch_s = 0;     // Unix time at start_ns (0: unknown)
  std::uint64_t start_ns = 0;
  std::uint64_t connections = 0;
  std::uint64_t max_connections = kDefaultConnections;
  std::uint64_t total_connections = 0;
  std::uint64_t rejected_connections = 0;
  std::uint64_t core_connections[abi::kMaxProgramCores] = {};  // served by each core, in all
  std::uint32_t cores = 1;
  std::uint32_t next_core = 0;
  Inbox inbox[abi::kMaxProgramCores];
  std::uint64_t gets = 0, hits = 0, misses = 0, sets = 0;
  std::uint64_t flush_at_ns = 0;  // a delayed flush_all (0: none)
};

// One app core's side: its executor and heap (connection buffers, task frames) and the shared store.
struct Worker {
  Context* cx;
  Server* s;
  Context& context() { return *cx; }  // (a coroutine's frame comes from its context's heap: this core's)
};

// A growable byte buffer from the program's heap.
struct Buffer {
  user::Heap* heap = nullptr;
  char* data = nullptr;
  std::size_t cap = 0;
  std::size_t len = 0;
  bool reserve(std::size_t want) {
    if (want <= cap) return true;
    std::size_t n = cap == 0 ? 256 : cap;
    while (n < want) n *= 2;
    char* d = static_cast<char*>(heap->alloc(n));
    if (d == nullptr) return false;
    if (len > 0) __builtin_memcpy(d, data, len);
    if (data != nullptr) heap->free(data, cap);
    data = d;
    cap = n;
    return true;
  }
  void release() {
    if (data != nullptr) heap->free(data, cap);
    data = nullptr;
    cap = len = 0;
  }
  bool append(std::string_view s) {
    if (!reserve(len + s.size())) return false;
    __builtin_memcpy(data + len, s.data(), s.size());
    len += s.size();
    return true;
  }
  bool append_u64(std::uint64_t v) {
    char tmp[24];
    std::size_t n = 0;
    do {
      tmp[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    char out[24];
    for (std::size_t i = 0; i < n; ++i) out[i] = tmp[n - 1 - i];
    return append({out, n});
  }
  void consume(std::size_t n) {
    __builtin_memmove(data, data + n, len - n);
    len -= n;
  }
};

// memcached's exptime to a monotonic deadline: 0 never; negative: already expired; up to 30 days: relative seconds;
// above: a Unix time. False: an absolute time while the Unix time is unknown.
bool deadline_of(const Server& s, std::int64_t exptime, std::uint64_t now, std::uint64_t* out) {
  if (exptime == 0) {
    *out = 0;
    return true;
  }
  if (exptime < 0) {
    *out = 1;  // in the past: gone at the next look
    return true;
  }
  const auto e = static_cast<std::uint64_t>(exptime);
  if (e <= kRelativeLimit) {
    *out = now + e * 1'000'000'000ull;
    return true;
  }
  if (s.epoch_s == 0) return false;
  const std::uint64_t unix_now = s.epoch_s + (now - s.start_ns) / 1'000'000'000ull;
  *out = e <= unix_now ? 1 : now + (e - unix_now) * 1'000'000'000ull;
  return true;
}

void reply(Buffer& out, const Command& c, std::string_view text) {
  if (!c.noreply) (void)out.append(text);
}

// Runs a storage command whose data block is `data`.
void store(Server& s, const Command& c, std::string_view data, Buffer& out) {
  ++s.sets;
  const std::uint64_t now = s.cx->now_ns();
  const std::string_view key = c.key;
  Item* old = s.cache.find(key, now);
  std::uint64_t deadline = 0;
  if (!deadline_of(s, c.exptime, now, &deadline)) return reply(out, c, "CLIENT_ERROR invalid exptime argument\r\n");
  switch (c.verb) {
    case Verb::add:
      if (old != nullptr) {
        s.cache.touch(old);
        return reply(out, c, "NOT_STORED\r\n");
      }
      break;
    case Verb::replace:
    case Verb::append:
    case Verb::prepend:
      if (old == nullptr) return reply(out, c, "NOT_STORED\r\n");
      break;
    case Verb::cas:
      if (old == nullptr) return reply(out, c, "NOT_FOUND\r\n");
      if (old->cas != c.cas) return reply(out, c, "EXISTS\r\n");
      break;
    default:
      break;
  }
  const bool concat = c.verb == Verb::append || c.verb == Verb::prepend;
  const std::size_t len = data.size() + (concat ? old->value_len : 0);
  bool too_large = false;
  Item* it = len <= s.cache.max_value(key.size()) ? s.cache.allocate(key, len, &too_large) : nullptr;
  if (it == nullptr) {
    if (len > s.cache.max_value(key.size()) || too_large) {
      return reply(out, c, "SERVER_ERROR object too large for cache\r\n");
    }
    return reply(out, c, "SERVER_ERROR out of memory storing object\r\n");
  }
  // (allocate may have evicted `old`: look again before reading it.)
  old = s.cache.find(key, now);
  if (concat && old == nullptr) {
    s.cache.discard(it);
    return reply(out, c, "NOT_STORED\r\n");
  }
  if (concat) {
    it->flags = old->flags;
    it->expires_ns = old->expires_ns;
    char* v = it->value();
    if (c.verb == Verb::append) {
      __builtin_memcpy(v, old->value(), old->value_len);
      __builtin_memcpy(v + old->value_len, data.data(), data.size());
    } else {
      __builtin_memcpy(v, data.data(), data.size());
      __builtin_memcpy(v + data.size(), old->value(), old->value_len);
    }
  } else {
    it->flags = c.flags;
    it->expires_ns = deadline;
    __builtin_memcpy(it->value(), data.data(), data.size());
  }
  s.cache.link(it);
  reply(out, c, "STORED\r\n");
}

// Appends the values of the keys left in *keys until the output holds kOutFlush bytes: true once every key is done
// (and END appended), false when the output should be sent before the rest (*keys: what is left).
bool retrieve(Server& s, const Command& c, std::string_view* keys, Buffer& out) {
  const std::uint64_t now = s.cx->now_ns();
  std::string_view key;
  while (out.len < kOutFlush) {
    if (!next_key(keys, &key)) {
      (void)out.append("END\r\n");
      return true;
    }
    ++s.gets;
    Item* it = s.cache.find(key, now);
    if (it == nullptr) {
      ++s.misses;
      continue;
    }
    ++s.hits;
    s.cache.touch(it);
    bool ok = out.append("VALUE ") && out.append(it->key_view()) && out.append(" ") && out.append_u64(it->flags) &&
              out.append(" ") && out.append_u64(it->value_len);
    if (c.verb == Verb::gets) ok = ok && out.append(" ") && out.append_u64(it->cas);
    ok = ok && out.append("\r\n") && out.append(it->value_view()) && out.append("\r\n");
    if (!ok) {
      (void)out.append("SERVER_ERROR out of memory writing get response\r\n");
      *keys = {};
      return true;
    }
  }
  return false;
}

void arithmetic(Server& s, const Command& c, Buffer& out) {
  const std::uint64_t now = s.cx->now_ns();
  Item* it = s.cache.find(c.key, now);
  if (it == nullptr) return reply(out, c, "NOT_FOUND\r\n");
  std::uint64_t v = 0;
  if (!parse_u64(it->value_view(), &v)) {
    return reply(out, c, "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
  }
  v = c.verb == Verb::incr ? v + c.delta : (c.delta > v ? 0 : v - c.delta);  // incr wraps at 2^64, decr stops at 0
  char digits[24];
  std::size_t n = 0;
  char tmp[24];
  std::uint64_t x = v;
  do {
    tmp[n++] = static_cast<char>('0' + x % 10);
    x /= 10;
  } while (x != 0);
  for (std::size_t i = 0; i < n; ++i) digits[i] = tmp[n - 1 - i];
  bool too_large = false;
  Item* fresh = s.cache.allocate(c.key, n, &too_large);
  if (fresh == nullptr) return reply(out, c, "SERVER_ERROR out of memory\r\n");
  it = s.cache.find(c.key, now);
  if (it == nullptr) {
    s.cache.discard(fresh);
    return reply(out, c, "NOT_FOUND\r\n");
  }
  fresh->flags = it->flags;
  fresh->expires_ns = it->expires_ns;
  __builtin_memcpy(fresh->value(), digits, n);
  s.cache.link(fresh);
  if (!c.noreply) (void)(out.append({digits, n}) && out.append("\r\n"));
}

void stats(Server& s, Buffer& out, Context& local) {
  const Cache::Stats& st = s.cache.stats();
  const std::uint64_t now = s.cx->now_ns();
  auto stat = [&](std::string_view name, std::uint64_t v) {
    (void)(out.append("STAT ") && out.append(name) && out.append(" ") && out.append_u64(v) && out.append("\r\n"));
  };
  stat("pid", 1);
  stat("uptime", (now - s.start_ns) / 1'000'000'000ull);
  stat("time", s.epoch_s + (now - s.start_ns) / 1'000'000'000ull);
  (void)out.append("STAT version 1.6.0\r\n");
  stat("curr_connections", s.connections);
  stat("total_connections", s.total_connections);
  stat("max_connections", s.max_connections);
  stat("rejected_connections", s.rejected_connections);
  stat("cmd_get", s.gets);
  stat("cmd_set", s.sets);
  stat("get_hits", s.hits);
  stat("get_misses", s.misses);
  stat("curr_items", st.items);
  stat("total_items", st.total_items);
  stat("bytes", st.bytes);
  stat("limit_maxbytes", s.cache.budget());
  stat("evictions", st.evictions);
  stat("expired_unfetched", st.expired);
  stat("threads", s.cx->env().cores);
  // Not memcached's: the heap of the core answering (items on core 0's, connection buffers, task frames), now and at
  // its peak.
  for (std::uint32_t i = 0; i < s.cx->env().cores; ++i) {
    FormatBuffer<32> name;
    name.append("total_connections_core_{}", i);
    stat(name.view(), s.core_connections[i]);
  }
  stat("heap_in_use", local.heap().in_use());
  stat("heap_peak", local.heap().peak());
  (void)out.append("END\r\n");
}

// One command; false: close the connection (quit).
bool execute(Server& s, const Command& c, std::string_view data, Buffer& out, Context& local) {
  switch (c.verb) {
    case Verb::get:
    case Verb::gets: break;  // (serve_connection: retrieve, which may send part of the reply first)
    case Verb::set:
    case Verb::add:
    case Verb::replace:
    case Verb::append:
    case Verb::prepend:
    case Verb::cas: store(s, c, data, out); break;
    case Verb::del: {
      Item* it = s.cache.find(c.key, s.cx->now_ns());
      if (it == nullptr) return reply(out, c, "NOT_FOUND\r\n"), true;
      s.cache.remove(it);
      reply(out, c, "DELETED\r\n");
      break;
    }
    case Verb::incr:
    case Verb::decr: arithmetic(s, c, out); break;
    case Verb::touch: {
      const std::uint64_t now = s.cx->now_ns();
      Item* it = s.cache.find(c.key, now);
      if (it == nullptr) return reply(out, c, "NOT_FOUND\r\n"), true;
      std::uint64_t deadline = 0;
      if (!deadline_of(s, c.exptime, now, &deadline)) {
        return reply(out, c, "CLIENT_ERROR invalid exptime argument\r\n"), true;
      }
      it->expires_ns = deadline;
      s.cache.touch(it);
      reply(out, c, "TOUCHED\r\n");
      break;
    }
    case Verb::flush_all:
      if (c.has_delay && c.exptime > 0) {
        std::uint64_t at = 0;
        if (!deadline_of(s, c.exptime, s.cx->now_ns(), &at)) return reply(out, c, "CLIENT_ERROR bad command line format\r\n"), true;
        s.flush_at_ns = at;
      } else {
        s.cache.flush();
      }
      reply(out, c, "OK\r\n");
      break;
    case Verb::version: (void)out.append("VERSION 1.6.0\r\n"); break;
    case Verb::stats: stats(s, out, local); break;
    case Verb::verbosity: reply(out, c, "OK\r\n"); break;
    case Verb::quit: return false;
    case Verb::none: break;
  }
  return true;
}

Task<bool> send_all(Context& cx, Handle stream, Buffer& out) {
  std::size_t off = 0;
  while (off < out.len) {
    auto n = co_await cx.send(stream, {out.data + off, out.len - off});
    if (!n) co_return false;
    off += *n;
  }
  out.len = 0;
  co_return true;
}

Task<void> serve_connection(Worker& w, Handle stream) {
  Context& cx = *w.cx;
  Server& s = *w.s;
  {
    Guard g(s.lock);
    ++s.total_connections;
    ++s.core_connections[cx.env().core_index];
  }
  Buffer in{&cx.heap()};
  Buffer out{&cx.heap()};
  bool open = in.reserve(kInitialIn);
  std::uint64_t swallow = 0;  // bytes of a refused item's data block still to skip
  while (open) {
    if (in.len == in.cap && !(in.cap < kMaxIn && in.reserve(in.cap * 2))) break;
    auto n = co_await cx.recv(stream, {in.data + in.len, in.cap - in.len});
    if (!n || *n == 0) break;  // the client went (or broke the connection)
    in.len += *n;
    {
      Guard g(s.lock);
      if (s.flush_at_ns != 0 && cx.now_ns() >= s.flush_at_ns) {
        s.flush_at_ns = 0;
        s.cache.flush();
      }
    }
    // Every complete command in the buffer.
    for (;;) {
      if (swallow > 0) {
        const std::uint64_t k = swallow < in.len ? swallow : in.len;
        in.consume(k);
        swallow -= k;
        if (swallow > 0) break;
      }
      if (in.len == 0) break;
      const Parse p = parse_command({in.data, in.len});
      if (p.status == Parse::Status::need_more) break;
      if (p.status == Parse::Status::fatal) {
        (void)out.append(p.reply);
        open = false;
        break;
      }
      if (p.status == Parse::Status::error) {
        (void)out.append(p.reply);
        in.consume(p.line_bytes);
        swallow = p.swallow;
        continue;
      }
      const Command& c = p.command;
      const bool storage = c.verb == Verb::set || c.verb == Verb::add || c.verb == Verb::replace ||
                           c.verb == Verb::append || c.verb == Verb::prepend || c.verb == Verb::cas;
      std::string_view data;
      std::size_t used = p.line_bytes;
      if (storage) {
        const std::size_t need = p.line_bytes + c.bytes + 2;
        if (in.len < need) {
          if (need > in.cap && !in.reserve(need)) open = false;
          break;  // the rest of the data block is still coming
        }
        if (in.data[p.line_bytes + c.bytes] != '\r' || in.data[p.line_bytes + c.bytes + 1] != '\n') {
          (void)out.append("CLIENT_ERROR bad data chunk\r\n");
          in.consume(p.line_bytes);
          swallow = c.bytes + 2;  // memcached skips what it took for the block
          continue;
        }
        data = {in.data + p.line_bytes, c.bytes};
        used = need;
      }
      if (c.verb == Verb::get || c.verb == Verb::gets) {
        std::string_view keys = c.key_list;  // (in `in`, which stays as it is until consume)
        for (;;) {
          bool done = false;
          {
            Guard g(s.lock);  // (items are copied into `out` under it: none can go meanwhile)
            done = retrieve(s, c, &keys, out);
          }
          if (done) break;
          if (!co_await send_all(cx, stream, out)) {
            open = false;
            break;
          }
        }
      } else {
        bool go_on = true;
        {
          Guard g(s.lock);
          go_on = execute(s, c, data, out, cx);
        }
        if (!go_on) open = false;
      }
      in.consume(used);
      if (!open) break;
      if (out.len >= kOutFlush && !co_await send_all(cx, stream, out)) {
        open = false;
        break;
      }
    }
    if (out.len > 0 && !co_await send_all(cx, stream, out)) break;
    if (in.cap > kInitialIn && in.len <= kInitialIn) {  // a big item went: give its buffer back
      Buffer small{&cx.heap()};
      if (small.reserve(kInitialIn)) {
        (void)small.append({in.data, in.len});
        in.release();
        in = small;
      }
    }
  }
  if (out.len > 0) (void)co_await send_all(cx, stream, out);
  in.release();
  out.release();
  {
    Guard g(s.lock);
    --s.connections;
  }
  (void)co_await cx.close(stream);
  co_return;
}

// Over the connection limit: memcached's answer, then the connection is closed.
Task<void> refuse_connection(Worker& w, Handle stream) {
  Context& cx = *w.cx;
  Buffer out{&cx.heap()};
  if (out.append(kTooMany)) (void)co_await send_all(cx, stream, out);
  out.release();
  (void)co_await cx.shutdown(stream, abi::kShutdownSend);
  (void)co_await cx.close(stream);
  co_return;
}

// Core 0 accepts (one multishot accept) and deals the connections out round robin, memcached's way: its own it
// serves at once; another core's go into that core's inbox, and its event is signalled. (Every core accepting on the
// listener would not share the work: the first to run takes every connection waiting.)
Task<void> hand_over(Worker& w, std::uint32_t core) {
  Inbox& in = w.s->inbox[core];
  (void)co_await w.cx->signal(in.event, 0, kInboxSignal);
  co_return;
}

Task<int> accept_loop(Worker& w) {
  Context& cx = *w.cx;
  auto on_connection = [](void* worker, Handle stream) {
    auto* wk = static_cast<Worker*>(worker);
    Server& srv = *wk->s;
    bool refuse = false;
    std::uint32_t core = 0;
    {
      Guard g(srv.lock);
      refuse = srv.connections >= srv.max_connections;
      if (refuse) {
        ++srv.rejected_connections;
      } else {
        ++srv.connections;
        // The next core with an inbox ready and room in it; this one when none has.
        for (std::uint32_t k = 0; k < srv.cores; ++k) {
          const std::uint32_t c = (srv.next_core + k) % srv.cores;
          if (c == 0 || (srv.inbox[c].ready && srv.inbox[c].tail - srv.inbox[c].head < kInboxSize)) {
            core = c;
            srv.next_core = c + 1;
            break;
          }
        }
        if (core != 0) {
          Inbox& in = srv.inbox[core];
          in.items[in.tail++ % kInboxSize] = stream;
        }
      }
    }
    if (refuse) {
      wk->cx->spawn(refuse_connection(*wk, stream));
    } else if (core == 0) {
      wk->cx->spawn(serve_connection(*wk, stream));
    } else {
      wk->cx->spawn(hand_over(*wk, core));
    }
  };
  // Multishot: armed until it fails (out of handles: that connection was closed; arm again after a pause).
  for (;;) {
    const auto r = co_await cx.accept_each(w.s->listener, on_connection, &w);
    const Status st = r ? Status::ok : r.status();
    if (st != Status::no_resources) {
      co_await say(cx, "kv-server: accepting stopped: {}", abi::status_name(st));
      break;
    }
    (void)co_await cx.sleep(1'000'000);
  }
  co_return 1;
}

// Another core: serves what core 0 puts in its inbox.
Task<int> inbox_loop(Worker& w) {
  Context& cx = *w.cx;
  Server& s = *w.s;
  const std::uint32_t me = cx.env().core_index;
  Inbox& in = s.inbox[me];
  auto ev = co_await cx.event_create();
  if (!ev) cx.fatal("kv-server: no event for a core's inbox");
  {
    Guard g(s.lock);
    in.event = *ev;
    in.ready = true;
  }
  for (;;) {
    if (!co_await cx.wait(in.event, kInboxSignal)) break;
    (void)co_await cx.signal(in.event, kInboxSignal, 0);  // cleared before draining: a later push signals again
    for (;;) {
      Handle h{};
      {
        Guard g(s.lock);
        if (in.head == in.tail) break;
        h = in.items[in.head++ % kInboxSize];
      }
      cx.spawn(serve_connection(w, h));
    }
  }
  co_return 1;
}

// Core 0's env is the first at the start of the program's memory; its program_word is how core 0 tells the others
// where the shared store is.
std::atomic_ref<std::uint64_t> published(Context& cx) {
  auto* env0 = static_cast<abi::ProgramEnv*>(cx.env().memory);
  return std::atomic_ref<std::uint64_t>(env0->program_word);
}

Task<int> kv_server_main(Context& cx) {
  if (cx.env().core_index != 0) {
    // The other cores: wait for core 0's store and listener, then accept and serve beside it.
    while (published(cx).load(std::memory_order_acquire) == 0) (void)co_await cx.sleep(1'000'000);
    auto* srv = reinterpret_cast<Server*>(published(cx).load(std::memory_order_acquire));
    Worker* w = cx.heap().make<Worker>(Worker{&cx, srv});
    if (w == nullptr) cx.fatal("kv-server: no memory");
    co_return co_await inbox_loop(*w);
  }
  const Args args(cx.args());
  const auto handles = cx.initial_handles();
  const std::uint64_t port = args.u64_or("port", 11311);
  const std::uint64_t address = args.u64_or("address", 0x7f000001);
  // Items get core 0's heap but for room for connections (their buffers and tasks, on every core's heap).
  const std::uint64_t heap = cx.heap().capacity();
  const std::uint64_t max_connections = args.u64_or("connections", kDefaultConnections);
  // Each connection: its input buffer, its task, replies waiting (2 KiB each, idle) beyond 8 MiB for big items.
  std::uint64_t rest = (8ull << 20) + max_connections * 2048 / cx.env().cores;
  if (rest > heap / 2) rest = heap / 2;
  const std::uint64_t memory = args.u64_or("memory", heap - rest);
  if (handles.empty() || !args.ok() || port > 65535 || address > 0xffffffffu || max_connections == 0 ||
      memory > heap) {
    co_await say(cx, "kv-server: usage: kv-server [port=N] [address=IPV4] [memory=BYTES] [connections=N] "
                     "[epoch=UNIX_SECONDS], with a net grant as handle 0");
    co_return 2;
  }
  Server* s = cx.heap().make<Server>();
  if (s == nullptr || !s->cache.init(cx.heap(), memory)) cx.fatal("kv-server: no memory for the item store");
  s->cx = &cx;
  s->epoch_s = args.u64_or("epoch", 0);
  s->max_connections = max_connections;
  s->start_ns = cx.now_ns();
  s->cores = cx.env().cores;
  auto l = co_await cx.listen(handles[0], abi::ipv4_endpoint(static_cast<std::uint32_t>(address),
                                                              static_cast<std::uint16_t>(port)),
                              abi::kMaxBacklog);
  if (!l) {
    co_await say(cx, "kv-server: cannot listen on port {}: {}", port, abi::status_name(l.status()));
    co_return 1;
  }
  s->listener = l->listener;
  co_await say(cx, "kv-server: listening on {}.{}.{}.{}:{} with {} MiB for items, on {} core(s)", address >> 24,
               (address >> 16) & 0xff, (address >> 8) & 0xff, address & 0xff, l->port, memory >> 20,
               cx.env().cores);
  published(cx).store(reinterpret_cast<std::uint64_t>(s), std::memory_order_release);
  Worker* w = cx.heap().make<Worker>(Worker{&cx, s});
  if (w == nullptr) cx.fatal("kv-server: no memory");
  co_return co_await accept_loop(*w);
}

}  // namespace
PLATYPOS_USER_PROGRAM("kv-server", kv_server_main);
}  // namespace platypos::examples::kv
