// Sockets: net_listen, net_accept, net_connect, net_recv, net_send, net_shutdown (io/net.hpp has the model).

#include <platypos/io/net.hpp>

#include "op.hpp"

namespace platypos::ring {
namespace {
constexpr cap::Rights kListenerRights =
    cap::Rights::read | cap::Rights::wait | cap::Rights::duplicate | cap::Rights::transfer;
constexpr cap::Rights kStreamRights = cap::Rights::read | cap::Rights::write | cap::Rights::wait |
                                      cap::Rights::duplicate | cap::Rights::transfer;
constexpr u32 kStreamSignals = cap::kSignalReadable | cap::kSignalWritable | cap::kSignalPeerClosed;
// A multishot accept with a connection waiting but no CQ room for it looks again this much later.
constexpr u64 kCqFullRetryNs = 20'000;

io::Socket& socket_of(OpContext& cx) { return cx.object_as<io::SocketObject>().socket(); }

// A stream object for the program, in a reserved slot of its table, paid from its account. On failure the slot is
// given back.
Result<cap::Ref<io::SocketObject>> new_stream(OpContext& cx, io::Lane& lane) {
  io::Socket* s = PLATYPOS_TRY(io::Socket::create(cx.account(), lane, io::Socket::Kind::stream, 0));
  return io::SocketObject::create(&cx.account(), s);
}

// One accepted connection as a new handle: the table slot and the stream first (what can fail), then the connection,
// so a failure leaves it waiting. Out of handles: the oldest connection is closed (a stream that nobody holds: its
// close goes through the device like any other) and the op fails with no_resources.
Result<i64> accept_one(OpContext& cx, io::Socket& listener) {
  cap::HandleTable& table = cx.table();
  Result<cap::HandleTable::Reserved> slot = table.reserve(1);
  auto stream = new_stream(cx, listener.lane());
  if (stream.is_error()) {
    if (!slot.is_error()) table.unreserve(*slot);
    return stream.error();
  }
  Result<u64> conn = listener.take_pending();
  if (conn.is_error()) {
    if (!slot.is_error()) table.unreserve(*slot);
    return conn.error();  // the stream goes with its reference
  }
  (*stream)->socket().adopt(*conn);
  if (slot.is_error()) return slot.error();  // closed: the stream's last reference goes here
  return table.add_reserved(*slot, static_cast<cap::Ref<io::SocketObject>&&>(*stream), kStreamRights);
}

}  // namespace

Result<i64> op_net_listen(OpContext& cx) {
  io::Lane* lane = cx.lane();
  if (lane == nullptr) return Error::not_supported;
  const io::Ipv4Endpoint ep = PLATYPOS_TRY(io::decode_endpoint(cx.sqe().arg0));
  const u64 backlog = cx.sqe().arg1 == 0 ? abi::kDefaultBacklog : cx.sqe().arg1;
  if (backlog > abi::kMaxBacklog) return Error::invalid_argument;
  if (!cx.object_as<io::NetGrant>().allows_listen(ep)) return Error::access_denied;

  cap::HandleTable& table = cx.table();
  cap::HandleTable::Reserved slot = PLATYPOS_TRY(table.reserve(1));
  Result<io::Socket*> s = io::Socket::create(cx.account(), *lane, io::Socket::Kind::listener, static_cast<u32>(backlog));
  if (s.is_error()) {
    table.unreserve(slot);
    return s.error();
  }
  auto obj = io::SocketObject::create(&cx.account(), *s);
  if (obj.is_error()) {
    table.unreserve(slot);
    return obj.error();
  }
  u16 port = 0;
  const io::NetDevice* dev = lane->device();
  if (Result<void> r = dev->listen(dev->context, *lane, **s, ep, static_cast<u32>(backlog), &port); r.is_error()) {
    table.unreserve(slot);
    return r.error();  // the object and its socket go with obj
  }
  (*obj)->set_port(port);
  const cap::Handle h = table.add_reserved(slot, static_cast<cap::Ref<io::SocketObject>&&>(*obj), kListenerRights);
  return static_cast<i64>((u64{port} << 32) | h);
}

Result<i64> op_net_accept(OpContext& cx) {
  const u64 flags = cx.sqe().arg0;
  if ((flags & ~abi::kAcceptMultishot) != 0) return Error::invalid_argument;
  const bool multishot = (flags & abi::kAcceptMultishot) != 0;
  // A multishot op stays armed: nothing can be linked after it, and it cannot be non-blocking.
  if (multishot && (cx.sqe().flags & (abi::kSqeLink | abi::kSqeNonBlocking)) != 0) return Error::invalid_argument;
  io::Socket& listener = socket_of(cx);
  if (!multishot) {
    if (!listener.has_pending()) {
      if (cx.nonblocking()) return Error::would_block;
      return cx.park(static_cast<cap::Ref<cap::KernelObject>&&>(cx.object()), cap::kSignalReadable, 0);
    }
    Result<i64> h = accept_one(cx, listener);
    if (h.is_error() && h.error() == Error::would_block) {  // another accept took it first
      if (cx.nonblocking()) return Error::would_block;
      return cx.park(static_cast<cap::Ref<cap::KernelObject>&&>(cx.object()), cap::kSignalReadable, 0);
    }
    return h;
  }
  // Multishot: every connection waiting now, each as its own completion, then wait for the next.
  while (listener.has_pending()) {
    if (!cx.can_post()) {
      return cx.park(static_cast<cap::Ref<cap::KernelObject>&&>(cx.object()), 0,
                     Platform::now_ns() + kCqFullRetryNs);
    }
    Result<i64> h = accept_one(cx, listener);
    if (h.is_error()) {
      if (h.error() == Error::would_block) break;
      return h.error();  // ends it
    }
    const bool posted = cx.post(*h);
    PLATYPOS_ASSERT(posted, "multishot accept: the CQ room it checked is gone");
  }
  return cx.park(static_cast<cap::Ref<cap::KernelObject>&&>(cx.object()), cap::kSignalReadable, 0);
}

Result<i64> op_net_connect(OpContext& cx) {
  io::Lane* lane = cx.lane();
  if (lane == nullptr) return Error::not_supported;
  const io::Ipv4Endpoint ep = PLATYPOS_TRY(io::decode_endpoint(cx.sqe().arg0));
  if (!cx.object_as<io::NetGrant>().allows_connect(ep)) return Error::access_denied;
  cap::HandleTable& table = cx.table();
  cap::HandleTable::Reserved slot = PLATYPOS_TRY(table.reserve(1));
  auto stream = new_stream(cx, *lane);
  if (stream.is_error()) {
    table.unreserve(slot);
    return stream.error();
  }
  io::Socket& s = (*stream)->socket();
  s.begin_connect();
  const io::NetDevice* dev = lane->device();
  if (Result<void> r = dev->connect(dev->context, *lane, s, ep); r.is_error()) {
    table.unreserve(slot);
    return r.error();
  }
  // As a non-blocking connect: the handle at once; the stream turns WRITABLE once connected, or READABLE and
  // PEER_CLOSED if the connection failed (net_recv and net_send then report why: connection_refused...).
  return table.add_reserved(slot, static_cast<cap::Ref<io::SocketObject>&&>(*stream), kStreamRights);
}

Result<i64> op_net_recv(OpContext& cx) {
  io::Socket& s = socket_of(cx);
  Result<u64> n = s.receive(cx.out().for_one_copy());
  if (n.is_error() && n.error() == Error::would_block && !cx.nonblocking()) {
    return cx.park(static_cast<cap::Ref<cap::KernelObject>&&>(cx.object()), cap::kSignalReadable, 0);
  }
  return n.is_error() ? Result<i64>(n.error()) : Result<i64>(static_cast<i64>(*n));
}

Result<i64> op_net_send(OpContext& cx) {
  io::Socket& s = socket_of(cx);
  if (cx.sqe().len == 0) return 0;
  Result<u64> n = s.send(cx.in().for_one_copy());
  if (n.is_error() && n.error() == Error::would_block && !cx.nonblocking()) {
    return cx.park(static_cast<cap::Ref<cap::KernelObject>&&>(cx.object()), kStreamSignals & ~cap::kSignalReadable,
                   0);
  }
  return n.is_error() ? Result<i64>(n.error()) : Result<i64>(static_cast<i64>(*n));
}

Result<i64> op_net_shutdown(OpContext& cx) {
  const u64 how = cx.sqe().arg0;
  if (how == 0 || (how & ~(abi::kShutdownSend | abi::kShutdownReceive)) != 0) return Error::invalid_argument;
  PLATYPOS_TRY(socket_of(cx).shutdown((how & abi::kShutdownSend) != 0, (how & abi::kShutdownReceive) != 0));
  return 0;
}

}  // namespace platypos::ring

