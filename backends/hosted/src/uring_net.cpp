// Threads mode's network device (uring_net.hpp): Linux sockets on one io_uring per lane.

#include <platypos/base/assert.hpp>
#include <platypos/base/log.hpp>
#include <platypos/hosted/uring_net.hpp>
#include <platypos/abi/ops.hpp>
#include <platypos/io/file.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

namespace platypos::hosted {
namespace {
constexpr unsigned kRingEntries = 1024;
constexpr unsigned kCqEntries = 16384;
constexpr unsigned kBufCount = 256;  // a power of two
constexpr unsigned kBufBytes = 16 * 1024;
constexpr u16 kBufGroup = 1;

enum OpKind : u64 { kAccept = 1, kRecv = 2, kSend = 3, kConnect = 4, kCancel = 5, kFile = 6 };

Error error_from_errno(int e) {
  switch (e) {
    case EADDRINUSE: return Error::address_in_use;
    case EACCES:
    case EPERM: return Error::access_denied;
    case ECONNREFUSED: return Error::connection_refused;
    case ETIMEDOUT: return Error::timed_out;
    case EMFILE:
    case ENFILE:
    case ENOBUFS: return Error::no_resources;
    case ENOMEM: return Error::no_memory;
    case EADDRNOTAVAIL:
    case EINVAL: return Error::invalid_argument;
    case ECONNRESET:
    case EPIPE:
    case ECONNABORTED:
    case ENETUNREACH:
    case EHOSTUNREACH: return Error::connection_reset;
    default: return Error::io_error;
  }
}

// A file operation's errno as the kernel's error.
Error file_error(int e) {
  switch (e) {
    case ENOENT: return Error::not_found;
    case EEXIST: return Error::already_exists;
    case EXDEV:   // RESOLVE_BENEATH: the path (through a link) leads out of the directory
    case ELOOP:   // a magic link (/proc/self/fd/...), or too many links
    case EACCES:
    case EPERM:
    case EROFS: return Error::access_denied;
    case ENOTDIR:
    case EISDIR:
    case ENXIO: return Error::wrong_type;
    case ENOSPC:
    case EDQUOT: return Error::no_space;
    case EFBIG:
    case EOVERFLOW: return Error::out_of_range;
    case ENAMETOOLONG:
    case EINVAL: return Error::invalid_argument;
    case EMFILE:
    case ENFILE: return Error::no_resources;
    case ENOMEM: return Error::no_memory;
    default: return Error::io_error;
  }
}

sockaddr_in to_sockaddr(io::Ipv4Endpoint ep) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(ep.port);
  a.sin_addr.s_addr = htonl(ep.address);
  return a;
}
}  // namespace

// One listener or stream on the host.
struct alignas(8) UringNet::Record {
  int fd = -1;
  io::Socket* socket = nullptr;
  bool listener = false;
  bool accept_armed = false;
  bool recv_armed = false;
  bool send_armed = false;
  bool connecting = false;
  bool closing = false;
  bool broken = false;    // a send failed: nothing more goes out
  bool shut_done = false;
  bool recv_cancelled = false;
  u32 inflight = 0;       // operations in the io_uring
  // Received bytes the stream's queue did not take yet (its account or its limit): a buffer held back from the pool.
  int held_buf = -1;
  u32 held_offset = 0;
  u32 held_len = 0;
  sockaddr_in peer{};     // connect's address (must outlive the operation)
};

struct UringNet::LaneState {
  UringNet* net = nullptr;
  io::Lane* lane = nullptr;
  bool ready = false;
  CpuId cpu = 0;
  io_uring ring{};
  io_uring_buf_ring* bufs = nullptr;
  usize bufs_ring_bytes = 0;
  u8* buffers = nullptr;
  bool pool_dry = false;  // a recv found no buffer: re-arm the starved once buffers come back
  int efd = -1;
  std::atomic<bool> idle{false};
  std::atomic<bool> stop{false};
  std::thread waker;
  std::atomic<u64> open{0};
  u64 files_inflight = 0;  // file requests in the io_uring

  ~LaneState() {
    if (!ready) return;
    stop.store(true);
    const u64 one = 1;
    (void)!::write(efd, &one, sizeof one);
    waker.join();
    io_uring_queue_exit(&ring);
    ::close(efd);
    munmap(bufs, bufs_ring_bytes);
    munmap(buffers, usize{kBufCount} * kBufBytes);
  }

