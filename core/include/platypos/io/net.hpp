#pragma once
// Sockets as capabilities: the kernel's side of TCP, whatever carries the bytes.
//
// Objects a program holds handles to:
//   NetGrant  what its holder may listen on and connect to: a list of rules (an address, or any, and a port range,
//             each allowing listen, connect or both). Made by whoever launches a program and passed to it at spawn;
//             there is no op that names an address without one (no ambient authority).
//   Listener  a bound, listening socket. READABLE while a connection waits to be accepted.
//   Stream    a connection. READABLE while bytes, the end of the stream or an error wait to be read; WRITABLE while
//             it is connected and its send queue has room; PEER_CLOSED once the peer ended its side or it broke.
//
// Each listener and stream has a Socket: its kernel state, shared by the object (the program's side, through ops on
// any kernel core) and the device that carries its bytes (the backend's side: hosted, a Linux socket on a kernel
// core's io_uring; in the simulator, a modelled network). The device only ever works on a socket from the Lane that
// owns it (one lane per ring server, so one kernel core): ops that need the device (bytes queued to send, room to
// receive again, a shutdown, an accepted connection to start, the object closed) put the socket on its lane's
// attention list and wake the lane; the lane calls the device's service() for it on its own core.
//
// Bytes: received data waits in the socket's receive queue, in chunks paid from the program's account, until
// net_recv copies it out; net_send copies the program's bytes into the send queue (once: the program's memory is
// never read again) and the device sends from there. Each queue holds at most kStreamReceiveBytes /
// kStreamSendBytes: a program that does not read stops the device from receiving (the peer's TCP window closes),
// one whose peer does not read sees net_send take fewer bytes, then wait. Memory grows with neither.
//
// Lifetime: the socket holds up to two references: the object's (dropped when the program's last handle goes) and the
// device's (dropped by the device once it has let go of the connection: in-flight transfers finished or cancelled).
// It is freed, its queued bytes with it, when both are gone; its account with it.

#include <platypos/abi/limits.hpp>
#include <platypos/base/intrusive_list.hpp>
#include <platypos/cap/object.hpp>

#include <span>

namespace platypos::io {

struct Ipv4Endpoint {
  u32 address = 0;  // host byte order; 0 is INADDR_ANY
  u16 port = 0;
  friend constexpr bool operator==(Ipv4Endpoint, Ipv4Endpoint) = default;
};
// arg0 of net_listen / net_connect (abi::ipv4_endpoint): invalid_argument if bits 48..63 are set.
Result<Ipv4Endpoint> decode_endpoint(u64 arg);

class Lane;
class Socket;
struct FileDevice;
struct AttentionTag;
struct ChunkTag;

// What a backend implements to carry sockets. Every call comes on the lane's own kernel core: listen and connect from
// the op that creates the socket (which runs on the ring's server: that server's lane is the socket's), the rest from
// Lane::poll() and the lane's idle handshake.
struct NetDevice {
  void* context = nullptr;
  // Opens a listening socket for `s` at `ep` (port 0: any free port), *port: the port it is bound to. Fails with
  // address_in_use, no_resources, io_error.
  Result<void> (*listen)(void* context, Lane& lane, Socket& s, Ipv4Endpoint ep, u32 backlog, u16* port) = nullptr;
  // Starts connecting stream `s` to `ep`; the device calls s.connected() or s.fail() later.
  Result<void> (*connect)(void* context, Lane& lane, Socket& s, Ipv4Endpoint ep) = nullptr;
  // `s` asks for the device (Socket::wants() says what).
  void (*service)(void* context, Lane& lane, Socket& s) = nullptr;
  // Completions and timed work due by `now`; whether anything happened.
  bool (*poll)(void* context, Lane& lane, u64 now) = nullptr;
  // The lane is about to sleep: from now on the device calls lane.interrupt() when it has news. False if it has news
  // already (the lane does not sleep). *deadline: when the device wants a poll at the latest (0: no need).
  bool (*prepare_idle)(void* context, Lane& lane, u64* deadline) = nullptr;
  // The lane is awake again (no need to interrupt it).
  void (*end_idle)(void* context, Lane& lane) = nullptr;
};

// One kernel core's share of the network: its sockets' attention list, and the device's per-core state.
class Lane {
 public:
  Lane() = default;
  Lane(const Lane&) = delete;
  Lane& operator=(const Lane&) = delete;

