// The simulator's modelled network (sim_net.hpp).

#include "sim_net.hpp"

#include <platypos/base/assert.hpp>
#include <platypos/platform.hpp>

#include <algorithm>

namespace platypos::simtool {

struct SimNet::Client {
  u32 index = 0;
  u32 generation = 0;       // bumped by each (re)connection
  bool pending = false;     // offered to the listener, not adopted yet
  bool connected = false;
  io::Socket* socket = nullptr;
  std::string arrived;      // request bytes at the server's side the stream has not taken yet
  std::string rx;           // reply bytes at the client not parsed yet
  std::deque<std::pair<u64, bool>> waiting;  // intended send time, is a get
  u64 up_free_at = 0;       // when the client's link is free again (to the server)
  u64 down_free_at = 0;     // when the server's link to it is
};

namespace {
constexpr u64 kListenerId = 1;
constexpr u64 kReconnectNs = 1'000'000;

u64 id_of(u32 client, u32 generation) { return (u64{generation} << 32) | (u64{client} + 2); }
u32 client_of(u64 id) { return static_cast<u32>(id & 0xffffffffu) - 2; }
u32 generation_of(u64 id) { return static_cast<u32>(id >> 32); }

u64 transfer_ns(double bytes_per_second, u64 bytes) {
  return static_cast<u64>(static_cast<double>(bytes) * 1e9 / bytes_per_second);
}
}  // namespace

SimNet::SimNet(const SimNetConfig& config) : cfg_(config), rng_(config.seed) {
  for (u32 i = 0; i < cfg_.clients; ++i) {
    clients_.push_back(std::make_unique<Client>());
    clients_.back()->index = i;
  }
  device_.context = this;
  device_.listen = [](void* ctx, io::Lane& lane, io::Socket& s, io::Ipv4Endpoint ep, u32, u16* port) -> Result<void> {
    auto* self = static_cast<SimNet*>(ctx);
    if (self->listener_ != nullptr) return Error::address_in_use;  // the model serves one listener
    self->lane_ = &lane;
    self->listener_ = &s;
    s.set_device_id(kListenerId);
    s.device_attach();
    ++self->open_;
    *port = ep.port != 0 ? ep.port : 11211;
    const u64 now = Platform::now_ns();
    const u64 start = std::max(now, self->cfg_.start_ns);
    for (auto& c : self->clients_) {
      self->schedule(start + self->rng_() % 1'000'000, Ev::connect, c->index);
    }
    return ok();
  };
  device_.connect = [](void*, io::Lane&, io::Socket&, io::Ipv4Endpoint) -> Result<void> {
    return Error::connection_refused;  // nobody listens in the model
  };
  device_.service = [](void* ctx, io::Lane&, io::Socket& s) { static_cast<SimNet*>(ctx)->service(s); };
  // The model lives on the lane that listens (its kernel core): the other lanes' polls must not touch it, or two
  // ring servers would run its events at once (they interleave at every scheduling point in the simulator).
  device_.poll = [](void* ctx, io::Lane& lane, u64 now) {
    auto* self = static_cast<SimNet*>(ctx);
    return &lane == self->lane_ && self->poll(now);
  };
  device_.prepare_idle = [](void* ctx, io::Lane& lane, u64* deadline) {
    auto* self = static_cast<SimNet*>(ctx);
    *deadline = 0;
    if (&lane != self->lane_) return true;
    if (self->events_.empty()) return true;
    *deadline = self->events_.top().at;
    return self->events_.top().at > Platform::now_ns();
  };
  device_.end_idle = [](void*, io::Lane&) {};
}

SimNet::~SimNet() = default;

void SimNet::schedule(u64 at, Ev kind, u32 client, std::string bytes) {
  const u32 gen = client < clients_.size() ? clients_[client]->generation : 0;
  events_.push(Event{at, seq_++, kind, client, gen, std::move(bytes)});
  if (lane_ != nullptr) lane_->interrupt();
}

bool SimNet::poll(u64 now) {
  bool any = false;
  while (!events_.empty() && events_.top().at <= now) {
    Event e = events_.top();
    events_.pop();
    on_event(e, now);
    any = true;
  }
  return any;
}

void SimNet::on_event(Event& e, u64 now) {
  Client& c = *clients_[e.client];
  switch (e.kind) {
    case Ev::connect: {
      if (listener_closed_ || listener_ == nullptr || c.pending || c.connected) return;
      ++c.generation;
      if (!listener_->incoming(id_of(c.index, c.generation))) {
        schedule(now + kReconnectNs, Ev::connect, c.index);  // the backlog is full: try again
        return;
      }
      c.pending = true;
      ++report_.connections;
      return;
    }
    case Ev::send:
      if (e.generation != c.generation || !c.connected) return;
      client_send(c, now);
      return;
    case Ev::to_server:
      if (e.generation != c.generation || !c.connected) return;
      c.arrived += e.bytes;
      push_to_server(c, now);
      return;
    case Ev::to_client:
      if (e.generation != c.generation) return;
      client_receive(c, e.bytes, now);
      return;
  }
}

std::string SimNet::request(Client&, bool* is_get) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  *is_get = u(rng_) < cfg_.get_ratio;
  const u64 key = rng_() % cfg_.keys;
  std::string k = "key:" + std::to_string(key);
  if (*is_get) return "get " + k + "\r\n";
  return "set " + k + " 0 0 " + std::to_string(cfg_.value_bytes) + "\r\n" + std::string(cfg_.value_bytes, 'v') +
         "\r\n";
}

