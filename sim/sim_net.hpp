#pragma once
// The simulator's network: a NetDevice whose far side is a modelled population of memcached clients, driven by
// virtual time, so that a PlatypOS server program runs in the deterministic simulator against the same ops it uses on
// real sockets (same seed, same bytes, same schedule).
//
//   clients    `clients` connections, opened at seeded times in the first millisecond; each sends requests at an
//              open-loop Poisson rate (`rate` / clients), a `get_ratio` mix of gets and sets over `keys` keys with
//              `value_bytes` values, pipelined (it never waits for a reply before the next request)
//   link       each direction delivers a message `latency_ns` after it is sent plus its size over
//              `bytes_per_second`; the server's replies leave in seeded pieces of 1 to `max_segment` bytes (partial
//              reads), and requests arrive likewise
//   resets     with probability `reset_per_million` per request, the client resets its connection instead of
//              sending (the server's stream fails with connection_reset) and connects again a millisecond later
//
// Latency is measured from each request's intended send time to the end of its reply. Every random choice comes from
// one seeded generator, drawn in event order: the run is a function of the seed.

#include <platypos/io/net.hpp>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <vector>

namespace platypos::simtool {

struct SimNetConfig {
  u32 clients = 16;
  double rate = 20'000;  // requests per second, all clients together
  u64 start_ns = 0;      // when the clients start (after the server listens)
  u64 stop_ns = 0;       // when they stop sending
  double get_ratio = 0.9;
  u32 keys = 1000;
  u32 value_bytes = 100;
  u64 latency_ns = 20'000;
  double bytes_per_second = 1.25e9;  // 10 Gbit/s
  u32 max_segment = 1460;
  u32 reset_per_million = 0;
  u64 seed = 1;
};

struct SimNetReport {
  u64 connections = 0, resets = 0;
  u64 sent = 0, answered = 0, errors = 0;
  std::vector<u64> latencies_ns;  // answered requests, in answer order
  u64 bytes_to_server = 0, bytes_from_server = 0;
  u64 digest = 0;  // of every byte the clients received, in order (determinism checks)
  std::string first_error;  // the first reply that was not what its request asks for
};

class SimNet {
 public:
  explicit SimNet(const SimNetConfig& config);
  ~SimNet();
  SimNet(const SimNet&) = delete;
  SimNet& operator=(const SimNet&) = delete;

  const io::NetDevice* device() const { return &device_; }
  // Sockets the device still holds.
  u64 open_sockets() const { return open_; }
  const SimNetReport& report() const { return report_; }

  struct Client;

 private:
  enum class Ev : u8 { connect, send, to_server, to_client };
  struct Event {
    u64 at;
    u64 seq;
    Ev kind;
    u32 client;
    u32 generation;  // the client's connection it was for (a reset makes older ones stale)
    std::string bytes;
    bool operator>(const Event& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };

  void schedule(u64 at, Ev kind, u32 client, std::string bytes = {});
  bool poll(u64 now);
  void service(io::Socket& s);
  void on_event(Event& e, u64 now);
  void client_send(Client& c, u64 now);
  void client_receive(Client& c, const std::string& bytes, u64 now);
  void push_to_server(Client& c, u64 now);
  void drive_stream(Client& c, u64 now);
  void reset(Client& c, u64 now);
  std::string request(Client& c, bool* is_get);

  SimNetConfig cfg_;
  io::NetDevice device_;
  io::Lane* lane_ = nullptr;
  io::Socket* listener_ = nullptr;
  bool listener_closed_ = false;
  std::vector<std::unique_ptr<Client>> clients_;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;
  u64 seq_ = 0;
  std::mt19937_64 rng_;
  u64 open_ = 0;
  SimNetReport report_;
};

}  // namespace platypos::simtool