// --- Provided-buffer pools --------------------------------------------------------------------------------------------

namespace platypos::ring {

Result<i64> op_net_pool_create(OpContext& cx) {
  const u64 size = cx.sqe().arg0;
  const u64 len = cx.out().size();
  if (size < abi::kMinPoolBufferBytes || size > abi::kMaxPoolBufferBytes || len == 0 || len % size != 0 ||
      len / size > abi::kMaxPoolBuffers) {
    return Error::invalid_argument;
  }
  cap::HandleTable& table = cx.table();
  cap::HandleTable::Reserved slot = PLATYPOS_TRY(table.reserve(1));
  // (The region was checked to lie inside the program's memory; the kernel writes into it only through
  // copy_program_memory, as with any output buffer.)
  auto pool = io::BufferPool::create(cx.account(), cx.pid(), cx.out().for_one_copy().data(), static_cast<u32>(size),
                                     static_cast<u32>(len / size));
  if (pool.is_error()) {
    table.unreserve(slot);
    return pool.error();
  }
  return table.add_reserved(slot, static_cast<cap::Ref<io::BufferPool>&&>(*pool),
                            cap::Rights::read | cap::Rights::write);
}

Result<i64> op_net_pool_provide(OpContext& cx) {
  const u64 first = cx.sqe().arg0, n = cx.sqe().arg1;
  if (first > 0xffffffffu || n > 0xffffffffu) return Error::out_of_range;
  PLATYPOS_TRY(cx.object_as<io::BufferPool>().provide(static_cast<u32>(first), static_cast<u32>(n)));
  return 0;
}

namespace {
// One receive into a buffer of `pool`: bytes | (id << 32), 0 at the end of the stream, would_block, or the error.
Result<i64> receive_pooled(io::Socket& s, io::BufferPool& pool) {
  const u32 id = PLATYPOS_TRY(pool.take());
  Result<u64> n = s.receive(pool.buffer(id));
  if (n.is_error() || *n == 0) {
    pool.give_back(id);
    if (n.is_error()) return n.error();
    return 0;
  }
  return static_cast<i64>(*n | (u64{id} << 32));
}
}  // namespace

Result<i64> op_net_recv_pool(OpContext& cx) {
  const u64 flags = cx.sqe().arg1;
  if ((flags & ~abi::kRecvMultishot) != 0 || cx.sqe().arg0 > 0xffffffffu) return Error::invalid_argument;
  const bool multishot = (flags & abi::kRecvMultishot) != 0;
  if (multishot && (cx.sqe().flags & (abi::kSqeLink | abi::kSqeNonBlocking)) != 0) return Error::invalid_argument;
  auto pool_obj = PLATYPOS_TRY(cx.table().get_as<io::BufferPool>(static_cast<cap::Handle>(cx.sqe().arg0),
                                                                 cap::Rights::read));
  io::BufferPool& pool = *pool_obj;
  if (pool.owner() != cx.pid()) return Error::access_denied;  // (its handle cannot travel; defence in depth)
  io::Socket& s = socket_of(cx);
  auto wait_for_data = [&]() {
    return cx.park(static_cast<cap::Ref<cap::KernelObject>&&>(cx.object()), cap::kSignalReadable, 0);
  };
  if (!multishot) {
    Result<i64> r = receive_pooled(s, pool);
    if (r.is_error() && r.error() == Error::would_block && !cx.nonblocking()) return wait_for_data();
    return r;
  }
  // Multishot: every arrival now, each as its own completion, then wait for the next. The end of the stream or a
  // failure is the last completion.
  for (;;) {
    if (!cx.can_post()) {
      return cx.park(static_cast<cap::Ref<cap::KernelObject>&&>(cx.object()), 0, Platform::now_ns() + kCqFullRetryNs);
    }
    Result<i64> r = receive_pooled(s, pool);
    if (r.is_error() && r.error() == Error::would_block) return wait_for_data();
    if (r.is_error() || *r == 0) return r;  // ends it
    const bool posted = cx.post(*r);
    PLATYPOS_ASSERT(posted, "multishot receive: the CQ room it checked is gone");
  }
}

}  // namespace platypos::ring