void SimNet::client_send(Client& c, u64 now) {
  if (now >= cfg_.stop_ns) return;
  if (cfg_.reset_per_million != 0 && rng_() % 1'000'000 < cfg_.reset_per_million) {
    reset(c, now);
    return;
  }
  bool get = false;
  const std::string req = request(c, &get);
  c.waiting.emplace_back(now, get);
  ++report_.sent;
  report_.bytes_to_server += req.size();
  // In seeded pieces, each over the link after the previous one.
  for (usize off = 0; off < req.size();) {
    const usize n = std::min<usize>(req.size() - off, 1 + rng_() % cfg_.max_segment);
    c.up_free_at = std::max(c.up_free_at, now) + transfer_ns(cfg_.bytes_per_second, n);
    schedule(c.up_free_at + cfg_.latency_ns, Ev::to_server, c.index, req.substr(off, n));
    off += n;
  }
  std::exponential_distribution<double> gap(cfg_.rate / cfg_.clients / 1e9);
  schedule(now + static_cast<u64>(gap(rng_)) + 1, Ev::send, c.index);
}

void SimNet::reset(Client& c, u64 now) {
  ++report_.resets;
  if (c.socket != nullptr) c.socket->fail(Error::connection_reset);  // the stream lets go when the program closes it
  c.socket = nullptr;
  c.connected = false;
  c.pending = false;
  c.arrived.clear();
  c.rx.clear();
  c.waiting.clear();  // (never answered: not counted as answered, nor as latencies)
  ++c.generation;     // everything in flight for the old connection is stale
  schedule(now + kReconnectNs, Ev::connect, c.index);
}

void SimNet::push_to_server(Client& c, u64) {
  if (c.socket == nullptr || c.arrived.empty()) return;
  const u64 took = c.socket->deliver({reinterpret_cast<const u8*>(c.arrived.data()), c.arrived.size()});
  c.arrived.erase(0, took);  // (the rest waits: the stream asks again when its queue has room)
}