  void init(io::Lane& l) {
    if (ready) return;
    lane = &l;
    cpu = HostedPlatform::current_cpu();
    // A large CQ: a burst of connections (10,000 accepts, each with its first receive) must not overflow it often.
    io_uring_params params{};
    params.flags = IORING_SETUP_CQSIZE;
    params.cq_entries = kCqEntries;
    int r = io_uring_queue_init_params(kRingEntries, &ring, &params);
    PLATYPOS_ASSERT(r == 0, "io_uring_queue_init: {}", std::strerror(-r));
    bufs_ring_bytes = kBufCount * sizeof(io_uring_buf);
    bufs = static_cast<io_uring_buf_ring*>(
        mmap(nullptr, bufs_ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0));
    PLATYPOS_ASSERT(bufs != MAP_FAILED, "buffer ring: {}", std::strerror(errno));
    buffers = static_cast<u8*>(
        mmap(nullptr, usize{kBufCount} * kBufBytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0));
    PLATYPOS_ASSERT(buffers != MAP_FAILED, "buffers: {}", std::strerror(errno));
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<u64>(bufs);
    reg.ring_entries = kBufCount;
    reg.bgid = kBufGroup;
    r = io_uring_register_buf_ring(&ring, &reg, 0);
    PLATYPOS_ASSERT(r == 0, "io_uring_register_buf_ring: {}", std::strerror(-r));
    io_uring_buf_ring_init(bufs);
    for (unsigned i = 0; i < kBufCount; ++i)
      io_uring_buf_ring_add(bufs, buffers + usize{i} * kBufBytes, kBufBytes, static_cast<u16>(i),
                            io_uring_buf_ring_mask(kBufCount), static_cast<int>(i));
    io_uring_buf_ring_advance(bufs, kBufCount);
    efd = eventfd(0, EFD_CLOEXEC);
    PLATYPOS_ASSERT(efd >= 0, "eventfd: {}", std::strerror(errno));
    r = io_uring_register_eventfd(&ring, efd);
    PLATYPOS_ASSERT(r == 0, "io_uring_register_eventfd: {}", std::strerror(-r));
    (void)io_uring_cq_eventfd_toggle(&ring, false);  // only while idle
    set_device_irq_handler(cpu, [](void* l) { static_cast<io::Lane*>(l)->interrupt(); }, lane);
    waker = std::thread([this] {
      for (;;) {
        u64 v = 0;
        if (::read(efd, &v, sizeof v) < 0 && errno == EINTR) continue;
        if (stop.load()) return;
        if (idle.load()) raise_device_irq(cpu);
      }
    });
    ready = true;
  }

  io_uring_sqe* sqe() {
    io_uring_sqe* s = io_uring_get_sqe(&ring);
    while (s == nullptr) {
      io_uring_submit(&ring);
      s = io_uring_get_sqe(&ring);
    }
    return s;
  }

  void recycle(int bid) {
    io_uring_buf_ring_add(bufs, buffers + usize(bid) * kBufBytes, kBufBytes, static_cast<u16>(bid),
                          io_uring_buf_ring_mask(kBufCount), 0);
    io_uring_buf_ring_advance(bufs, 1);
    pool_dry = false;
  }