  void init(u32 index, const NetDevice* device, void (*wake)(void*), void* wake_context);
  u32 index() const { return index_; }
  const NetDevice* device() const { return device_; }
  // The device's own state for this lane.
  void* device_state() const { return device_state_; }
  void set_device_state(void* s) { device_state_ = s; }

  // From any CPU: `s` needs the device. Wakes the lane.
  void attention(Socket& s);
  // From the device (any CPU, interrupt context included): news; wakes the lane's kernel task.
  void interrupt() { wake_(wake_context_); }

  // --- On the lane's core (the ring server) ---
  // Services the sockets that asked, then polls the device. Whether anything happened.
  bool poll(u64 now);
  bool prepare_idle(u64* deadline);
  void end_idle();
  // Sockets this lane's device still holds (leak checks, diagnostics).
  u64 sockets() const { return sockets_.load(std::memory_order_relaxed); }
  void socket_attached() { sockets_.fetch_add(1, std::memory_order_relaxed); }
  void socket_detached() { sockets_.fetch_sub(1, std::memory_order_relaxed); }
  // The file device on this lane (io/file.hpp; nullptr: none, the file ops fail with not_supported). Its completions
  // come through this lane's NetDevice::poll: a backend carries both on one per-core device.
  void set_files(const FileDevice* files) { files_ = files; }
  const FileDevice* files() const { return files_; }
  // File requests the device holds (submitted, not completed).
  u64 requests() const { return requests_.load(std::memory_order_relaxed); }
  void request_started() { requests_.fetch_add(1, std::memory_order_relaxed); }
  void request_finished() { requests_.fetch_sub(1, std::memory_order_relaxed); }

 private:
  u32 index_ = 0;
  const NetDevice* device_ = nullptr;
  const FileDevice* files_ = nullptr;
  void* device_state_ = nullptr;
  void (*wake_)(void*) = nullptr;
  void* wake_context_ = nullptr;
  SpinLock lock_{"net lane"};
  IntrusiveList<Socket, AttentionTag> attention_;
  Atomic<u64> sockets_{0};
  Atomic<u64> requests_{0};
};

// A chunk of queued bytes, paid from the socket's account.
struct Chunk : ListNode<ChunkTag> {
  u32 capacity = 0;  // bytes data() has room for
  u32 size = 0;      // bytes in data()
  u32 offset = 0;    // bytes already taken from the front
  u8* data() { return reinterpret_cast<u8*>(this + 1); }
};

class Socket : public ListNode<AttentionTag> {
 public:
  enum class Kind : u8 { listener, stream };
  // Most bytes in one chunk: a chunk and its header fill one page.
  static constexpr u32 kChunkBytes = static_cast<u32>(kPageSize - sizeof(Chunk));

  // A socket paid from `account` (retained), on `lane`. Listeners get room for `backlog` waiting connections. Fails
  // with no_memory.
  static Result<Socket*> create(MemoryAccount& account, Lane& lane, Kind kind, u32 backlog);

  Kind kind() const { return kind_; }
  Lane& lane() const { return *lane_; }
  MemoryAccount& account() const { return *account_; }
  u64 koid() const { return koid_; }
  // The device's id for its connection or listening socket.
  u64 device_id() const { return device_id_; }
  void set_device_id(u64 id) { device_id_ = id; }