void SimNet::client_receive(Client& c, const std::string& bytes, u64 now) {
  for (char ch : bytes) report_.digest = (report_.digest ^ static_cast<u8>(ch)) * 1099511628211ull;
  report_.bytes_from_server += bytes.size();
  c.rx += bytes;
  usize pos = 0;
  while (!c.waiting.empty()) {
    const bool get = c.waiting.front().second;
    usize end = std::string::npos;
    if (!get) {
      const auto nl = c.rx.find("\r\n", pos);
      if (nl == std::string::npos) break;
      if (c.rx.compare(pos, 8, "STORED\r\n") != 0) {
        if (report_.errors++ == 0) report_.first_error = c.rx.substr(pos, nl - pos);
      }
      end = nl + 2;
    } else {
      usize at = pos;
      bool complete = false;
      for (;;) {
        const auto nl = c.rx.find("\r\n", at);
        if (nl == std::string::npos) break;
        if (c.rx.compare(at, 5, "END\r\n") == 0) {
          end = at + 5;
          complete = true;
          break;
        }
        if (c.rx.compare(at, 6, "VALUE ") != 0) {
          if (report_.errors++ == 0) report_.first_error = c.rx.substr(at, nl - at);
          end = nl + 2;
          complete = true;
          break;
        }
        const auto sp = c.rx.rfind(' ', nl);
        const usize n = std::stoul(c.rx.substr(sp + 1, nl - sp - 1));
        if (nl + 2 + n + 2 > c.rx.size()) break;
        at = nl + 2 + n + 2;
      }
      if (!complete) break;
    }
    report_.latencies_ns.push_back(now - c.waiting.front().first);
    ++report_.answered;
    c.waiting.pop_front();
    pos = end;
  }
  c.rx.erase(0, pos);
}

void SimNet::drive_stream(Client& c, u64 now) {
  io::Socket& s = *c.socket;
  const io::Socket::Wants w = s.wants();
  if (w.closed) {
    c.socket = nullptr;
    c.connected = false;
    s.device_detach();  // (clears its device id: asked for again later, it names nothing)
    --open_;
    ++c.generation;
    if (!listener_closed_) schedule(now + kReconnectNs, Ev::connect, c.index);
    return;
  }
  // Replies: everything queued goes on the wire now, in seeded pieces.
  for (;;) {
    const std::span<const u8> front = s.send_front();
    if (front.empty()) break;
    const usize n = std::min<usize>(front.size(), 1 + rng_() % cfg_.max_segment);
    std::string piece(reinterpret_cast<const char*>(front.data()), n);
    s.sent(n);
    c.down_free_at = std::max(c.down_free_at, now) + transfer_ns(cfg_.bytes_per_second, n);
    schedule(c.down_free_at + cfg_.latency_ns, Ev::to_client, c.index, std::move(piece));
  }
  if (w.shutdown_send) s.shutdown_sent();
  if (w.receive) push_to_server(c, now);
}

void SimNet::service(io::Socket& s) {
  const u64 now = Platform::now_ns();
  const u64 id = s.device_id();
  if (id == kListenerId) {
    const io::Socket::Wants w = s.wants();
    if (!w.closed) return;
    while (const u64 conn = s.drain_pending()) {
      Client& c = *clients_[client_of(conn)];
      c.pending = false;
    }
    listener_closed_ = true;
    s.device_detach();
    --open_;
    return;
  }
  if (id == 0) {
    // An accepted connection a stream takes over (or, closed before it started, lets go of).
    const io::Socket::Wants w = s.wants();
    if (!w.start) return;
    Client& c = *clients_[client_of(w.adopted_conn)];
    s.set_device_id(w.adopted_conn);
    s.device_attach();
    ++open_;
    if (generation_of(w.adopted_conn) != c.generation) {
      s.fail(Error::connection_reset);  // (a connection the client gave up on meanwhile)
      return;
    }
    c.pending = false;
    c.connected = true;
    c.socket = &s;
    std::exponential_distribution<double> gap(cfg_.rate / cfg_.clients / 1e9);
    schedule(now + static_cast<u64>(gap(rng_)) + 1, Ev::send, c.index);
    drive_stream(c, now);
    return;
  }
  Client& c = *clients_[client_of(id)];
  if (c.socket == &s) {
    drive_stream(c, now);
    return;
  }
  // A connection of an earlier generation (reset by the client): let go once the program closes it.
  const io::Socket::Wants w = s.wants();
  if (w.closed) {
    s.device_detach();
    --open_;
  }
}

}  // namespace platypos::simtool