  void arm_accept(Record* r) {
    io_uring_sqe* s = sqe();
    io_uring_prep_multishot_accept(s, r->fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(s, reinterpret_cast<u64>(r) | kAccept);
    r->accept_armed = true;
    ++r->inflight;
  }

  void arm_recv(Record* r) {
    io_uring_sqe* s = sqe();
    io_uring_prep_recv(s, r->fd, nullptr, kBufBytes, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = kBufGroup;
    io_uring_sqe_set_data64(s, reinterpret_cast<u64>(r) | kRecv);
    r->recv_armed = true;
    ++r->inflight;
  }

  void arm_send(Record* r) {
    const std::span<const u8> front = r->socket->send_front();
    if (front.empty()) return;
    io_uring_sqe* s = sqe();
    io_uring_prep_send(s, r->fd, front.data(), front.size(), MSG_NOSIGNAL);
    io_uring_sqe_set_data64(s, reinterpret_cast<u64>(r) | kSend);
    r->send_armed = true;
    ++r->inflight;
  }

  void cancel(Record* r, OpKind kind) {
    io_uring_sqe* s = sqe();
    io_uring_prep_cancel64(s, reinterpret_cast<u64>(r) | kind, 0);
    io_uring_sqe_set_data64(s, reinterpret_cast<u64>(r) | kCancel);
    ++r->inflight;
  }

  // Hands held-back bytes to the stream; true if they are all gone.
  bool deliver_held(Record* r) {
    if (r->held_buf < 0) return true;
    const u8* data = buffers + usize(r->held_buf) * kBufBytes + r->held_offset;
    const u64 took = r->socket->deliver({data, r->held_len});
    r->held_offset += static_cast<u32>(took);
    r->held_len -= static_cast<u32>(took);
    if (r->held_len > 0) return false;
    recycle(r->held_buf);
    r->held_buf = -1;
    return true;
  }

  // Arms what the socket wants, or moves its close on.
  void drive(Record* r) {
    io::Socket& s = *r->socket;
    const io::Socket::Wants w = s.wants();
    if (w.closed) r->closing = true;
    if (r->listener) {
      if (r->closing) {
        while (const u64 conn = s.drain_pending()) ::close(static_cast<int>(conn - 1));
        if (r->accept_armed && !r->recv_cancelled) {
          r->recv_cancelled = true;
          cancel(r, kAccept);
        }
      }
    } else if (!r->connecting) {
      if (!r->broken && w.send_bytes > 0 && !r->send_armed) arm_send(r);
      if (r->closing) {
        if (r->held_buf >= 0) {
          recycle(r->held_buf);
          r->held_buf = -1;
        }
        if (r->recv_armed && !r->recv_cancelled) {
          r->recv_cancelled = true;
          cancel(r, kRecv);
        }
      } else {
        if (w.receive && !r->recv_armed && deliver_held(r) && !pool_dry) arm_recv(r);
        if (w.shutdown_send && !r->shut_done) {
          ::shutdown(r->fd, SHUT_WR);
          r->shut_done = true;
          s.shutdown_sent();
        }
      }
    }
    if (r->closing && r->inflight == 0 && (r->broken || r->listener || w.send_bytes == 0)) finish(r);
  }

  void finish(Record* r) {
    ::close(r->fd);
    io::Socket* s = r->socket;
    delete r;
    open.fetch_sub(1, std::memory_order_relaxed);
    s->device_detach();  // (clears its device id: a later service() call finds no record)
  }

  Record* attach(io::Socket& s, int fd, bool listener) {
    auto* r = new Record();
    r->fd = fd;
    r->socket = &s;
    r->listener = listener;
    s.set_device_id(reinterpret_cast<u64>(r));
    s.device_attach();
    open.fetch_add(1, std::memory_order_relaxed);
    return r;
  }

  void completion(io_uring_cqe* cqe) {
    const u64 data = io_uring_cqe_get_data64(cqe);
    const OpKind kind = static_cast<OpKind>(data & 7);
    const int res = cqe->res;
    if (kind == kFile) {
      file_completion(*reinterpret_cast<io::FileRequest*>(data & ~u64{7}), res);
      return;
    }
    auto* r = reinterpret_cast<Record*>(data & ~u64{7});
    const bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    switch (kind) {
      case kAccept:
        if (res >= 0) {
          if (r->closing || !r->socket->incoming(u64(res) + 1)) ::close(res);
        }
        if (!more) {
          r->accept_armed = false;
          --r->inflight;
          if (!r->closing) arm_accept(r);  // (EMFILE and the like: it tries again)
        }
        break;
      case kRecv: {
        --r->inflight;
        r->recv_armed = false;
        if (res > 0) {
          const int bid = static_cast<int>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
          if (r->closing) {
            recycle(bid);
          } else {
            r->held_buf = bid;
            r->held_offset = 0;
            r->held_len = static_cast<u32>(res);
            deliver_held(r);
          }
        } else if (res == 0) {
          r->socket->deliver_end();
          r->recv_cancelled = true;  // nothing more to receive
        } else if (res == -ENOBUFS) {
          pool_dry = true;
        } else if (res != -ECANCELED && !r->closing) {
          r->socket->fail(error_from_errno(-res));
        }
        break;
      }
      case kSend:
        --r->inflight;
        r->send_armed = false;
        if (res >= 0) {
          r->socket->sent(static_cast<u64>(res));
        } else if (res != -ECANCELED) {
          r->broken = true;
          r->socket->fail(error_from_errno(-res));
        }
        break;
      case kConnect:
        --r->inflight;
        r->connecting = false;
        if (res == 0) {
          r->socket->connected();
        } else {
          r->broken = true;
          r->socket->fail(error_from_errno(-res));
        }
        break;
      case kCancel:
        --r->inflight;
        break;
      case kFile: break;  // (handled above)
    }
    drive(r);
  }

  // --- Files ---
  void submit_file(io::FileRequest& r) {
    const int fd = static_cast<int>(r.target().node());
    const u64 tag = reinterpret_cast<u64>(&r) | kFile;
    using Kind = io::FileRequest::Kind;
    switch (r.kind()) {
      case Kind::open: {
        static_assert(sizeof(open_how) <= sizeof(r.device_scratch));
        auto* how = new (r.device_scratch) open_how{};
        u64 f = O_CLOEXEC;
        if ((r.flags & abi::kOpenDirectory) != 0) {
          f |= O_PATH | O_DIRECTORY;  // (openat2 takes nothing else with O_PATH)
        } else {
          f |= O_NOCTTY | O_NONBLOCK;  // (O_NONBLOCK: a FIFO must not hang the open; regular files ignore it)
          const bool rd = (r.flags & abi::kOpenRead) != 0, wr = (r.flags & abi::kOpenWrite) != 0;
          f |= rd && wr ? O_RDWR : wr ? O_WRONLY : O_RDONLY;
          if ((r.flags & abi::kOpenCreate) != 0) f |= O_CREAT;
          if ((r.flags & abi::kOpenTruncate) != 0) f |= O_TRUNC;
          if ((r.flags & abi::kOpenExclusive) != 0) f |= O_EXCL;
        }
        how->flags = f;
        how->mode = (f & O_CREAT) != 0 ? 0644 : 0;
        how->resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        io_uring_sqe* s = sqe();
        io_uring_prep_openat2(s, fd, reinterpret_cast<const char*>(r.buffer().data()), how);
        io_uring_sqe_set_data64(s, tag);
        break;
      }
      case Kind::read: {
        io_uring_sqe* s = sqe();
        io_uring_prep_read(s, fd, r.buffer().data(), r.length, r.offset);
        io_uring_sqe_set_data64(s, tag);
        break;
      }
      case Kind::write: {
        io_uring_sqe* s = sqe();
        io_uring_prep_write(s, fd, r.buffer().data(), r.length, r.offset);
        io_uring_sqe_set_data64(s, tag);
        break;
      }
      case Kind::sync: {
        io_uring_sqe* s = sqe();
        io_uring_prep_fsync(s, fd, IORING_FSYNC_DATASYNC);
        io_uring_sqe_set_data64(s, tag);
        break;
      }
      case Kind::size: {  // fstat does not wait for the disk: answered on the spot
        struct stat st{};
        if (::fstat(fd, &st) != 0) {
          r.fail(file_error(errno));
        } else {
          r.complete(static_cast<u64>(st.st_size));
        }
        return;
      }
    }
    ++files_inflight;
  }

  void file_completion(io::FileRequest& r, int res) {
    --files_inflight;
    if (res < 0) {
      r.fail(file_error(-res));
      return;
    }
    if (r.kind() == io::FileRequest::Kind::open) {
      // Only what was asked for: a directory for kOpenDirectory, else a regular file (no FIFOs, devices, sockets).
      struct stat st{};
      const bool want_dir = (r.flags & abi::kOpenDirectory) != 0;
      if (::fstat(res, &st) != 0 || (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))) {
        ::close(res);
        r.fail(Error::wrong_type);
        return;
      }
    }
    r.complete(static_cast<u64>(res));
  }

  bool poll() {
    unsigned head = 0;
    unsigned n = 0;
    io_uring_cqe* cqe = nullptr;
    // One at a time: a completion can free its record (finish), and the loop must not look at it again.
    while (io_uring_peek_cqe(&ring, &cqe) == 0 && cqe != nullptr) {
      io_uring_cqe c = *cqe;
      io_uring_cqe_seen(&ring, cqe);
      completion(&c);
      ++n;
    }
    (void)head;
    if (io_uring_sq_ready(&ring) > 0) io_uring_submit(&ring);
    return n > 0;
  }
};

namespace {
UringNet::LaneState& state(io::Lane& lane) { return *static_cast<UringNet::LaneState*>(lane.device_state()); }
}  // namespace

UringNet::UringNet(u32 lanes) : lane_count_(lanes), lanes_(std::make_unique<std::unique_ptr<LaneState>[]>(lanes)) {
  for (u32 i = 0; i < lanes; ++i) {
    lanes_[i] = std::make_unique<LaneState>();
    lanes_[i]->net = this;
  }
  device_.context = this;
  auto lane_state = [](void* ctx, io::Lane& lane) -> LaneState& {
    auto* self = static_cast<UringNet*>(ctx);
    if (lane.device_state() == nullptr) {
      PLATYPOS_ASSERT(lane.index() < self->lane_count_, "lane {} of {}", lane.index(), self->lane_count_);
      lane.set_device_state(self->lanes_[lane.index()].get());
    }
    LaneState& st = state(lane);
    st.init(lane);
    return st;
  };
  static constexpr auto kLaneState = +lane_state;
  device_.listen = [](void* ctx, io::Lane& lane, io::Socket& s, io::Ipv4Endpoint ep, u32 backlog,
                      u16* port) -> Result<void> {
    LaneState& st = kLaneState(ctx, lane);
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return error_from_errno(errno);
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a = to_sockaddr(ep);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, static_cast<int>(backlog)) != 0) {
      const int e = errno;
      ::close(fd);
      return error_from_errno(e);
    }
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    *port = ntohs(a.sin_port);
    st.arm_accept(st.attach(s, fd, true));
    return ok();
  };
  device_.connect = [](void* ctx, io::Lane& lane, io::Socket& s, io::Ipv4Endpoint ep) -> Result<void> {
    LaneState& st = kLaneState(ctx, lane);
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return error_from_errno(errno);
    Record* r = st.attach(s, fd, false);
    r->peer = to_sockaddr(ep);
    r->connecting = true;
    io_uring_sqe* q = st.sqe();
    io_uring_prep_connect(q, fd, reinterpret_cast<sockaddr*>(&r->peer), sizeof r->peer);
    io_uring_sqe_set_data64(q, reinterpret_cast<u64>(r) | kConnect);
    ++r->inflight;
    return ok();
  };
  device_.service = [](void* ctx, io::Lane& lane, io::Socket& s) {
    LaneState& st = kLaneState(ctx, lane);
    auto* r = reinterpret_cast<Record*>(s.device_id());
    if (r == nullptr) {
      // An accepted connection this stream takes over (or, closed before it started, lets go of).
      const io::Socket::Wants w = s.wants();
      if (!w.start) return;
      const int fd = static_cast<int>(w.adopted_conn - 1);
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      r = st.attach(s, fd, false);
    }
    st.drive(r);
  };
  device_.poll = [](void* ctx, io::Lane& lane, u64) -> bool {
    if (lane.device_state() == nullptr) return false;  // nothing opened on this lane yet
    LaneState& st = kLaneState(ctx, lane);
    return st.poll();
  };
  device_.prepare_idle = [](void* ctx, io::Lane& lane, u64* deadline) -> bool {
    *deadline = 0;
    if (lane.device_state() == nullptr) return true;
    LaneState& st = kLaneState(ctx, lane);
    if (io_uring_sq_ready(&st.ring) > 0) io_uring_submit(&st.ring);
    st.idle.store(true);
    (void)io_uring_cq_eventfd_toggle(&st.ring, true);
    // Completions the CQ had no room for wait in the kernel's overflow list, and raise no eventfd when they move to
    // the CQ: the lane must not sleep on them (a burst of connections once left it asleep with accepts waiting).
    if (io_uring_cq_ready(&st.ring) > 0 || io_uring_cq_has_overflow(&st.ring)) return false;
    return true;
  };
  device_.end_idle = [](void*, io::Lane& lane) {
    if (lane.device_state() == nullptr) return;
    LaneState& st = state(lane);
    if (!st.ready) return;
    st.idle.store(false);
    (void)io_uring_cq_eventfd_toggle(&st.ring, false);
  };
  files_.context = this;
  files_.submit = [](void* ctx, io::Lane& lane, io::FileRequest& r) { kLaneState(ctx, lane).submit_file(r); };
  files_.release = [](void*, u64 node) { ::close(static_cast<int>(node)); };
}

Result<u64> UringNet::open_directory(const char* host_path) {
  const int fd = ::open(host_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return file_error(errno);
  return static_cast<u64>(fd);
}

UringNet::~UringNet() = default;

u64 UringNet::open_sockets() const {
  u64 n = 0;
  for (u32 i = 0; i < lane_count_; ++i) n += lanes_[i]->open.load(std::memory_order_relaxed);
  return n;
}

}  // namespace platypos::hosted