  // --- The object's side (ops, any kernel core) ---
  // The object that raises this socket's signals (set once, when the object is made).
  void bind_object(cap::KernelObject* object);
  // The object's last reference is gone: the device drops the connection; the socket goes once it has.
  void object_closed();
  // Accept: takes the oldest waiting connection's device id. would_block if none (and none can come: bad_state once
  // the listener failed).
  Result<u64> take_pending();
  // A stream made from an accepted connection: it takes over device connection `conn` (the device starts it).
  void adopt(u64 conn);
  // Copies received bytes into `out`, program memory (written once, through copy_program_memory). 0: the end of the
  // stream, nothing left. would_block if nothing is there yet; the error (connection_reset...) once it broke;
  // bad_state while it is not connected yet.
  Result<u64> receive(std::span<u8> out);
  // Queues bytes from `in`, program memory (each byte read once, through copy_program_memory): how many it took
  // (fewer when the queue is short of room). would_block if no room at all; no_memory if the program's account has
  // none for a chunk; bad_state after shutdown(send) or before it is connected; the error once it broke.
  Result<u64> send(std::span<const u8> in);
  Result<void> shutdown(bool send, bool receive);
  // Connect: the op marks the stream connecting before it asks the device.
  void begin_connect();
  bool has_pending() const;
  // Connect: done (0), or still connecting (would_block), or failed.
  Result<void> connect_state() const;

  // --- The device's side (on the lane's core) ---
  // The device holds the socket from now on (one reference).
  void device_attach();
  // The device has let go: no transfer in flight, nothing more will come. Clears the device id (a later service()
  // call finds none) and drops its reference.
  void device_detach();
  // What the socket wants from the device, read under the socket's lock.
  struct Wants {
    bool closed = false;        // the object is gone: drop everything (and, for a listener, its waiting connections)
    bool start = false;         // an adopted connection to start (adopted_conn)
    u64 adopted_conn = 0;
    u32 send_bytes = 0;         // queued to send
    bool receive = false;       // the receive queue has room: take more from the network
    bool shutdown_send = false; // every queued byte sent: end the stream
  };
  Wants wants();
  // Connections arriving at a listener: false if the backlog is full (the device closes it).
  bool incoming(u64 conn);
  // A listener's waiting connections, at its close: the device closes each. 0 when none is left.
  u64 drain_pending();
  // The front of the send queue (empty span: nothing) and, once sent, its release.
  std::span<const u8> send_front();
  void sent(u64 n);
  void shutdown_sent();
  // Received bytes: how many the queue took (fewer when it is full or the account is out of memory: the rest waits
  // in the device).
  u64 deliver(std::span<const u8> bytes);
  // The peer ended its side (end of stream).
  void deliver_end();
  // The connection broke, or never came up.
  void fail(Error e);
  void connected();

  static u64 live_sockets();

 private:
  friend class Lane;
  Socket(MemoryAccount& account, Lane& lane, Kind kind);
  void update_signals_locked();
  void release();

  Result<Chunk*> new_chunk(u32 at_least);
  void free_chunk(Chunk* c);

  mutable SpinLock lock_{"socket"};
  Kind kind_;
  Lane* lane_;
  MemoryAccount* account_;  // retained
  u64 koid_ = 0;
  Atomic<u32> refs_{1};     // the object's; device_attach adds the device's
  cap::KernelObject* object_ = nullptr;
  u64 device_id_ = 0;
  bool attention_ = false;  // under the lane's lock: on its list
  // State, under lock_.
  bool closed_ = false;
  bool connecting_ = false;
  bool connected_ = false;
  bool end_received_ = false;
  bool shut_send_ = false;       // asked
  bool shut_send_done_ = false;  // the device ended the stream
  bool shut_receive_ = false;
  bool adopted_ = false;         // adopt() called and the device not told yet
  bool rx_stalled_ = false;      // the device has bytes the queue did not take: tell it when there is room
  u64 adopted_conn_ = 0;
  Error error_ = Error::none;
  // Listener: waiting connections (a ring of device ids).
  u64* pending_ = nullptr;
  u32 pending_cap_ = 0;
  u32 pending_head_ = 0;
  u32 pending_count_ = 0;
  // Stream: the queues.
  IntrusiveList<Chunk, ChunkTag> rx_;
  IntrusiveList<Chunk, ChunkTag> tx_;
  u32 rx_bytes_ = 0;
  u32 tx_bytes_ = 0;
};

// --- The objects -------------------------------------------------------------------------------------------------

struct NetRule {
  u32 address = 0;  // with any_address: ignored
  bool any_address = false;
  u16 port_first = 0;  // a range; port 0 in it allows "any free port" for listen
  u16 port_last = 0;
  bool listen = false;
  bool connect = false;
};

class NetGrant final : public cap::KernelObject {
 public:
  static constexpr cap::ObjectType kType = cap::ObjectType::net;
  static constexpr u32 kMaxRules = 8;
  // A grant of `rules` (1 to kMaxRules; each a non-empty port range allowing listen, connect or both), paid by
  // `payer` (nullptr: the kernel heap). Fails with invalid_argument, no_memory.
  static Result<cap::Ref<NetGrant>> create(MemoryAccount* payer, std::span<const NetRule> rules);
  bool allows_listen(Ipv4Endpoint ep) const;
  bool allows_connect(Ipv4Endpoint ep) const;

