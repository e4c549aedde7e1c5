#pragma once
// The system-call rings: what a program shares with the kernel. Nothing here is a kernel type; a program needs only
// this header (and status.hpp, ops.hpp).
//
// One region of the program's memory holds a header, the submission queue (SQ: entries the program writes, the
// kernel reads) and the completion queue (CQ: the reverse). Both are single-producer single-consumer rings of
// power-of-two size, indexed by free-running 32-bit counters (entry i lives at slot i & mask):
//
//   [ RingHeader | SQ: Sqe[sq_entries] | CQ: Cqe[cq_entries] ]
//   header cache lines: [ sizes, offsets ] [ sq_head ] [ sq_tail ] [ cq_head ] [ cq_tail ] [ flags ]
//
// Memory ordering, the whole contract:
//   submitting   the program fills sqes[tail & mask], then publishes sq_tail = tail + 1 with a release store. The
//                kernel reads sq_tail with an acquire load, so it sees the entry's contents.
//   completing   the kernel fills cqes[tail & mask], then publishes cq_tail with release; the program reads cq_tail
//                with acquire. The program frees CQ slots by storing cq_head (release); the kernel reads it (acquire).
//   waking       a kernel core that goes idle sets NEED_WAKEUP in flags (and then checks sq_tail once more). After
//                publishing sq_tail a program issues a full fence (seq_cst), then reads flags: only if NEED_WAKEUP is
//                set does it ring the doorbell (the only system call of the steady state, and then only when the
//                kernel core had gone idle). Without the fence the two could miss each other: the program reads the
//                flag before its tail is visible, the kernel checks the tail before the flag is visible.
//
// The kernel trusts nothing in this region: it keeps its own copies of sq_head and cq_tail, validates every entry,
// and treats impossible counters (more entries than the ring holds) as "nothing to do" / "no room".

#include <platypos/abi/limits.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace platypos::abi {

inline constexpr std::uint32_t kRingMagic = 0x52544c50;  // "PLTR"
inline constexpr std::uint32_t kRingVersion = 1;
inline constexpr std::uint32_t kRingFlagNeedWakeup = 1u << 0;

// A submission entry: 64 bytes. Fields mean what the opcode says (ops.hpp); unused ones must be zero.
struct Sqe {
  std::uint8_t opcode;
  std::uint8_t flags;       // kSqeLink, kSqeNonBlocking
  std::uint16_t reserved0;  // must be 0
  std::uint32_t handle;     // the object the operation acts on
  std::uint64_t user_data;  // returned in the completion, untouched
  std::uint64_t addr;       // a buffer in the program's memory
  std::uint32_t len;        // its length in bytes
  std::uint32_t count;      // number of handles at addr2
  std::uint64_t addr2;      // a second buffer: an array of handles (u32)
  std::uint64_t arg0;
  std::uint64_t arg1;
  std::uint64_t reserved1;  // must be 0
};
static_assert(sizeof(Sqe) == 64);
static_assert(offsetof(Sqe, handle) == 4 && offsetof(Sqe, user_data) == 8 && offsetof(Sqe, addr) == 16);
static_assert(offsetof(Sqe, len) == 24 && offsetof(Sqe, count) == 28 && offsetof(Sqe, addr2) == 32);
static_assert(offsetof(Sqe, arg0) == 40 && offsetof(Sqe, arg1) == 48 && offsetof(Sqe, reserved1) == 56);

// A completion entry: 16 bytes. result >= 0 is the operation's value; < 0 is -Status.
struct Cqe {
  std::uint64_t user_data;
  std::int64_t result;
};
static_assert(sizeof(Cqe) == 16);

// LINK: the next entry starts only if this one succeeds; if one fails, the rest of the chain completes with
// -cancelled. A chain is the entries from one without LINK's successor up to and including the next entry without
// LINK. The kernel runs a chain only once all of it is published (its last entry is below sq_tail).
// A chain may have at most kMaxChain entries (limits.hpp). A longer one fails as a whole and none of it runs: its
// first entry completes with -limit_reached, every other entry of it, up to and including its last, with -cancelled
// (the kernel fails those as they are published; the entry after the last starts afresh).
inline constexpr std::uint8_t kSqeLink = 1u << 0;
// An operation that would wait (READ on an empty channel) fails with -would_block instead.
inline constexpr std::uint8_t kSqeNonBlocking = 1u << 1;
inline constexpr std::uint8_t kSqeKnownFlags = kSqeLink | kSqeNonBlocking;

struct alignas(64) RingHeader {
  std::uint32_t magic;
  std::uint32_t version;
  std::uint32_t sq_entries;  // power of two
  std::uint32_t cq_entries;  // power of two
  std::uint32_t sq_offset;   // byte offset of the Sqe array from the header
  std::uint32_t cq_offset;   // byte offset of the Cqe array
  std::uint32_t region_bytes;
  std::uint32_t reserved[9];

  alignas(64) std::atomic<std::uint32_t> sq_head;  // written by the kernel
  alignas(64) std::atomic<std::uint32_t> sq_tail;  // written by the program
  alignas(64) std::atomic<std::uint32_t> cq_head;  // written by the program
  alignas(64) std::atomic<std::uint32_t> cq_tail;  // written by the kernel
  alignas(64) std::atomic<std::uint32_t> flags;    // written by the kernel: kRingFlagNeedWakeup
  std::uint32_t reserved2[15];
};
static_assert(offsetof(RingHeader, sq_head) == 64 && offsetof(RingHeader, sq_tail) == 128);
static_assert(offsetof(RingHeader, cq_head) == 192 && offsetof(RingHeader, cq_tail) == 256);
static_assert(offsetof(RingHeader, flags) == 320 && sizeof(RingHeader) == 384);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

// Bytes a ring region with these sizes needs.
constexpr std::uint32_t ring_region_bytes(std::uint32_t sq_entries, std::uint32_t cq_entries) {
  return static_cast<std::uint32_t>(sizeof(RingHeader) + sq_entries * sizeof(Sqe) + cq_entries * sizeof(Cqe));
}

}  // namespace platypos::abi
