// store-client: the object store's clients, in two roles that pass references to each other.
//
//   role=put (alice): puts `blobs` blobs of seeded sizes and contents; for each it keeps a duplicate of the reference
//   it got and passes the reference itself to its peer over their channel, with the blob's size and FNV-1a hash. Once
//   the peer has acknowledged every blob it shows that references cannot be faked: a reference it mints itself, with
//   its own key and exactly the cookie the store gave blob 0, is refused (access_denied); after deleting blob 0, its
//   old reference gives not_found; a handle that is not a reference gives wrong_type; a get with no handle
//   invalid_argument.
//
//   role=get (bob): for each reference its peer passes, first tries to look inside (ref_resolve with its own key:
//   access_denied), then gets the blob from the store with it and checks size and hash; acknowledges each.
//
//   store-client role=put|get [name=alice] [peer=bob] [blobs=3] [seed=1] [expect=N]
//   handles: 0 the connection to the store, 1 the channel to the peer, 2 (optional) a verdict channel
// Exit code 0 when every check passed (role=get: `expect` blobs verified, if given, else at least one).

#include "../support/args.hpp"
#include "../support/channel.hpp"
#include "../support/console.hpp"
#include "../support/random.hpp"
#include "../support/verdict.hpp"
#include "wire.hpp"

namespace platypos::examples::objstore {
namespace {

using user::Context;
using user::Handle;
using user::Status;
using user::Task;

constexpr std::uint32_t kMaxBlobsPut = 8;
constexpr std::uint64_t kRefRights = abi::rights::duplicate | abi::rights::transfer;

// Between the two clients: "here is blob `index`, a reference to it comes with this message".
struct Handoff {
  static constexpr std::uint32_t kMagic = 0x46464f48;  // "HOFF"
  std::uint32_t magic = kMagic;
  std::uint32_t index = 0;
  std::uint32_t size = 0;
  std::uint32_t reserved = 0;
  std::uint64_t fnv = 0;
};
struct Ack {
  static constexpr std::uint32_t kMagic = 0x4b4b4341;  // "ACKK"
  std::uint32_t magic = kMagic;
  std::uint32_t index = 0;
  std::int32_t status = 0;  // how the get went (ok, or the store's status)
  std::uint32_t verified = 0;
};

// The client's end of a store connection: one request at a time.
class StoreConnection {
 public:
  StoreConnection(Context& cx, Handle ch) : cx_(cx), ch_(ch) {
    request_ = static_cast<char*>(cx.heap().alloc(kMaxRequest));
    reply_ = static_cast<char*>(cx.heap().alloc(kMaxReply));
    if (request_ == nullptr || reply_ == nullptr) cx.fatal("store-client: out of memory for buffers");
  }
  Context& context() { return cx_; }

  // One request; `give` (if any) goes with it. The reply's handle (if any) lands in *got. The store's status.
  Task<Status> call(StoreOp op, const char* bytes, std::uint32_t n, Handle give, Handle* got) {
    RequestHeader h;
    h.op = op;
    h.tag = ++tag_;
    h.length = n;
    __builtin_memcpy(request_, &h, sizeof h);
    if (n > 0) __builtin_memcpy(request_ + sizeof h, bytes, n);
    const Handle hs[1] = {give};
    const Status w = co_await write_patiently(cx_, ch_, {request_, sizeof h + n},
                                              give ? std::span<const Handle>(hs) : std::span<const Handle>());
    if (w != Status::ok) co_return w;
    Handle in[1];
    auto r = co_await cx_.read(ch_, {reply_, kMaxReply}, in);
    if (!r) co_return r.status();
    ReplyHeader rh;
    if (r->bytes < sizeof rh) co_return Status::invalid_argument;
    __builtin_memcpy(&rh, reply_, sizeof rh);
    if (rh.magic != ReplyHeader::kMagic || rh.tag != h.tag || rh.length != r->bytes - sizeof rh) {
      co_return Status::invalid_argument;
    }
    if (r->handles == 1) {
      if (got != nullptr) {
        *got = in[0];
      } else {
        (void)co_await cx_.close(in[0]);
      }
    }
    blob_ = rh.length;
    co_return static_cast<Status>(rh.status);
  }
  // The blob of the last get.
  const char* blob() const { return reply_ + sizeof(ReplyHeader); }
  std::uint32_t blob_size() const { return blob_; }

