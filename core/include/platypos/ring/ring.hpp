#pragma once
// Ring: the kernel side of one process's system-call rings. It consumes submission entries (each copied into kernel
// memory once: the program may rewrite the ring at any time), has each validated completely before anything happens
// (dispatch.cpp, driven by the op table in abi/ops.hpp: opcode, flags, unused fields, buffers inside the program's
// own memory, handle arrays copied in, handles, rights and object types), runs the op's handler (ops_*.cpp), and
// produces a completion. Operations that must wait (a read on an empty
// channel, WAIT, TIMEOUT) are parked: the ring registers an observer on the object (or a deadline) and the kernel
// core moves on; when the observer fires, the op is retried and completed. The kernel core never blocks on a ring.
//
// Completions are never dropped: an entry is accepted only when the CQ has room for it on top of every completion
// already promised to accepted-but-unfinished operations.
//
// The shared region and the parked-operation records are paid from the process's MemoryAccount (which the ring keeps
// a reference to). When the process exits, every parked operation is cancelled (no completion: nobody reads them)
// and everything it held is released.
//
// Locking: the serving kernel core owns the ring's consumer side; observer callbacks (any CPU, under the object's
// lock) only move an op to the ready list under the ring's lock and wake the server.

#include <platypos/abi/ops.hpp>
#include <platypos/abi/program.hpp>
#include <platypos/abi/ring.hpp>
#include <platypos/base/intrusive_list.hpp>
#include <platypos/cap/handle_table.hpp>
#include <platypos/cap/process_object.hpp>
#include <platypos/proc/process.hpp>
#include <platypos/sched/scheduler.hpp>

#include <span>
#include <string_view>

namespace platypos::ring {

class RingServer;
class OpContext;
struct PendingOp;
struct PendingTag;
struct RingListTag;
struct RingDyingTag;

struct RingConfig {
  u32 sq_entries = 256;
  u32 cq_entries = abi::kDefaultCqEntries;
};

// process_spawn, as whoever created the ring provides it (the Runtime): the ring layer does not know how programs
// are launched. The child gets the handles moved out of `parent` (all or nothing).
struct SpawnRequest {
  std::string_view program;
  std::string_view args;
  u32 cores = 1;
  u64 memory_bytes = 0;
  MemoryAccount* payer = nullptr;  // the parent's account: pays for the child's process object
};
struct Spawner {
  Result<cap::Ref<cap::ProcessObject>> (*spawn)(void* context, const SpawnRequest& request, cap::HandleTable& parent,
                                                std::span<const cap::Handle> handles) = nullptr;
  void* context = nullptr;
};

class Ring : public ListNode<RingListTag>, public ListNode<RingDyingTag> {
 public:
  // A ring pair in `process`'s memory, serving it on behalf of `process`'s handle table. The program's own memory
  // (where its buffers must be) is [heap, heap + heap_bytes). Fails with invalid_argument (sizes not powers of two,
  // or too large), no_memory.
  // The ring pins the process (proc/process.hpp) until destroy(): its slot, and so its id, stay this process's.
  // bad_state if the process is no longer live.
  static Result<Ring*> create(proc::Process& process, void* heap, u64 heap_bytes, const RingConfig& config);
  // Frees the ring after cancelling whatever is parked. The process must be gone (or going): no more submissions.
  void destroy();

  abi::RingHeader* header() const { return hdr_; }
  // The shared region's size (the header, SQ and CQ; whole pages): what a program's page tables map.
  u64 region_bytes() const { return kPageSize << region_order_; }
  sched::ProcessId pid() const { return pid_; }
  proc::Process& process() const { return *process_; }

