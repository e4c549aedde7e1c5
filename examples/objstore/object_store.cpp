// object-store: a blob store that hands out unforgeable references. Clients send put/get/del requests over their
// connections (objstore/wire.hpp). A put copies the blob into a memory object of its own (memory_create +
// memory_write) and replies with an opaque reference (ref_create) minted with the store's issuer key and a cookie
// naming the blob's slot and generation. Any process holding that reference can get the blob: the store resolves it
// with its key (ref_resolve), which fails with access_denied for references minted with any other key, and answers
// not_found when the cookie's blob was deleted since.
//
// The issuer key must be an object only the store holds, with the MANAGE right. Of the objects a program can create
// through the ABI, only a log namespace comes with MANAGE, so the key is a small log namespace nobody ever writes to.
// (The store's own process handle has MANAGE too, but the store's parent holds one as well and could resolve.)
//
// One coroutine per connection, all on one core (the blob table is this core's state; other cores return at once).
// Every request is untrusted: wrong sizes, missing or surplus handles, oversized messages get an error reply (or are
// dropped), never a crash, and every handle received is closed.
//
//   object-store [clients=1] [quiet]
//   handles: 0..clients-1 the client connections, then (optional) a verdict channel
// Ends when every client has closed its connection; exit code 0 unless the store itself failed.

#include "../support/args.hpp"
#include "../support/channel.hpp"
#include "../support/console.hpp"
#include "../support/sync.hpp"
#include "../support/verdict.hpp"
#include "wire.hpp"

namespace platypos::examples::objstore {
namespace {

using user::Context;
using user::Handle;
using user::Status;
using user::Task;

constexpr std::uint32_t kMaxBlobs = 64;
constexpr std::uint32_t kMaxConnections = 14;
constexpr std::uint32_t kHandlesIn = 4;  // more in one request is refused

class Store {
 public:
  explicit Store(Context& cx) : cx_(cx), all_closed_(cx) {}
  Context& context() { return cx_; }

  Task<int> run(std::span<const Handle> connections, bool quiet);

 private:
  enum class SlotState : std::uint8_t { free, filling, live };
  struct Blob {
    Handle memory;
    std::uint32_t size = 0;
    std::uint32_t generation = 0;
    SlotState state = SlotState::free;
  };
  struct Reply {
    ReplyHeader header;
    Handle ref;  // put: goes with the reply
  };

  Task<void> serve(Handle conn);
  Task<void> put(const char* bytes, std::uint32_t size, Reply* out);
  // The slot a reference names, or why not.
  Task<Status> resolve(Handle ref, std::uint32_t* slot);
  Task<void> drop_oversized(Handle conn, const abi::ReadNeeded& needed);
  void count(Status s);

  static std::uint64_t cookie_of(std::uint32_t slot, std::uint32_t generation) {
    return (std::uint64_t{generation} << 32) | slot;
  }