 private:
  Context& cx_;
  Handle ch_;
  char* request_ = nullptr;
  char* reply_ = nullptr;
  std::uint32_t tag_ = 0;
  std::uint32_t blob_ = 0;
};

// Alice.
Task<int> put_role(Context& cx, StoreConnection& store, Handle peer, const Args& args) {
  const std::string_view me = args.str_or("name", "alice");
  const std::string_view other = args.str_or("peer", "bob");
  const std::uint64_t blobs = args.u64_or("blobs", 3);
  Random rng(args.u64_or("seed", 1));
  if (blobs == 0 || blobs > kMaxBlobsPut) {
    co_await say(cx, "store-client {}: blobs must be 1..{}", me, kMaxBlobsPut);
    co_return 2;
  }
  Handle kept[kMaxBlobsPut];
  char* data = static_cast<char*>(cx.heap().alloc(kMaxBlob));
  if (data == nullptr) cx.fatal("store-client: out of memory");
  bool ok = true;
  for (std::uint32_t i = 0; i < blobs && ok; ++i) {
    const auto size = static_cast<std::uint32_t>(100 + rng.below(kMaxBlob - 100));
    for (std::uint32_t k = 0; k < size; ++k) data[k] = static_cast<char>(rng.next());
    Handoff handoff;
    handoff.index = i;
    handoff.size = size;
    handoff.fnv = fnv1a(data, size);
    Handle ref;
    const Status s = co_await store.call(StoreOp::put, data, size, Handle{}, &ref);
    if (s != Status::ok || !ref) {
      co_await say(cx, "store-client {}: put of blob {} failed: {}", me, i, name_of(s));
      ok = false;
      break;
    }
    auto dup = co_await cx.duplicate(ref, kRefRights);
    const Handle give[1] = {ref};
    const Status w = co_await write_patiently(cx, peer, {reinterpret_cast<const char*>(&handoff), sizeof handoff}, give);
    if (!dup || w != Status::ok) {
      co_await say(cx, "store-client {}: cannot pass blob {}'s reference on: {}", me, i,
                   name_of(!dup ? dup.status() : w));
      ok = false;
      break;
    }
    kept[i] = *dup;
    co_await say(cx, "store-client {}: put blob {} ({} bytes, fnv {:#x}): got a reference, passed it to {}", me, i,
                 size, handoff.fnv, other);
  }
  // Every blob acknowledged by the peer?
  for (std::uint32_t i = 0; i < blobs && ok; ++i) {
    Ack ack;
    auto r = co_await cx.read(peer, {reinterpret_cast<char*>(&ack), sizeof ack});
    if (!r || r->bytes != sizeof ack || ack.magic != Ack::kMagic || ack.index != i || ack.status != 0 ||
        ack.verified != 1) {
      co_await say(cx, "store-client {}: {} did not confirm blob {}", me, other, i);
      ok = false;
    }
  }
  if (!ok) co_return 1;

  // A forgery: the cookie blob 0 really has (slot 0, generation 0), in a reference minted with our own key.
  Handle forged;
  Status forged_status = Status::bad_state;
  if (auto f = co_await cx.ref_create(cx.self(), 0); f) {
    forged = *f;
    forged_status = co_await store.call(StoreOp::get, nullptr, 0, forged, nullptr);
  }
  co_await say(cx, "store-client {}: a reference minted with my own key and blob 0's cookie: {}", me,
               name_of(forged_status));
  // Delete blob 0; a copy of its old reference then names nothing.
  Status stale_status = Status::bad_state;
  Status del_status = Status::bad_state;
  if (auto stale = co_await cx.duplicate(kept[0], kRefRights); stale) {
    del_status = co_await store.call(StoreOp::del, nullptr, 0, kept[0], nullptr);
    stale_status = co_await store.call(StoreOp::get, nullptr, 0, *stale, nullptr);
  }
  // Not a reference at all, and no handle.
  Status wrong_status = Status::bad_state;
  if (auto mem = co_await cx.memory_create(4096); mem) {
    wrong_status = co_await store.call(StoreOp::get, nullptr, 0, *mem, nullptr);
  }
  const Status none_status = co_await store.call(StoreOp::get, nullptr, 0, Handle{}, nullptr);
  co_await say(cx,
               "store-client {}: deleted blob 0 ({}); its old reference now: {}; a memory handle: {}; no handle: {}",
               me, name_of(del_status), name_of(stale_status), name_of(wrong_status), name_of(none_status));
  for (std::uint32_t i = 1; i < blobs; ++i) (void)co_await cx.close(kept[i]);
  cx.heap().free(data, kMaxBlob);
  ok = forged_status == Status::access_denied && del_status == Status::ok && stale_status == Status::not_found &&
       wrong_status == Status::wrong_type && none_status == Status::invalid_argument;
  co_return ok ? 0 : 1;
}

// Bob.
Task<int> get_role(Context& cx, StoreConnection& store, Handle peer, const Args& args) {
  const std::string_view me = args.str_or("name", "bob");
  const std::string_view other = args.str_or("peer", "alice");
  const std::uint64_t expect = args.u64_or("expect", 0);
  std::uint64_t verified = 0;
  std::uint64_t received = 0;
  bool shown_opaque = false;
  bool ok = true;
  for (;;) {
    Handoff handoff;
    Handle in[1];
    auto r = co_await cx.read(peer, {reinterpret_cast<char*>(&handoff), sizeof handoff}, in);
    if (!r) {
      if (r.status() != Status::peer_closed) ok = false;
      break;
    }
    ++received;
    if (r->bytes != sizeof handoff || handoff.magic != Handoff::kMagic || r->handles != 1) {
      for (std::uint32_t i = 0; i < r->handles; ++i) (void)co_await cx.close(in[i]);
      ok = false;
      continue;
    }
    // The reference tells us nothing: only its issuer's key resolves it.
    const Status peek = (co_await cx.ref_resolve(in[0], cx.self())).status();
    if (peek != Status::access_denied) ok = false;
    if (!shown_opaque) {
      shown_opaque = true;
      co_await say(cx, "store-client {}: looking inside {}'s reference with my own key: {}", me, other, name_of(peek));
    }
    const Status s = co_await store.call(StoreOp::get, nullptr, 0, in[0], nullptr);
    const bool good =
        s == Status::ok && store.blob_size() == handoff.size && fnv1a(store.blob(), store.blob_size()) == handoff.fnv;
    if (good) ++verified;
    ok = ok && good;
    co_await say(cx, "store-client {}: got blob {} with {}'s reference: {}", me, handoff.index, other,
                 good              ? "size and fnv match"
                 : s != Status::ok ? name_of(s)
                                   : "CONTENT MISMATCH");
    Ack ack;
    ack.index = handoff.index;
    ack.status = static_cast<std::int32_t>(s);
    ack.verified = good ? 1 : 0;
    // Bound to a local first: GCC 12.2 miscompiles `if (!co_await ...)` inside an endless loop (see
    // core/user/README.md).
    const Status sent = co_await write_patiently(cx, peer, {reinterpret_cast<const char*>(&ack), sizeof ack});
    if (sent != Status::ok) ok = false;
  }
  if (expect != 0 ? verified != expect : verified == 0) ok = false;
  co_return ok ? 0 : 1;
}

Task<int> store_client_main(Context& cx) {
  if (cx.env().core_index != 0) co_return 0;
  const Args args(cx.args());
  const std::string_view role = args.str_or("role", "");
  const auto handles = cx.initial_handles();
  const Handle verdict = verdict_handle(handles, 2);
  if (handles.size() < 2 || !args.ok() || (role != "put" && role != "get")) {
    co_await say(cx,
                 "store-client: usage: store-client role=put|get [name=S] [peer=S] [blobs=N] [seed=N] [expect=N]"
                 ", with the store connection as handle 0 and the peer channel as handle 1");
    co_return co_await report(cx, verdict, 2);
  }
  auto* store = cx.heap().make<StoreConnection>(cx, handles[0]);
  if (store == nullptr) cx.fatal("store-client: out of memory");
  int code = 0;
  if (role == "put") {
    code = co_await put_role(cx, *store, handles[1], args);
  } else {
    code = co_await get_role(cx, *store, handles[1], args);
  }
  // Hanging up ends the peer's loop (role=get) and the store's connection.
  (void)co_await cx.close(handles[1]);
  (void)co_await cx.close(handles[0]);
  co_return co_await report(cx, verdict, code);
}

}  // namespace
}  // namespace platypos::examples::objstore

PLATYPOS_USER_PROGRAM("store-client", platypos::examples::objstore::store_client_main);