  struct Stats {
    u64 submitted = 0;  // entries consumed
    u64 completed = 0;  // completions written
    u64 parked = 0;     // operations that had to wait
    u64 rejected = 0;   // malformed entries (unknown op, bad fields or sizes, buffers outside memory, chains too long)
    u64 doorbells = 0;  // system calls: doorbell
    u64 waits = 0;      // system calls: wait_completions that blocked
    u64 cancelled = 0;  // accepted entries never completed because the process exited (destroy())
    u64 lost = 0;       // rings whose in-flight count at exit did not match what was cancelled (a kernel bug)
    u64 multishot = 0;  // completions beyond the one per entry: a multishot op's results before its last
  };
  const Stats& stats() const { return stats_; }
  // Accepted operations whose completion is not written yet (parked, or the rest of a parked chain).
  u32 in_flight() const { return outstanding_; }
  // What waits, for diagnostics (a stuck run's report): visit(context, op) for each parked or ready operation, under
  // the ring's lock (visit must not touch the ring).
  struct WaitingOp {
    u8 opcode;
    u32 handle;
    u64 deadline;  // 0: none
    bool ready;    // signalled, not retried yet
    bool delayed;  // a completion held back by fault injection
    u32 signals;   // the awaited object's signals now (0 without an object)
    u32 wanted;    // the signals it waits for
  };
  void for_each_waiting(void (*visit)(void* context, const WaitingOp& op), void* context) const;
  // Submissions published but not consumed yet.
  u32 unconsumed() const;

  // --- Used by the RingServer ---
  // Consumes up to `budget` entries; returns how many.
  u32 consume(u32 budget);
  // Retries parked operations whose object signalled, and expires timeouts up to `now`. Returns how many it handled
  // (a retried read that lost the message to another reader parks again: every reader of a channel is woken by a
  // message, and one gets it).
  u32 process_ready(u64 now);
  // Earliest parked deadline (0: none).
  u64 next_deadline() const;
  bool has_submissions() const;
  bool has_ready() const;
  void set_need_wakeup(bool on);
  // Wakes the task blocked in wait_completions if the CQ now has what it asked for.
  void wake_waiter_if_satisfied();

  // --- The system calls (from the program's task) ---
  // As a program's hook calls them in a kernel task: a killed task ends inside (exit_if_killed).
  void doorbell();
  void wait_completions(u32 min);
  // As a trap handler calls them (bare metal, ring 3): they never end the calling task; the handler checks whether
  // it was killed and leaves user mode its own way (it has an address space to switch away from first).
  void ring_doorbell();
  void wait_for_completions(u32 min);

  // Where the program sees its memory (the `heap` given to create()): buffer addresses in entries are taken
  // relative to this. By default the kernel's own address of it (hosted: one address space); a ring-3 program
  // maps it elsewhere in its own page tables.
  void set_user_base(u64 base) { user_base_ = base; }
  u64 user_base() const { return user_base_; }

  // How process_spawn launches a child (unset: process_spawn fails with not_supported).
  void set_spawner(const Spawner& s) { spawner_ = s; }

  // The serving kernel core's task (doorbell and observer callbacks wake it).
  void set_server(RingServer* s) { server_ = s; }
  RingServer* server() const { return server_; }
  // Tells the server when the process stops being live (so that it retires the ring).
  void watch_exit();

  // The program this ring's process runs on one of its cores: its main, that core's environment (in program
  // memory: the kernel writes it before the program starts and never reads it back), which core it is, and that
  // core's share of the program's memory. program_task(ring) is the core's first task.
  using Entry = void (*)(const abi::ProgramEnv* env);
  struct ProgramCore {
    Entry entry = nullptr;
    abi::ProgramEnv* env = nullptr;
    u32 index = 0;
    u8* heap = nullptr;  // kernel address
  };
  void set_program(const ProgramCore& core) { program_ = core; }
  const ProgramCore& program() const { return program_; }
  static void program_task(void* ring);
  // The program's memory, as the kernel addresses it (kernel state: what backends must use rather than the env).
  u8* memory() const { return heap_; }
  u64 memory_bytes() const { return heap_bytes_; }

