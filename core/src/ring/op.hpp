#pragma once
// Internal to the ring: what an op's handler gets. The dispatcher (dispatch.cpp) builds an OpContext from the op's
// row of the table (abi/ops.hpp) once the entry has passed every generic check: its shape, its buffers (inside the
// program's memory, aligned), its handle array copied into kernel memory, its handle looked up with the rights and
// type the row asks for. The handler then does the op's own checks and work and returns Result<i64>: the
// completion's value, or an Error (mapped to an abi::Status by ring/status.hpp). A handler that must wait returns
// cx.park(...).

#include <platypos/abi/ops.hpp>
#include <platypos/cap/handle_table.hpp>
#include <platypos/ring/ring.hpp>
#include <platypos/ring/server.hpp>
#include <platypos/ring/status.hpp>
#include <platypos/ring/user_memory.hpp>

namespace platypos::ring {

// Handle arrays an op can carry (abi::OpInfo::max_count), copied into kernel memory.
inline constexpr u32 kMaxHandleArray = abi::kMaxMessageHandles;

class OpContext {
 public:
  OpContext(Ring& ring, const abi::Sqe& sqe, const PendingOp* resumed) : ring_(ring), sqe_(sqe), resumed_(resumed) {}
  OpContext(const OpContext&) = delete;
  OpContext& operator=(const OpContext&) = delete;

  // The entry: the kernel's copy, never program memory.
  const abi::Sqe& sqe() const { return sqe_; }
  bool nonblocking() const { return (sqe_.flags & abi::kSqeNonBlocking) != 0; }

  // The program: its handle table, its memory account (which pays for whatever the op makes), its id.
  cap::HandleTable& table() const;
  MemoryAccount& account() const { return *ring_.account_; }
  sched::ProcessId pid() const { return ring_.pid_; }
  const Spawner& spawner() const { return ring_.spawner_; }
  // The network lane of the kernel core running the op (nullptr: no network device on this kernel).
  io::Lane* lane() const { return ring_.server_ != nullptr ? ring_.server_->lane() : nullptr; }
  // A multishot op's result before its last (abi: every success is one of these; its failure ends it): false if the
  // CQ has no room for it now (can_post() first, before taking anything that must not be lost).
  bool can_post() const { return ring_.can_emit(); }
  bool post(i64 value) const { return ring_.emit(sqe_.user_data, value); }

  // Prepared from the op's row.
  cap::Ref<cap::KernelObject>& object() { return object_; }  // HandleUse::object (null: object_or_self with 0)
  template <class T>
  T& object_as() {
    return *static_cast<T*>(object_.get());  // the dispatcher checked the type
  }
  const UserIn& in() const { return in_; }                                               // addr/len, Buffer::in
  const UserOut& out() const { return out_; }                                            // addr/len, Buffer::out
  std::span<const cap::Handle> handles_in() const { return {handles_, handle_count_}; }  // addr2/count, Buffer::in
  const UserOut& handles_out() const { return handles_out_; }  // addr2/count, Buffer::out (room for count)
  u32 handles_out_count() const { return handle_count_; }
  // arg1 as the address of a ReadNeeded (empty when arg1 is 0).
  void report_needed(u32 bytes, u32 handles) const;

  // A retry of a parked op: its object signalled (signalled(), with the signals it saw) or its deadline passed.
  bool resumed() const { return resumed_ != nullptr; }
  bool signalled() const;
  u32 observed() const;
  // What a resumed op was parked on (nullptr: not resumed, or a pure timeout).
  cap::KernelObject* parked_on() const;

  // Parks the op until `object` raises one of `wanted`, or until `deadline` (0: none); the handler returns what this
  // returns (Error::would_block, which the dispatcher turns into "parked", or the error of paying for the record).
  Result<i64> park(cap::Ref<cap::KernelObject> object, u32 wanted, u64 deadline);
  PendingOp* parked() const { return parked_; }

 private:
  friend class Ring;
  Ring& ring_;
  const abi::Sqe& sqe_;
  const PendingOp* resumed_;
  cap::Ref<cap::KernelObject> object_;
  UserIn in_;
  UserOut out_;
  UserOut needed_;
  UserOut handles_out_;
  // Only [0, handle_count_) is ever read, and dispatch() copies exactly that in: left uninitialized, because zeroing
  // 256 bytes per entry was most of dispatch's time in BM_RingNopBatch (a rep stos per NOP).
  cap::Handle handles_[kMaxHandleArray];
  u32 handle_count_ = 0;
  PendingOp* parked_ = nullptr;
};

// The handlers, one per row of PLATYPOS_ABI_OPS (ops_*.cpp).
#define PLATYPOS_RING_DECLARE_HANDLER(name, ...) Result<i64> op_##name(OpContext& cx);
PLATYPOS_ABI_OPS(PLATYPOS_RING_DECLARE_HANDLER)
#undef PLATYPOS_RING_DECLARE_HANDLER

// An accepted operation that is waiting (for a signal, a deadline, or both), with the rest of its chain.
struct PendingOp : ListNode<PendingTag> {
  Ring* ring = nullptr;
  cap::Ref<cap::KernelObject> object;  // what it waits on (null: a pure timeout)
  cap::Observer observer;
  u64 deadline = 0;
  enum class Where : u8 { parked, ready, running } where = Where::running;
  bool signalled = false;
  bool delayed = false;  // fault injection: a finished entry whose completion (delayed_result) waits for `deadline`
  i64 delayed_result = 0;
  u32 count = 0;  // entries in chain
  u64 seq0 = 0;   // the ring's sequence number of chain[0] (trace flows)
  abi::Sqe chain[abi::kMaxChain];
};

}  // namespace platypos::ring
