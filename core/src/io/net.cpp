#include <platypos/base/checked.hpp>
#include <platypos/base/program_copy.hpp>
#include <platypos/io/net.hpp>

#include <new>

namespace platypos::io {
namespace {
constinit Atomic<u64> g_live_sockets{0};
constinit Atomic<u64> g_next_socket_id{1};

constexpr u32 kSignalsOfSockets = cap::kSignalReadable | cap::kSignalWritable | cap::kSignalPeerClosed;
}  // namespace

Result<Ipv4Endpoint> decode_endpoint(u64 arg) {
  if ((arg >> 48) != 0) return Error::invalid_argument;
  return Ipv4Endpoint{static_cast<u32>(arg >> 16), static_cast<u16>(arg & 0xffff)};
}

// --- Lane ----------------------------------------------------------------------------------------------------------

void Lane::init(u32 index, const NetDevice* device, void (*wake)(void*), void* wake_context) {
  index_ = index;
  device_ = device;
  wake_ = wake;
  wake_context_ = wake_context;
}

void Lane::attention(Socket& s) {
  bool added = false;
  {
    IrqSpinGuard g(lock_);
    if (!s.attention_) {
      s.attention_ = true;
      s.refs_.fetch_add(1, std::memory_order_relaxed);  // the list's: the socket stays until serviced
      attention_.push_back(s);
      added = true;
    }
  }
  if (added) interrupt();
}

bool Lane::poll(u64 now) {
  bool work = false;
  for (;;) {
    Socket* s = nullptr;
    {
      IrqSpinGuard g(lock_);
      s = attention_.pop_front();
      if (s != nullptr) s->attention_ = false;
    }
    if (s == nullptr) break;
    device_->service(device_->context, *this, *s);
    s->release();
    work = true;
  }
  work |= device_->poll(device_->context, *this, now);
  return work;
}

bool Lane::prepare_idle(u64* deadline) {
  {
    IrqSpinGuard g(lock_);
    if (!attention_.empty()) return false;
  }
  return device_->prepare_idle(device_->context, *this, deadline);
}

void Lane::end_idle() { device_->end_idle(device_->context, *this); }

// --- Socket --------------------------------------------------------------------------------------------------------

Socket::Socket(MemoryAccount& account, Lane& lane, Kind kind)
    : kind_(kind), lane_(&lane), account_(&account), koid_(g_next_socket_id.fetch_add(1, std::memory_order_relaxed)) {}

u64 Socket::live_sockets() { return g_live_sockets.load(std::memory_order_relaxed); }

Result<Socket*> Socket::create(MemoryAccount& account, Lane& lane, Kind kind, u32 backlog) {
  void* mem = PLATYPOS_TRY(account.alloc_bytes(sizeof(Socket)));
  u64* pending = nullptr;
  if (kind == Kind::listener) {
    PLATYPOS_ASSERT(backlog >= 1 && backlog <= abi::kMaxBacklog, "backlog {}", backlog);
    Result<void*> p = account.alloc_bytes(backlog * sizeof(u64));
    if (p.is_error()) {
      account.free_bytes(mem, sizeof(Socket));
      return p.error();
    }
    pending = static_cast<u64*>(*p);
  }
  auto* s = new (mem) Socket(account, lane, kind);
  s->pending_ = pending;
  s->pending_cap_ = kind == Kind::listener ? backlog : 0;
  account.retain();
  g_live_sockets.fetch_add(1, std::memory_order_relaxed);
  return s;
}

void Socket::release() {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  // Nobody else refers to it: the object is gone, the device let go, no lane lists it.
  while (Chunk* c = rx_.pop_front()) free_chunk(c);
  while (Chunk* c = tx_.pop_front()) free_chunk(c);
  MemoryAccount* account = account_;
  if (pending_ != nullptr) account->free_bytes(pending_, pending_cap_ * sizeof(u64));
  this->~Socket();
  account->free_bytes(this, sizeof(Socket));
  account->release();
  g_live_sockets.fetch_sub(1, std::memory_order_relaxed);
}

Result<Chunk*> Socket::new_chunk(u32 at_least) {
  const u32 capacity = at_least < kChunkBytes ? at_least : kChunkBytes;
  void* mem = PLATYPOS_TRY(account_->alloc_bytes(sizeof(Chunk) + capacity));
  auto* c = new (mem) Chunk();
  c->capacity = capacity;
  return c;
}

void Socket::free_chunk(Chunk* c) {
  const usize bytes = sizeof(Chunk) + c->capacity;
  c->~Chunk();
  account_->free_bytes(c, bytes);
}

void Socket::update_signals_locked() {
  if (object_ == nullptr) return;
  u32 set = 0;
  if (kind_ == Kind::listener) {
    if (pending_count_ > 0 || error_ != Error::none) set |= cap::kSignalReadable;
  } else {
    const bool broken = error_ != Error::none;
    if (rx_bytes_ > 0 || end_received_ || broken) set |= cap::kSignalReadable;
    if (connected_ && !broken && !shut_send_ && tx_bytes_ < abi::kStreamSendBytes) set |= cap::kSignalWritable;
    if (end_received_ || broken) set |= cap::kSignalPeerClosed;
  }
  object_->update_signals(kSignalsOfSockets & ~set, set);
}

void Socket::bind_object(cap::KernelObject* object) {
  IrqSpinGuard g(lock_);
  object_ = object;
  update_signals_locked();
}

void Socket::object_closed() {
  {
    IrqSpinGuard g(lock_);
    object_ = nullptr;
    closed_ = true;
  }
  lane_->attention(*this);
  release();  // the object's reference
}

Result<u64> Socket::take_pending() {
  IrqSpinGuard g(lock_);
  if (pending_count_ == 0) return error_ != Error::none ? error_ : Error::would_block;
  const u64 conn = pending_[pending_head_];
  pending_head_ = (pending_head_ + 1) % pending_cap_;
  --pending_count_;
  update_signals_locked();
  return conn;
}

void Socket::adopt(u64 conn) {
  {
    IrqSpinGuard g(lock_);
    adopted_ = true;
    adopted_conn_ = conn;
    connected_ = true;
    update_signals_locked();
  }
  lane_->attention(*this);
}

Result<u64> Socket::receive(std::span<u8> out) {
  bool kick = false;
  u64 n = 0;
  {
    IrqSpinGuard g(lock_);
    while (n < out.size()) {
      Chunk* c = rx_.front();
      if (c == nullptr) break;
      const u64 avail = c->size - c->offset;
      const u64 take = avail < out.size() - n ? avail : out.size() - n;
      copy_program_memory(out.data() + n, c->data() + c->offset, take);
      n += take;
      c->offset += static_cast<u32>(take);
      if (c->offset == c->size) {
        rx_.pop_front();
        free_chunk(c);
      }
    }
    rx_bytes_ -= static_cast<u32>(n);
    if (n == 0) {
      if (error_ != Error::none) return error_;
      if (end_received_ || shut_receive_) return u64{0};
      if (!connected_) return connecting_ ? Error::would_block : Error::bad_state;
      return Error::would_block;
    }
    if (rx_stalled_) {
      rx_stalled_ = false;
      kick = true;
    }
    update_signals_locked();
  }
  if (kick) lane_->attention(*this);
  return n;
}

Result<u64> Socket::send(std::span<const u8> in) {
  u64 took = 0;
  {
    IrqSpinGuard g(lock_);
    if (error_ != Error::none) return error_;
    if (shut_send_) return Error::bad_state;
    if (!connected_) return connecting_ ? Error::would_block : Error::bad_state;
    const u64 room = abi::kStreamSendBytes - tx_bytes_;
    if (room == 0) return Error::would_block;
    const u64 want = in.size() < room ? in.size() : room;
    while (took < want) {
      Chunk* c = tx_.back();
      if (c == nullptr || c->size == c->capacity) {
        const u64 left = want - took;
        Result<Chunk*> fresh = new_chunk(static_cast<u32>(left < kChunkBytes ? left : kChunkBytes));
        if (fresh.is_error()) {
          if (took == 0) return fresh.error();
          break;
        }
        c = *fresh;
        tx_.push_back(*c);
      }
      const u64 space = c->capacity - c->size;
      const u64 take = space < want - took ? space : want - took;
      copy_program_memory(c->data() + c->size, in.data() + took, take);  // each byte read once
      c->size += static_cast<u32>(take);
      took += take;
    }
    tx_bytes_ += static_cast<u32>(took);
    update_signals_locked();
  }
  lane_->attention(*this);
  return took;
}

Result<void> Socket::shutdown(bool send, bool receive) {
  {
    IrqSpinGuard g(lock_);
    if (error_ != Error::none) return error_;
    if (!connected_) return Error::bad_state;
    if (send) shut_send_ = true;
    if (receive && !shut_receive_) {
      shut_receive_ = true;
      while (Chunk* c = rx_.pop_front()) free_chunk(c);
      rx_bytes_ = 0;
    }
    update_signals_locked();
  }
  lane_->attention(*this);
  return ok();
}

void Socket::begin_connect() {
  IrqSpinGuard g(lock_);
  connecting_ = true;
}

bool Socket::has_pending() const {
  IrqSpinGuard g(lock_);
  return pending_count_ > 0;
}

Result<void> Socket::connect_state() const {
  IrqSpinGuard g(lock_);
  if (connected_) return ok();
  if (error_ != Error::none) return error_;
  return Error::would_block;
}

void Socket::device_attach() {
  refs_.fetch_add(1, std::memory_order_relaxed);
  lane_->socket_attached();
}

void Socket::device_detach() {
  // It may be asked for again (an op on another kernel core can put it on the lane's attention list after this, a
  // receive's kick, say): from here it names nothing of the device's, which then has nothing to do for it.
  device_id_ = 0;
  lane_->socket_detached();
  release();
}

Socket::Wants Socket::wants() {
  IrqSpinGuard g(lock_);
  Wants w;
  w.closed = closed_;
  if (adopted_) {
    w.start = true;
    w.adopted_conn = adopted_conn_;
    adopted_ = false;
  }
  w.send_bytes = tx_bytes_;
  w.receive = kind_ == Kind::stream && connected_ && !shut_receive_ && !end_received_ && error_ == Error::none &&
              rx_bytes_ < abi::kStreamReceiveBytes;
  if (kind_ == Kind::stream && rx_bytes_ >= abi::kStreamReceiveBytes) rx_stalled_ = true;  // tell it when read
  w.shutdown_send = shut_send_ && tx_bytes_ == 0 && !shut_send_done_;
  return w;
}

bool Socket::incoming(u64 conn) {
  IrqSpinGuard g(lock_);
  if (closed_ || pending_count_ == pending_cap_) return false;
  pending_[(pending_head_ + pending_count_) % pending_cap_] = conn;
  ++pending_count_;
  update_signals_locked();
  return true;
}

u64 Socket::drain_pending() {
  IrqSpinGuard g(lock_);
  if (pending_count_ == 0) return 0;
  const u64 conn = pending_[pending_head_];
  pending_head_ = (pending_head_ + 1) % pending_cap_;
  --pending_count_;
  return conn;
}

std::span<const u8> Socket::send_front() {
  IrqSpinGuard g(lock_);
  Chunk* c = tx_.front();
  if (c == nullptr) return {};
  return {c->data() + c->offset, static_cast<usize>(c->size - c->offset)};
}

void Socket::sent(u64 n) {
  IrqSpinGuard g(lock_);
  PLATYPOS_ASSERT(n <= tx_bytes_, "sent {} of {} queued bytes", n, tx_bytes_);
  tx_bytes_ -= static_cast<u32>(n);
  while (n > 0) {
    Chunk* c = tx_.front();
    const u64 avail = c->size - c->offset;
    const u64 take = avail < n ? avail : n;
    c->offset += static_cast<u32>(take);
    n -= take;
    // A chunk still being filled (the back one) stays while it has room; the others go once sent.
    if (c->offset == c->size && (c != tx_.back() || c->size == c->capacity)) {
      tx_.pop_front();
      free_chunk(c);
    }
  }
  update_signals_locked();
}

void Socket::shutdown_sent() {
  IrqSpinGuard g(lock_);
  shut_send_done_ = true;
}

u64 Socket::deliver(std::span<const u8> bytes) {
  IrqSpinGuard g(lock_);
  if (shut_receive_ || closed_) return bytes.size();  // nobody will read them: dropped
  u64 took = 0;
  while (took < bytes.size() && rx_bytes_ < abi::kStreamReceiveBytes) {
    const u64 room = abi::kStreamReceiveBytes - rx_bytes_;
    u64 want = bytes.size() - took;
    if (want > room) want = room;
    Result<Chunk*> c = new_chunk(static_cast<u32>(want < kChunkBytes ? want : kChunkBytes));
    if (c.is_error()) break;  // the program's memory is used up: the rest waits in the device until it reads
    const u32 take = (*c)->capacity;
    __builtin_memcpy((*c)->data(), bytes.data() + took, take);
    (*c)->size = take;
    rx_.push_back(**c);
    rx_bytes_ += take;
    took += take;
  }
  // A full queue stops the device as surely as bytes it could not take: either way the next read must tell it.
  // (Only the first once lost a transfer: a recv that filled the queue exactly left the device waiting for good.)
  if (took < bytes.size() || rx_bytes_ >= abi::kStreamReceiveBytes) rx_stalled_ = true;
  if (took > 0) update_signals_locked();
  return took;
}

void Socket::deliver_end() {
  IrqSpinGuard g(lock_);
  end_received_ = true;
  update_signals_locked();
}

void Socket::fail(Error e) {
  IrqSpinGuard g(lock_);
  if (error_ == Error::none) error_ = e;
  connecting_ = false;
  update_signals_locked();
}

void Socket::connected() {
  IrqSpinGuard g(lock_);
  connected_ = true;
  connecting_ = false;
  update_signals_locked();
}

// --- NetGrant ------------------------------------------------------------------------------------------------------

NetGrant::NetGrant() : KernelObject(cap::ObjectType::net, &NetGrant::destroy) {}

void NetGrant::destroy(cap::KernelObject* self) { cap::free_object(static_cast<NetGrant*>(self)); }

Result<cap::Ref<NetGrant>> NetGrant::create(MemoryAccount* payer, std::span<const NetRule> rules) {
  if (rules.empty() || rules.size() > kMaxRules) return Error::invalid_argument;
  for (const NetRule& r : rules) {
    if (r.port_first > r.port_last || (!r.listen && !r.connect)) return Error::invalid_argument;
  }
  NetGrant* g = PLATYPOS_TRY(cap::make_object<NetGrant>(payer));
  for (usize i = 0; i < rules.size(); ++i) g->rules_[i] = rules[i];
  g->rule_count_ = static_cast<u32>(rules.size());
  return cap::Ref<NetGrant>::adopt(g);
}

bool NetGrant::allows_listen(Ipv4Endpoint ep) const {
  for (u32 i = 0; i < rule_count_; ++i) {
    const NetRule& r = rules_[i];
    if (r.listen && (r.any_address || r.address == ep.address) && ep.port >= r.port_first && ep.port <= r.port_last)
      return true;
  }
  return false;
}

bool NetGrant::allows_connect(Ipv4Endpoint ep) const {
  for (u32 i = 0; i < rule_count_; ++i) {
    const NetRule& r = rules_[i];
    if (r.connect && ep.port != 0 && (r.any_address || r.address == ep.address) && ep.port >= r.port_first &&
        ep.port <= r.port_last)
      return true;
  }
  return false;
}

// --- BufferPool ----------------------------------------------------------------------------------------------------

BufferPool::BufferPool() : KernelObject(cap::ObjectType::buffer_pool, &BufferPool::destroy) {}

void BufferPool::destroy(cap::KernelObject* self) {
  auto* p = static_cast<BufferPool*>(self);
  MemoryAccount* a = p->account_;
  a->free_bytes(p->free_, u64{p->count_} * sizeof(u32));
  a->free_bytes(p->is_free_, p->count_);
  cap::free_object(p);
  a->release();
}

Result<cap::Ref<BufferPool>> BufferPool::create(MemoryAccount& payer, u64 owner, u8* region, u32 size, u32 count) {
  if (size < abi::kMinPoolBufferBytes || size > abi::kMaxPoolBufferBytes || count == 0 ||
      count > abi::kMaxPoolBuffers) {
    return Error::invalid_argument;
  }
  auto* stack = static_cast<u32*>(PLATYPOS_TRY(payer.alloc_bytes(u64{count} * sizeof(u32))));
  Result<void*> flags = payer.alloc_bytes(count);
  if (flags.is_error()) {
    payer.free_bytes(stack, u64{count} * sizeof(u32));
    return flags.error();
  }
  Result<BufferPool*> p = cap::make_object<BufferPool>(&payer);
  if (p.is_error()) {
    payer.free_bytes(stack, u64{count} * sizeof(u32));
    payer.free_bytes(*flags, count);
    return p.error();
  }
  BufferPool* pool = *p;
  pool->owner_ = owner;
  pool->region_ = region;
  pool->size_ = size;
  pool->count_ = count;
  pool->free_ = stack;
  pool->is_free_ = static_cast<u8*>(*flags);
  // Taken lowest id first.
  for (u32 i = 0; i < count; ++i) {
    stack[i] = count - 1 - i;
    pool->is_free_[i] = 1;
  }
  pool->free_count_ = count;
  payer.retain();
  pool->account_ = &payer;
  return cap::Ref<BufferPool>::adopt(pool);
}

Result<u32> BufferPool::take() {
  IrqSpinGuard g(pool_lock_);
  if (free_count_ == 0) return Error::no_resources;
  const u32 id = free_[--free_count_];
  is_free_[id] = 0;
  return id;
}

void BufferPool::give_back(u32 id) {
  IrqSpinGuard g(pool_lock_);
  PLATYPOS_ASSERT(id < count_ && is_free_[id] == 0, "buffer {} given back twice", id);
  is_free_[id] = 1;
  free_[free_count_++] = id;
}

Result<void> BufferPool::provide(u32 first, u32 n) {
  u64 end = 0;
  if (n == 0 || !checked_add(first, n, &end) || end > count_) return Error::out_of_range;
  IrqSpinGuard g(pool_lock_);
  for (u32 i = first; i < end; ++i)
    if (is_free_[i] != 0) return Error::bad_state;
  for (u32 i = first; i < end; ++i) {
    is_free_[i] = 1;
    free_[free_count_++] = i;
  }
  return ok();
}

u32 BufferPool::free_buffers() const {
  IrqSpinGuard g(pool_lock_);
  return free_count_;
}

// --- SocketObject --------------------------------------------------------------------------------------------------

SocketObject::SocketObject(cap::ObjectType type, Socket* socket) : KernelObject(type, &SocketObject::destroy), socket_(socket) {}

void SocketObject::destroy(cap::KernelObject* self) {
  auto* o = static_cast<SocketObject*>(self);
  o->socket_->object_closed();
  cap::free_object(o);
}

Result<cap::Ref<SocketObject>> SocketObject::create(MemoryAccount* payer, Socket* socket) {
  const cap::ObjectType type =
      socket->kind() == Socket::Kind::listener ? cap::ObjectType::listener : cap::ObjectType::stream;
  Result<SocketObject*> o = cap::make_object<SocketObject>(payer, type, socket);
  if (o.is_error()) {
    socket->object_closed();  // nobody will: the device (if it holds it) lets go, then it is freed
    return o.error();
  }
  socket->bind_object(*o);
  return cap::Ref<SocketObject>::adopt(*o);
}

}  // namespace platypos::io