  // Live rings (leak checks).
  static u64 live_rings();
  // The statistics of every ring destroyed so far, summed (what a finished run reports). reset_totals() starts over.
  static Stats totals();
  static void reset_totals();

 private:
  friend struct PendingOp;
  friend class OpContext;
  Ring() = default;
  ~Ring() = default;

  // What running an entry came to: a completion result, or parked (the op waits in `parked`).
  struct Outcome {
    i64 result = 0;
    PendingOp* parked = nullptr;
  };
  // Validates and runs one entry (the kernel's copy) through the op table (dispatch.cpp). `resumed` is the record of
  // a parked op being retried (its object signalled or its deadline passed), else null.
  Outcome dispatch(const abi::Sqe& sqe, const PendingOp* resumed);
  void complete(u64 user_data, i64 result, u64 seq);
  // A multishot op's result before its last: written now, on top of the completion its entry was promised. False
  // (nothing written) if the CQ has no room for it beyond the promised ones.
  bool emit(u64 user_data, i64 result);
  bool can_emit() { return cq_free(1) >= 1; }
  // Fault injection: holds a finished single entry's completion back for a random time (false: no memory for it).
  bool delay(const abi::Sqe& sqe, i64 result, u64 seq);
  void publish_completions();
  // Completion slots free beyond those promised; reads the program's cq_head only if the last value seen leaves
  // fewer than `wanted`.
  u32 cq_free(u32 wanted);
  // Completes an overlong chain's entries as they are published (abi/ring.hpp: the chain fails as a whole).
  u32 skip_overlong_chain(u32 avail, u32 budget);
  void on_signalled(PendingOp* op);
  // A record for an op about to wait, paid from the program's account.
  Result<PendingOp*> park(const abi::Sqe& sqe, cap::Ref<cap::KernelObject> object, u32 wanted, u64 deadline);
  void release_op(PendingOp* op);
  // Runs a chain of entries (kernel copies, already accepted) from `start` until it ends or parks. `op` is the
  // parked record the chain came from (its entry `start` is being retried), or null.
  void run_chain(const abi::Sqe* chain, u32 count, u32 start, PendingOp* op, u64 seq0);

  proc::Process* process_ = nullptr;  // pinned
  sched::ProcessId pid_ = 0;
  u64 trace_id_ = 0;  // rings in creation order (deterministic in the simulator, unlike addresses)
  MemoryAccount* account_ = nullptr;
  Spawner spawner_;
  void* region_ = nullptr;
  u32 region_order_ = 0;
  abi::RingHeader* hdr_ = nullptr;
  abi::Sqe* sq_ = nullptr;
  abi::Cqe* cq_ = nullptr;
  u32 sq_mask_ = 0;
  u32 cq_mask_ = 0;
  u32 sq_head_ = 0;  // the kernel's own copies: never read back from shared memory
  u32 cq_tail_ = 0;
  Atomic<u32> cq_published_{0};  // cq_tail_ as last published (what the program can see; read by wait_completions)
  u32 outstanding_ = 0;          // accepted operations whose completion is not written yet
  u32 cq_head_seen_ = 0;         // the program's cq_head, as last read
  bool skipping_chain_ = false;  // inside an overlong chain: its entries fail until one without LINK
  u8* heap_ = nullptr;
  u64 heap_bytes_ = 0;
  u64 user_base_ = 0;  // where the program sees heap_
  RingServer* server_ = nullptr;
  ProgramCore program_;
  proc::ExitWatcher exit_watcher_;

  mutable SpinLock lock_{"ring"};
  IntrusiveList<PendingOp, PendingTag> parked_;  // waiting for a signal or a deadline
  IntrusiveList<PendingOp, PendingTag> ready_;   // signalled: retry
  sched::Task* waiter_ = nullptr;                // blocked in wait_completions
  u32 waiter_min_ = 0;
  Stats stats_;
};

}  // namespace platypos::ring