  Context& cx_;
  Handle key_;
  Blob blobs_[kMaxBlobs];
  std::uint32_t open_ = 0;
  Event all_closed_;
  Status failure_ = Status::ok;
  std::uint64_t puts_ = 0, gets_ = 0, dels_ = 0, bytes_in_ = 0, bytes_out_ = 0;
  std::uint64_t refused_[32] = {};  // by status
};

void Store::count(Status s) {
  const auto i = static_cast<std::uint32_t>(s);
  if (s != Status::ok && i < 32) ++refused_[i];
}

Task<void> Store::put(const char* bytes, std::uint32_t size, Reply* out) {
  ReplyHeader& h = out->header;
  if (size == 0 || size > kMaxBlob) {
    h.status = static_cast<std::int32_t>(Status::invalid_argument);
    co_return;
  }
  std::uint32_t slot = 0;
  while (slot < kMaxBlobs && blobs_[slot].state != SlotState::free) ++slot;
  if (slot == kMaxBlobs) {
    h.status = static_cast<std::int32_t>(Status::no_resources);
    co_return;
  }
  Blob& b = blobs_[slot];
  b.state = SlotState::filling;  // ours across the awaits below: other connections look for another slot
  Status s = Status::ok;
  auto mem = co_await cx_.memory_create(size);
  if (!mem) s = mem.status();
  if (s == Status::ok) {
    if (auto w = co_await cx_.memory_write(*mem, 0, {bytes, size}); !w) s = w.status();
  }
  if (s == Status::ok) {
    auto ref = co_await cx_.ref_create(key_, cookie_of(slot, b.generation));
    if (ref) {
      out->ref = *ref;
    } else {
      s = ref.status();
    }
  }
  if (s != Status::ok) {
    if (mem) (void)co_await cx_.close(*mem);
    b.state = SlotState::free;
    h.status = static_cast<std::int32_t>(s);
    co_return;
  }
  b.memory = *mem;
  b.size = size;
  b.state = SlotState::live;
  ++puts_;
  bytes_in_ += size;
}

Task<Status> Store::resolve(Handle ref, std::uint32_t* slot) {
  auto cookie = co_await cx_.ref_resolve(ref, key_);
  if (!cookie) co_return cookie.status();  // access_denied: minted with another key; wrong_type: not a reference
  const auto index = static_cast<std::uint32_t>(*cookie);
  const auto generation = static_cast<std::uint32_t>(*cookie >> 32);
  if (index >= kMaxBlobs || blobs_[index].state != SlotState::live || blobs_[index].generation != generation) {
    co_return Status::not_found;  // deleted since (the slot may hold another blob now)
  }
  *slot = index;
  co_return Status::ok;
}

Task<void> Store::drop_oversized(Handle conn, const abi::ReadNeeded& needed) {
  // More bytes or handles than any valid request: take it off the channel, close what it carried, and say so.
  (void)co_await discard_message(cx_, conn, needed);
  count(Status::invalid_argument);
  ReplyHeader h;
  h.status = static_cast<std::int32_t>(Status::invalid_argument);
  (void)co_await write_patiently(cx_, conn, {reinterpret_cast<const char*>(&h), sizeof h});
}

Task<void> Store::serve(Handle conn) {
  char* request = static_cast<char*>(cx_.heap().alloc(kMaxRequest));
  char* reply = static_cast<char*>(cx_.heap().alloc(kMaxReply));
  if (request == nullptr || reply == nullptr) cx_.fatal("object-store: out of memory for buffers");
  Handle got[kHandlesIn];
  abi::ReadNeeded needed{};
  for (;;) {
    auto r = co_await cx_.read(conn, {request, kMaxRequest}, got, &needed);
    if (!r && r.status() == Status::buffer_too_small) {
      co_await drop_oversized(conn, needed);
      continue;
    }
    if (!r) {
      if (r.status() != Status::peer_closed) failure_ = r.status();
      break;
    }
    RequestHeader req;
    Reply out;
    const bool framed = r->bytes >= sizeof req;
    if (framed) __builtin_memcpy(&req, request, sizeof req);
    out.header.op = req.op;
    out.header.tag = req.tag;
    std::uint32_t blob_bytes = 0;
    const bool one_handle = r->handles == 1;
    if (!framed || req.magic != RequestHeader::kMagic || req.length != r->bytes - sizeof req) {
      out.header.status = static_cast<std::int32_t>(Status::invalid_argument);
    } else if (req.op == StoreOp::put) {
      if (r->handles != 0) {
        out.header.status = static_cast<std::int32_t>(Status::invalid_argument);
      } else {
        co_await put(request + sizeof req, req.length, &out);
      }
    } else if (req.op == StoreOp::get || req.op == StoreOp::del) {
      std::uint32_t slot = 0;
      Status s = Status::invalid_argument;
      if (one_handle && req.length == 0) s = co_await resolve(got[0], &slot);
      if (s == Status::ok && req.op == StoreOp::get) {
        const std::uint32_t size = blobs_[slot].size;  // the slot may change while we wait (another connection)
        auto rd = co_await cx_.memory_read(blobs_[slot].memory, 0, {reply + sizeof(ReplyHeader), size});
        if (rd) {
          blob_bytes = size;
          ++gets_;
          bytes_out_ += size;
        } else {
          s = rd.status();
        }
      } else if (s == Status::ok) {
        Blob& b = blobs_[slot];
        (void)co_await cx_.close(b.memory);
        b = Blob{Handle{}, 0, b.generation + 1, SlotState::free};  // a new generation: old cookies miss
        ++dels_;
      }
      out.header.status = static_cast<std::int32_t>(s);
    } else {
      out.header.status = static_cast<std::int32_t>(Status::not_supported);
    }
    // Handles that came with the request are done with (a reference's holder keeps its own duplicates).
    for (std::uint32_t i = 0; i < r->handles; ++i) (void)co_await cx_.close(got[i]);
    count(static_cast<Status>(out.header.status));

    out.header.length = blob_bytes;
    __builtin_memcpy(reply, &out.header, sizeof out.header);
    const Handle give[1] = {out.ref};
    const Status w = co_await write_patiently(cx_, conn, {reply, sizeof(ReplyHeader) + blob_bytes},
                                              out.ref ? std::span<const Handle>(give) : std::span<const Handle>());
    if (w != Status::ok && out.ref) (void)co_await cx_.close(out.ref);  // not delivered: still ours
    if (w != Status::ok) {
      // No reply can reach the client (it is gone, or no memory for the message): hang up rather than leave it
      // waiting for one forever; it sees peer_closed.
      if (w != Status::peer_closed) failure_ = w;
      break;
    }
  }
  (void)co_await cx_.close(conn);
  cx_.heap().free(request, kMaxRequest);
  cx_.heap().free(reply, kMaxReply);
  if (--open_ == 0) all_closed_.set();
}

Task<int> Store::run(std::span<const Handle> connections, bool quiet) {
  Line name;
  name.append("object-store key");
  auto key = co_await cx_.log_create(name.view(), 2 * 1024);
  if (!key) {
    co_await say(cx_, "object-store: cannot make an issuer key: {}", name_of(key.status()));
    co_return 1;
  }
  key_ = *key;
  open_ = static_cast<std::uint32_t>(connections.size());
  for (Handle c : connections) cx_.spawn(serve(c));
  co_await all_closed_;
  for (Blob& b : blobs_) {
    if (b.state == SlotState::live) (void)co_await cx_.close(b.memory);
  }
  if (!quiet || failure_ != Status::ok) {
    Line line;
    line.append("object-store: {} puts ({} B), {} gets ({} B), {} deletes; refused:", puts_, bytes_in_, gets_,
                bytes_out_, dels_);
    bool any = false;
    for (std::uint32_t i = 0; i < 32; ++i) {
      if (refused_[i] == 0) continue;
      line.append("{} {} {}", any ? "," : "", refused_[i], name_of(static_cast<Status>(i)));
      any = true;
    }
    if (!any) line.append(" none");
    line.append("{}{}\n", failure_ == Status::ok ? "" : "; FAILED: ", failure_ == Status::ok ? "" : name_of(failure_));
    (void)co_await print(cx_, line);
  }
  co_return failure_ == Status::ok ? 0 : 1;
}

Task<int> object_store_main(Context& cx) {
  if (cx.env().core_index != 0) co_return 0;
  const Args args(cx.args());
  const std::uint64_t clients = args.u64_or("clients", 1);
  const auto handles = cx.initial_handles();
  const Handle verdict = verdict_handle(handles, clients);
  if (!args.ok() || clients == 0 || clients > kMaxConnections || handles.size() < clients) {
    co_await say(cx, "object-store: usage: object-store [clients=1..14] [quiet], with the connections as handles 0..");
    co_return co_await report(cx, verdict, 2);
  }
  auto* store = cx.heap().make<Store>(cx);
  if (store == nullptr) cx.fatal("object-store: out of memory");
  const int code = co_await store->run(handles.subspan(0, clients), args.has("quiet"));
  co_return co_await report(cx, verdict, code);
}

}  // namespace
}  // namespace platypos::examples::objstore

PLATYPOS_USER_PROGRAM("object-store", platypos::examples::objstore::object_store_main);