 private:
  template <class T, class... Args>
  friend Result<T*> cap::make_object(MemoryAccount* payer, Args&&... args);
  NetGrant();
  static void destroy(cap::KernelObject* self);
  NetRule rules_[kMaxRules];
  u32 rule_count_ = 0;
};

// A provided-buffer pool (io_uring's buffer rings, as ops): a region of the program's own memory cut into `count`
// buffers of `size` bytes, which net_recv_pool fills as data arrives, each completion naming the buffer it used; the
// program hands buffers back (net_pool_provide) once it has consumed them. A receive waiting on an idle connection
// then holds no buffer at all. The pool is its creator's alone: its handle cannot be duplicated or transferred, and
// receives into it are refused to any other process (the kernel writes only into the memory of the process that
// registered it, which lives as long as that process's handles do).
class BufferPool final : public cap::KernelObject {
 public:
  static constexpr cap::ObjectType kType = cap::ObjectType::buffer_pool;
  // A pool over [region, region + size * count) of process `owner`'s memory (checked by the caller), every buffer
  // free, its bookkeeping paid by `payer`. Fails with invalid_argument (sizes), no_memory.
  static Result<cap::Ref<BufferPool>> create(MemoryAccount& payer, u64 owner, u8* region, u32 size, u32 count);
  u64 owner() const { return owner_; }
  u32 size() const { return size_; }
  u32 count() const { return count_; }
  // A free buffer (its id), or no_resources when none is.
  Result<u32> take();
  // Buffer `id` is free again (after a take() whose receive found nothing).
  void give_back(u32 id);
  // The program hands back [first, first + n): all or nothing. out_of_range beyond the pool, bad_state if one of
  // them is free already.
  Result<void> provide(u32 first, u32 n);
  // Where buffer `id` lies (program memory: written only through copy_program_memory).
  std::span<u8> buffer(u32 id) const { return {region_ + u64{id} * size_, size_}; }
  u32 free_buffers() const;

 private:
  template <class T, class... Args>
  friend Result<T*> cap::make_object(MemoryAccount* payer, Args&&... args);
  BufferPool();
  static void destroy(cap::KernelObject* self);
  mutable SpinLock pool_lock_{"buffer pool"};
  u64 owner_ = 0;
  u8* region_ = nullptr;
  u32 size_ = 0;
  u32 count_ = 0;
  u32* free_ = nullptr;   // a stack of free ids
  u32 free_count_ = 0;
  u8* is_free_ = nullptr; // one byte per buffer (a double provide is refused)
  MemoryAccount* account_ = nullptr;  // retained: pays for free_ and is_free_
};

// A listener or a stream: the object a handle names, over its Socket.
class SocketObject final : public cap::KernelObject {
 public:
  // Makes the object for `socket` (which it then owns: the object's reference), paid by `payer`. On failure the
  // socket is released.
  static Result<cap::Ref<SocketObject>> create(MemoryAccount* payer, Socket* socket);
  Socket& socket() const { return *socket_; }
  u16 port() const { return port_; }
  void set_port(u16 p) { port_ = p; }

 private:
  template <class T, class... Args>
  friend Result<T*> cap::make_object(MemoryAccount* payer, Args&&... args);
  SocketObject(cap::ObjectType type, Socket* socket);
  static void destroy(cap::KernelObject* self);
  Socket* socket_;
  u16 port_ = 0;
};

}  // namespace platypos::io
