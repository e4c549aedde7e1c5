#pragma once
// Channels: a pair of endpoints; what one writes, the other reads. A message is up to 64 KiB of bytes plus up to 64
// handles, which move: the writer loses them, the reader gains them.
//
// Writes are all or nothing. Everything is checked first (rights, handles, sizes, limits, memory); if anything is
// wrong the write fails with its error and nothing changes: the handles stay in the writer's table, untouched.
// (Zircon closes them on failure instead; keeping them is easier to reason about and to retry.)
//
// Reads: a buffer too small for the next message fails with buffer_too_small, reports the sizes needed, and leaves
// the message queued; so does a reader whose table has no room for the handles (no_resources).
//
// Limits and charging: each endpoint queues at most kMaxQueuedMessages messages and kMaxQueuedBytes bytes
// (limit_reached beyond), every message is paid from the writer's MemoryAccount and the endpoints themselves from
// their creator's (no_memory when that program's own memory is used up): a process can fill its own memory,
// nobody else's.
//
// Closing an endpoint (its last reference gone) frees the messages queued for it and raises PEER_CLOSED on the other
// end; writes to a closed peer fail with peer_closed; reads drain what is left, then fail with peer_closed.
//
// Signals: READABLE while a message is queued for the endpoint, WRITABLE while the peer's queue has room,
// PEER_CLOSED once the peer is gone.

#include <platypos/abi/limits.hpp>
#include <platypos/cap/handle_table.hpp>
#include <platypos/cap/object.hpp>

#include <span>

namespace platypos::cap {

// The ABI's limits (abi/limits.hpp), under the names kernel code uses.
inline constexpr usize kMaxMessageBytes = abi::kMaxMessageBytes;
inline constexpr usize kMaxMessageHandles = abi::kMaxMessageHandles;
inline constexpr usize kMaxQueuedMessages = abi::kMaxQueuedMessages;
inline constexpr usize kMaxQueuedBytes = abi::kMaxQueuedBytes;

struct Message;
struct ChannelCore;

class ChannelEndpoint final : public KernelObject {
 public:
  static constexpr ObjectType kType = ObjectType::channel;

  // Both ends, each with one reference, paid by `payer` (the creating program's account; nullptr: the kernel heap).
  // Fails with no_memory.
  struct Pair {
    Ref<ChannelEndpoint> a, b;
  };
  static Result<Pair> create(MemoryAccount* payer = nullptr);

  // Writes a message to the peer. `table` is the writer's: the handles are taken from it (each needs TRANSFER; this
  // endpoint and its peer cannot be sent through the channel itself: invalid_argument). `account` pays for the
  // message. Fails with invalid_argument (sizes), peer_closed, limit_reached, no_memory, and the handle errors.
  Result<void> write(HandleTable& table, MemoryAccount& account, std::span<const u8> bytes,
                     std::span<const Handle> handles);

  struct ReadSizes {
    u32 bytes = 0;
    u32 handles = 0;
  };
  // Reads the next message into `bytes` and installs its handles into `table`, their values into `handles_out`.
  // Fails with would_block (nothing queued), peer_closed (nothing queued and the peer is gone), buffer_too_small
  // (*needed says the sizes; the message stays queued), no_resources (no room in the table; stays queued).
  Result<ReadSizes> read(HandleTable& table, std::span<u8> bytes, std::span<Handle> handles_out,
                         ReadSizes* needed = nullptr);

  usize queued_messages() const;
  // Live messages in all channels (leak checks).
  static u64 live_messages();

  // Breaks reference cycles among channels. Endpoints can travel inside messages queued in other channels (or in
  // their own peer's), so a set of endpoints can end up referring only to one another, reachable from no process:
  // A's last handle queued in B, B's in A. At process exit the kernel runs this collector: every endpoint whose
  // references all come from messages in unreachable endpoints has its queue emptied, which frees the cycle. (The
  // count-and-subtract scheme of CPython's cycle collector, over the registry of live endpoints.) Returns how many
  // endpoints it found unreachable.
  static usize collect_cycles();
  static u64 live_endpoints();

  ~ChannelEndpoint();

  // Internal: a link in the registry of live endpoints (plain links: the registry is a constinit global, which must be
  // trivially destructible).
  struct Registered {
    Registered* prev = nullptr;
    Registered* next = nullptr;
    ChannelEndpoint* self = nullptr;
    i64 gc_refs = 0;
    bool reachable = false;
    Registered* next_work = nullptr;
  };

 private:
  friend struct ChannelCore;
  template <class T, class... Args>
  friend Result<T*> make_object(MemoryAccount* payer, Args&&... args);
  ChannelEndpoint(ChannelCore* core, u32 side);
  static void destroy_endpoint(KernelObject* self);
  // The peer, or nullptr once it is closed. Channel lock held.
  ChannelEndpoint* peer_locked() const;

  ChannelCore* core_;
  u32 side_;
  Registered registry_;
};

}  // namespace platypos::cap
