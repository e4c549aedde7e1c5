#include <platypos/base/checked.hpp>
#include <platypos/base/fault.hpp>
#include <platypos/base/log.hpp>
#include <platypos/ring/server.hpp>
#include <platypos/trace/trace.hpp>

#include <new>

#include "op.hpp"

namespace platypos::ring {

using abi::Sqe;

namespace {
constinit Atomic<u64> g_live_rings{0};
constinit SpinLock g_totals_lock{"ring totals"};
constinit Ring::Stats g_totals{};
constinit Atomic<u64> g_ring_ids{0};
constexpr u32 kMaxChain = abi::kMaxChain;
constexpr u64 kMaxInjectedDelayNs = 50'000;  // fault::Point::completion_delay

// The kernel's copy of a submission entry: read from program memory once (the program may rewrite it meanwhile).
Sqe copy_entry(const Sqe& shared) {
  Sqe s;
  UserIn(reinterpret_cast<const u8*>(&shared), sizeof(Sqe)).copy_to(&s);
  return s;
}
}  // namespace

u64 Ring::live_rings() { return g_live_rings.load(std::memory_order_relaxed); }

Ring::Stats Ring::totals() {
  IrqSpinGuard g(g_totals_lock);
  return g_totals;
}

void Ring::reset_totals() {
  IrqSpinGuard g(g_totals_lock);
  g_totals = Stats{};
}

Result<Ring*> Ring::create(proc::Process& process, void* heap, u64 heap_bytes, const RingConfig& config) {
  if (!is_power_of_two(config.sq_entries) || !is_power_of_two(config.cq_entries) ||
      config.sq_entries > abi::kMaxRingEntries || config.cq_entries > abi::kMaxCqEntries ||
      config.cq_entries < config.sq_entries) {
    return Error::invalid_argument;
  }
  // Pinned first, and only if live (one step, under the process table's lock): a kill racing with this (the
  // process is visible from its spawn on) then waits for the pin before it takes the table and the account apart.
  if (!process.try_pin()) return Error::bad_state;
  if (!process.handles().active()) {
    process.unpin();
    return Error::bad_state;
  }
  MemoryAccount* account = &process.account();
  const u32 bytes = abi::ring_region_bytes(config.sq_entries, config.cq_entries);
  const u32 order = BuddyAllocator::order_for_pages(pages_for(bytes));
  const Result<PhysAddr> region_or = account->alloc_pages(order);
  if (region_or.is_error()) {
    process.unpin();
    return region_or.error();
  }
  const PhysAddr region = *region_or;
  Result<void*> mem = account->alloc_bytes(sizeof(Ring));
  if (mem.is_error()) {
    account->free_pages(region, order);
    process.unpin();
    return mem.error();
  }
  auto* r = new (*mem) Ring();
  account->retain();
  r->process_ = &process;
  r->pid_ = process.id();
  r->trace_id_ = g_ring_ids.fetch_add(1, std::memory_order_relaxed) + 1;
  r->account_ = account;
  r->region_ = account->direct_map().to_virt(region);
  r->region_order_ = order;
  r->heap_ = static_cast<u8*>(heap);
  r->heap_bytes_ = heap_bytes;
  r->user_base_ = reinterpret_cast<uptr>(heap);
  auto* base = static_cast<u8*>(r->region_);
  for (u32 i = 0; i < (kPageSize << order); ++i) base[i] = 0;
  r->hdr_ = new (base) abi::RingHeader();
  r->hdr_->magic = abi::kRingMagic;
  r->hdr_->version = abi::kRingVersion;
  r->hdr_->sq_entries = config.sq_entries;
  r->hdr_->cq_entries = config.cq_entries;
  r->hdr_->sq_offset = sizeof(abi::RingHeader);
  r->hdr_->cq_offset = static_cast<u32>(sizeof(abi::RingHeader) + config.sq_entries * sizeof(Sqe));
  r->hdr_->region_bytes = bytes;
  r->sq_ = reinterpret_cast<Sqe*>(base + r->hdr_->sq_offset);
  r->cq_ = reinterpret_cast<abi::Cqe*>(base + r->hdr_->cq_offset);
  r->sq_mask_ = config.sq_entries - 1;
  r->cq_mask_ = config.cq_entries - 1;
  g_live_rings.fetch_add(1, std::memory_order_relaxed);
  return r;
}

void Ring::release_op(PendingOp* op) {
  op->object.reset();
  op->~PendingOp();
  account_->free_bytes(op, sizeof(PendingOp));
}

void Ring::watch_exit() {
  exit_watcher_.context = this;
  exit_watcher_.callback = [](proc::ExitWatcher* w) {
    auto* r = static_cast<Ring*>(w->context);
    if (r->server_ != nullptr) r->server_->ring_dying(r);
  };
  process_->watch(exit_watcher_);
}

void Ring::program_task(void* ring) {
  auto* r = static_cast<Ring*>(ring);
  r->program_.entry(r->program_.env);
}

void Ring::destroy() {
  process_->unwatch(exit_watcher_);
  // Cancel what waits: stop observing, drop the references. No completions: the program is gone.
  u32 cancelled = 0;
  for (;;) {
    PendingOp* op = nullptr;
    {
      IrqSpinGuard g(lock_);
      op = parked_.pop_front();
      if (op == nullptr) op = ready_.pop_front();
      // Off the lists: a signal that arrives before cancel() below (the object's own teardown on another CPU, say)
      // must only note itself, as for an op the server is running (found by platypos-sim --explore).
      if (op != nullptr) op->where = PendingOp::Where::running;
    }
    if (op == nullptr) break;
    if (op->object) op->object->cancel(op->observer);
    cancelled += op->count;
    release_op(op);
  }
  // Every accepted entry got exactly one completion or was cancelled here: anything else is a kernel bug that the
  // totals carry to the leak checks (sim --faults / --explore check that none is lost).
  if (cancelled != outstanding_) {
    log_error("ring of process {:#x}: {} entries in flight at exit but {} cancelled", pid_, outstanding_, cancelled);
    ++stats_.lost;
  }
  stats_.cancelled += cancelled;
  PLATYPOS_ASSERT(waiter_ == nullptr, "ring of process {:#x} destroyed with a task waiting on it", pid_);
  {
    IrqSpinGuard g(g_totals_lock);
    g_totals.submitted += stats_.submitted;
    g_totals.completed += stats_.completed;
    g_totals.parked += stats_.parked;
    g_totals.rejected += stats_.rejected;
    g_totals.doorbells += stats_.doorbells;
    g_totals.waits += stats_.waits;
    g_totals.cancelled += stats_.cancelled;
    g_totals.lost += stats_.lost;
    g_totals.multishot += stats_.multishot;
  }
  MemoryAccount* account = account_;
  proc::Process* process = process_;
  account->free_pages(account->direct_map().to_phys(region_), region_order_);
  this->~Ring();
  account->free_bytes(this, sizeof(Ring));
  account->release();
  g_live_rings.fetch_sub(1, std::memory_order_relaxed);
  // Retired completely: the process's teardown may go on (and its slot be reused) now.
  process->unpin();
}

// --- Shared-memory counters -------------------------------------------------------------------------------------

u32 Ring::cq_free(u32 wanted) {
  const u32 entries = cq_mask_ + 1;
  auto room = [&](u32 head) -> u32 {
    const u32 used = cq_tail_ - head;
    // A program that moved cq_head past what it was given (or far behind) gets no more completions: its problem.
    if (used > entries) return 0;
    const u32 free = entries - used;
    return free > outstanding_ ? free - outstanding_ : 0;
  };
  // The program's head, as last read: re-read it (a cache-line transfer) only when that is not enough.
  u32 r = room(cq_head_seen_);
  if (r >= wanted) return r;
  cq_head_seen_ = hdr_->cq_head.load(std::memory_order_acquire);
  r = room(cq_head_seen_);
  // Impossible: the tail the program went by may be one it scribbled. Publish what is there again, so that it can
  // find its way back (only what was published: the entries after it are not written yet).
  if (cq_published_.load(std::memory_order_relaxed) - cq_head_seen_ > entries) {
    hdr_->cq_tail.store(cq_published_.load(std::memory_order_relaxed), std::memory_order_release);
  }
  return r;
}

void Ring::for_each_waiting(void (*visit)(void* context, const WaitingOp& op), void* context) const {
  IrqSpinGuard g(lock_);
  auto one = [&](const PendingOp& p, bool ready) {
    visit(context, WaitingOp{p.chain[0].opcode, p.chain[0].handle, p.deadline, ready, p.delayed,
                             p.object ? p.object->signals() : 0, p.observer.wanted});
  };
  for (const PendingOp& p : parked_) one(p, false);
  for (const PendingOp& p : ready_) one(p, true);
}

u32 Ring::unconsumed() const {
  const u32 avail = hdr_->sq_tail.load(std::memory_order_acquire) - sq_head_;
  return avail <= sq_mask_ + 1 ? avail : 0;  // a corrupt tail: nothing the kernel will take
}

bool Ring::has_submissions() const {
  const u32 tail = hdr_->sq_tail.load(std::memory_order_acquire);
  const u32 avail = tail - sq_head_;
  return avail != 0 && avail <= sq_mask_ + 1;
}

bool Ring::has_ready() const {
  IrqSpinGuard g(lock_);
  return !ready_.empty();
}

void Ring::set_need_wakeup(bool on) {
  if (on) {
    hdr_->flags.fetch_or(abi::kRingFlagNeedWakeup, std::memory_order_seq_cst);
  } else {
    hdr_->flags.fetch_and(~abi::kRingFlagNeedWakeup, std::memory_order_relaxed);
  }
}

void Ring::complete(u64 user_data, i64 result, u64 seq) {
  PLATYPOS_TRACE(ring_complete, trace_id_, result, trace::flow_id(trace_id_, seq));
  // Program memory (its other cores may be reading or scribbling the CQ right now): written like every copy out.
  const abi::Cqe c{user_data, result};
  copy_program_memory(&cq_[cq_tail_ & cq_mask_], &c, sizeof c);
  ++cq_tail_;
  --outstanding_;
  ++stats_.completed;
  // Published by publish_completions(), once per batch: one store (one cache-line transfer to the program's core)
  // rather than one per entry.
}

bool Ring::emit(u64 user_data, i64 result) {
  if (!can_emit()) return false;
  const abi::Cqe c{user_data, result};
  copy_program_memory(&cq_[cq_tail_ & cq_mask_], &c, sizeof c);
  ++cq_tail_;
  ++stats_.multishot;
  return true;
}

void Ring::publish_completions() {
  // Against the kernel's own record of what it published, never the shared value (the program can write that).
  if (cq_published_.load(std::memory_order_relaxed) == cq_tail_) return;
  hdr_->cq_tail.store(cq_tail_, std::memory_order_release);
  cq_published_.store(cq_tail_, std::memory_order_release);
}

void Ring::wake_waiter_if_satisfied() {
  sched::Task* t = nullptr;
  {
    IrqSpinGuard g(lock_);
    if (waiter_ == nullptr) return;
    // The program's head, read once: a bogus value only wakes (or keeps asleep) its own task.
    const u32 avail = cq_published_.load(std::memory_order_acquire) - hdr_->cq_head.load(std::memory_order_acquire);
    if (avail < waiter_min_) return;
    t = waiter_;
    waiter_ = nullptr;
  }
  sched::scheduler().wake(t);
}

// --- System calls -------------------------------------------------------------------------------------------------

void Ring::doorbell() {
  ring_doorbell();
  if (sched::scheduler().current() != nullptr) sched::scheduler().exit_if_killed();
}

void Ring::ring_doorbell() {
  ++stats_.doorbells;
  PLATYPOS_TRACE(ring_doorbell, trace_id_);
  if (server_ != nullptr) server_->wake();
}

void Ring::wait_completions(u32 min) {
  wait_for_completions(min);
  sched::scheduler().exit_if_killed();
}

void Ring::wait_for_completions(u32 min) {
  if (min == 0) min = 1;
  sched::Scheduler& s = sched::scheduler();
  sched::Task* self = s.current();
  {
    IrqSpinGuard g(lock_);
    const u32 avail = cq_published_.load(std::memory_order_acquire) - hdr_->cq_head.load(std::memory_order_acquire);
    if (avail >= min) return;
    waiter_ = self;
    waiter_min_ = min;
  }
  ++stats_.waits;
  // The server may have gone idle with the submissions that will produce these completions still unread. (The
  // program rang at flush() if it saw the flag then; it may have been set since.)
  atomic_fence(std::memory_order_seq_cst);
  if ((hdr_->flags.load(std::memory_order_relaxed) & abi::kRingFlagNeedWakeup) != 0) ring_doorbell();
  s.block();
  {
    IrqSpinGuard g(lock_);
    if (waiter_ == self) waiter_ = nullptr;  // woken for another reason
  }
}

// --- Parking --------------------------------------------------------------------------------------------------------

Result<PendingOp*> Ring::park(const Sqe& sqe, cap::Ref<cap::KernelObject> object, u32 wanted, u64 deadline) {
  void* mem = PLATYPOS_TRY(account_->alloc_bytes(sizeof(PendingOp)));
  auto* op = new (mem) PendingOp();
  op->ring = this;
  op->object = static_cast<cap::Ref<cap::KernelObject>&&>(object);
  op->deadline = deadline;
  op->count = 1;
  op->chain[0] = sqe;
  op->observer.wanted = wanted;
  op->observer.context = op;
  op->observer.callback = [](cap::Observer* o) {
    auto* p = static_cast<PendingOp*>(o->context);
    p->ring->on_signalled(p);
  };
  ++stats_.parked;
  return op;
}

void Ring::on_signalled(PendingOp* op) {
  // Under the object's lock, on whatever CPU signalled: move it to the ready list and wake the server. An op the
  // server is handling right now (a deadline that expired at the same moment) just notes the signal.
  {
    IrqSpinGuard g(lock_);
    op->signalled = true;
    if (op->where != PendingOp::Where::parked) return;
    parked_.remove(*op);
    ready_.push_back(*op);
    op->where = PendingOp::Where::ready;
  }
  if (server_ != nullptr) server_->wake();
}

// --- Consuming and completing -------------------------------------------------------------------------------------

void Ring::run_chain(const Sqe* chain, u32 count, u32 start, PendingOp* op, u64 seq0) {
  for (u32 i = start; i < count; ++i) {
    const Outcome out = dispatch(chain[i], i == start ? op : nullptr);
    if (PendingOp* parked = out.parked) {
      // Waiting: the new record carries the rest of the chain (copied before the old record, if any, goes).
      PLATYPOS_TRACE(ring_park, trace_id_, chain[i].opcode);
      for (u32 j = i; j < count; ++j) parked->chain[j - i] = chain[j];
      parked->count = count - i;
      parked->seq0 = seq0 + i;
      if (op != nullptr) release_op(op);
      {
        IrqSpinGuard g(lock_);
        parked_.push_back(*parked);
        parked->where = PendingOp::Where::parked;
      }
      // Observe once it is on the list: a signal that is already set fires at once and moves it to ready.
      if (parked->object) parked->object->observe(parked->observer);
      return;
    }
    if (count == 1 && op == nullptr && fault::inject(fault::Point::completion_delay) &&
        delay(chain[0], out.result, seq0)) {
      return;
    }
    complete(chain[i].user_data, out.result, seq0 + i);
    if (out.result < 0) {
      // The rest of the chain never runs.
      for (u32 j = i + 1; j < count; ++j) complete(chain[j].user_data, error_result(Error::cancelled), seq0 + j);
      break;
    }
  }
  if (op != nullptr) release_op(op);
}

bool Ring::delay(const Sqe& sqe, i64 result, u64 seq) {
  Result<void*> mem = account_->alloc_bytes(sizeof(PendingOp));
  if (mem.is_error()) return false;  // complete it now after all
  auto* op = new (*mem) PendingOp();
  op->ring = this;
  op->count = 1;
  op->chain[0] = sqe;
  op->seq0 = seq;
  op->delayed = true;
  op->delayed_result = result;
  op->deadline = Platform::now_ns() + 1 + fault::random(kMaxInjectedDelayNs);
  IrqSpinGuard g(lock_);
  parked_.push_back(*op);
  op->where = PendingOp::Where::parked;
  return true;
}

u32 Ring::skip_overlong_chain(u32 avail, u32 budget) {
  u32 done = 0;
  while (skipping_chain_ && done < budget && done < avail && cq_free(1) >= 1) {
    const Sqe s = copy_entry(sq_[sq_head_ & sq_mask_]);
    const u64 seq = stats_.submitted;
    PLATYPOS_TRACE(ring_submit, trace_id_, s.opcode, trace::flow_id(trace_id_, seq));
    ++sq_head_;
    ++outstanding_;
    ++stats_.submitted;
    ++done;
    complete(s.user_data, error_result(Error::cancelled), seq);
    if ((s.flags & abi::kSqeLink) == 0) skipping_chain_ = false;  // its last entry
  }
  return done;
}

u32 Ring::consume(u32 budget) {
  // A process that stopped being live submits nothing more: its ring is about to be retired.
  if (!process_->live()) return 0;
  u32 done = 0;
  const u32 tail = hdr_->sq_tail.load(std::memory_order_acquire);
  u32 avail = tail - sq_head_;
  if (avail > sq_mask_ + 1) {
    // A corrupt tail: nothing trustworthy to read. The head the program sees may be what it scribbled there:
    // publish ours again, so that it can find its way back.
    hdr_->sq_head.store(sq_head_, std::memory_order_release);
    return 0;
  }
  while (done < budget && avail > 0) {
    if (skipping_chain_) {
      const u32 n = skip_overlong_chain(avail, budget - done);
      if (n == 0) break;  // no room in the CQ
      done += n;
      avail -= n;
      continue;
    }
    // A chain: this entry and the linked ones after it. Each is copied once, and the copies alone decide where the
    // chain ends and what runs.
    Sqe chain[kMaxChain];
    u32 count = 0;
    bool ended = false;
    while (count < avail && count < kMaxChain && !ended) {
      chain[count] = copy_entry(sq_[(sq_head_ + count) & sq_mask_]);
      ended = (chain[count].flags & abi::kSqeLink) == 0;
      ++count;
    }
    if (!ended && count < kMaxChain) break;           // the chain's end is not published yet
    if (cq_free(count) < count) break;                // no room to promise their completions: stop taking entries
    if (fault::inject(fault::Point::cq_full)) break;  // as if it were full: the rest waits for the next pass
    const u64 seq0 = stats_.submitted;
    for (u32 i = 0; i < count; ++i)
      PLATYPOS_TRACE(ring_submit, trace_id_, chain[i].opcode, trace::flow_id(trace_id_, seq0 + i));
    sq_head_ += count;
    avail -= count;
    outstanding_ += count;
    stats_.submitted += count;
    done += count;
    if (!ended) {
      // Longer than a chain may be: it fails as a whole, none of it runs; the entries after these, up to its last,
      // complete with cancelled as they are published (skip_overlong_chain).
      ++stats_.rejected;
      complete(chain[0].user_data, error_result(Error::limit_reached), seq0);
      for (u32 i = 1; i < count; ++i) complete(chain[i].user_data, error_result(Error::cancelled), seq0 + i);
      skipping_chain_ = true;
      continue;
    }
    run_chain(chain, count, 0, nullptr, seq0);
  }
  if (done > 0) {
    // Once per batch: the SQ slots go back to the program, the completions become visible.
    hdr_->sq_head.store(sq_head_, std::memory_order_release);
    publish_completions();
    wake_waiter_if_satisfied();
  }
  return done;
}

u32 Ring::process_ready(u64 now) {
  if (!process_->live()) return 0;  // what waits is cancelled when the ring is retired
  u32 done = 0;
  for (;;) {
    PendingOp* op = nullptr;
    {
      IrqSpinGuard g(lock_);
      op = ready_.pop_front();
      if (op == nullptr) {
        // Expired deadlines.
        for (PendingOp& p : parked_) {
          if (p.deadline != 0 && p.deadline <= now) {
            op = &p;
            break;
          }
        }
        if (op == nullptr) break;
        parked_.remove(*op);
      }
      op->where = PendingOp::Where::running;
    }
    ++done;
    // Stop observing (a no-op if it fired). From here no callback touches the op.
    if (op->object) op->object->cancel(op->observer);
    if (op->delayed) {
      complete(op->chain[0].user_data, op->delayed_result, op->seq0);
      release_op(op);
      continue;
    }
    // Its handler runs again, told that it was resumed (and whether by a signal): a read tries again (another reader
    // may have taken the message: it parks again), WAIT and TIMEOUT complete.
    run_chain(op->chain, op->count, 0, op, op->seq0);
  }
  if (done > 0) {
    publish_completions();
    wake_waiter_if_satisfied();
  }
  return done;
}

u64 Ring::next_deadline() const {
  IrqSpinGuard g(lock_);
  u64 d = 0;
  for (const PendingOp& p : parked_)
    if (p.deadline != 0 && (d == 0 || p.deadline < d)) d = p.deadline;
  return d;
}

}  // namespace platypos::ring
