#include <platypos/base/fault.hpp>
#include <platypos/base/log.hpp>
#include <platypos/base/print.hpp>
#include <platypos/cap/channel.hpp>
#include <platypos/cap/log_namespace.hpp>
#include <platypos/cap/memory_object.hpp>
#include <platypos/cap/opaque_ref.hpp>
#include <platypos/cap/process_object.hpp>
#include <platypos/ring/ring.hpp>
#include <platypos/ring/runtime.hpp>
#include <platypos/ring/server.hpp>
#include <platypos/trace/trace.hpp>

#include <new>

namespace platypos::ring {

using abi::Op;
using abi::Sqe;

namespace {
constinit Atomic<u64> g_live_rings{0};
constinit SpinLock g_totals_lock{"ring totals"};
constinit Ring::Stats g_totals{};
constinit Atomic<u64> g_ring_ids{0};
constexpr u32 kMaxChain = abi::kMaxChain;
constexpr u32 kMaxEntries = 4096;
constexpr u64 kMaxInjectedDelayNs = 50'000;  // fault::Point::completion_delay
constexpr cap::Rights kChannelRights =
    cap::Rights::read | cap::Rights::write | cap::Rights::transfer | cap::Rights::duplicate | cap::Rights::wait;
constexpr cap::Rights kMemoryRights =
    cap::Rights::read | cap::Rights::write | cap::Rights::map | cap::Rights::transfer | cap::Rights::duplicate;
constexpr cap::Rights kLogRights = cap::Rights::read | cap::Rights::write | cap::Rights::wait | cap::Rights::duplicate |
                                   cap::Rights::transfer | cap::Rights::manage;
constexpr cap::Rights kRefRights = cap::Rights::duplicate | cap::Rights::transfer;
constexpr cap::Rights kProcessRights =
    cap::Rights::wait | cap::Rights::manage | cap::Rights::duplicate | cap::Rights::transfer;

i64 err(Error e) { return -static_cast<i64>(e); }
}  // namespace

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
  u32 index = 0;  // the one waiting
  u64 seq0 = 0;   // the ring's sequence number of chain[0] (trace flows)
  Sqe chain[kMaxChain];
};

u64 Ring::live_rings() { return g_live_rings.load(std::memory_order_relaxed); }

Ring::Stats Ring::totals() {
  IrqSpinGuard g(g_totals_lock);
  return g_totals;
}

void Ring::reset_totals() {
  IrqSpinGuard g(g_totals_lock);
  g_totals = Stats{};
}

Result<Ring*> Ring::create(sched::Process& process, void* heap, u64 heap_bytes, const RingConfig& config) {
  if (!is_power_of_two(config.sq_entries) || !is_power_of_two(config.cq_entries) || config.sq_entries > kMaxEntries ||
      config.cq_entries > kMaxEntries || config.cq_entries < config.sq_entries) {
    return Error::invalid_argument;
  }
  MemoryAccount* account = process.memory();
  if (account == nullptr || !process.handles().active()) return Error::bad_state;
  const u32 bytes = abi::ring_region_bytes(config.sq_entries, config.cq_entries);
  const u32 order = BuddyAllocator::order_for_pages(pages_for(bytes));
  const PhysAddr region = PLATYPOS_TRY(account->alloc_pages(order));
  Result<void*> mem = account->alloc_bytes(sizeof(Ring));
  if (mem.is_error()) {
    account->free_pages(region, order);
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

void Ring::watch_exit(cap::Ref<cap::ProcessObject> object) {
  process_object_ = static_cast<cap::Ref<cap::ProcessObject>&&>(object);
  exit_observer_.wanted = cap::kSignalExited;
  exit_observer_.context = this;
  exit_observer_.callback = [](cap::Observer* o) {
    auto* r = static_cast<Ring*>(o->context);
    if (r->server_ != nullptr) r->server_->ring_dying(r);
  };
  process_object_->observe(exit_observer_);
}

void Ring::program_task(void* ring) {
  auto* r = static_cast<Ring*>(ring);
  r->entry_(r->env_);
}

void Ring::destroy() {
  if (process_object_) {
    process_object_->cancel(exit_observer_);
    process_object_.reset();
  }
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
  }
  MemoryAccount* account = account_;
  account->free_pages(account->direct_map().to_phys(region_), region_order_);
  this->~Ring();
  account->free_bytes(this, sizeof(Ring));
  account->release();
  g_live_rings.fetch_sub(1, std::memory_order_relaxed);
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
  return room(cq_head_seen_);
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

u32 Ring::unconsumed() const { return hdr_->sq_tail.load(std::memory_order_acquire) - sq_head_; }

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
  abi::Cqe& c = cq_[cq_tail_ & cq_mask_];
  c.user_data = user_data;
  c.result = result;
  ++cq_tail_;
  --outstanding_;
  ++stats_.completed;
  // Published by publish_completions(), once per batch: one store (one cache-line transfer to the program's core)
  // rather than one per entry.
}

void Ring::publish_completions() {
  if (hdr_->cq_tail.load(std::memory_order_relaxed) != cq_tail_)
    hdr_->cq_tail.store(cq_tail_, std::memory_order_release);
}

void Ring::wake_waiter_if_satisfied() {
  sched::Task* t = nullptr;
  {
    IrqSpinGuard g(lock_);
    if (waiter_ == nullptr) return;
    const u32 avail = cq_tail_ - hdr_->cq_head.load(std::memory_order_acquire);
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
    const u32 avail = hdr_->cq_tail.load(std::memory_order_acquire) - hdr_->cq_head.load(std::memory_order_acquire);
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

// --- Validation -----------------------------------------------------------------------------------------------------

Result<u8*> Ring::user_buffer(u64 addr, u64 len) const {
  if (len == 0) return static_cast<u8*>(nullptr);
  u64 end = 0;
  if (__builtin_add_overflow(addr, len, &end)) return Error::out_of_range;
  if (addr < user_base_ || end > user_base_ + heap_bytes_) return Error::out_of_range;
  return heap_ + (addr - user_base_);
}

namespace {

// Which fields an operation reads; all others must be zero.
struct Fields {
  bool handle, addr, len, count, addr2, arg0, arg1;
};

Fields fields_of(Op op) {
  switch (op) {
    case Op::nop: return {};
    case Op::channel_create: return {};
    case Op::channel_write: return {true, true, true, true, true, false, false};
    case Op::channel_read: return {true, true, true, true, true, false, true};
    case Op::handle_duplicate: return {true, false, false, false, false, true, false};
    case Op::handle_close: return {true, false, false, false, false, false, false};
    case Op::wait: return {true, false, false, false, false, true, true};
    case Op::timeout: return {false, false, false, false, false, true, false};
    case Op::log_write: return {true, true, true, false, false, false, false};
    case Op::process_spawn: return {false, true, true, true, true, true, true};
    case Op::process_exit: return {true, false, false, false, false, true, false};
    case Op::memory_create: return {false, false, false, false, false, true, false};
    case Op::memory_read: return {true, true, true, false, false, true, false};
    case Op::memory_write: return {true, true, true, false, false, true, false};
    case Op::log_create: return {false, true, true, false, false, true, false};
    case Op::log_read: return {true, true, true, false, false, false, true};
    case Op::ref_create: return {true, false, false, false, false, true, false};
    case Op::ref_resolve: return {true, false, false, false, false, true, false};
    case Op::console_write: return {false, true, true, false, false, false, false};
  }
  return {};
}

Error validate_shape(const Sqe& s) {
  if (s.opcode >= abi::kOpCount) return Error::not_supported;
  if ((s.flags & ~abi::kSqeKnownFlags) != 0 || s.reserved0 != 0 || s.reserved1 != 0) return Error::invalid_argument;
  const Fields f = fields_of(static_cast<Op>(s.opcode));
  if ((!f.handle && s.handle != 0) || (!f.addr && s.addr != 0) || (!f.len && s.len != 0) ||
      (!f.count && s.count != 0) || (!f.addr2 && s.addr2 != 0) || (!f.arg0 && s.arg0 != 0) ||
      (!f.arg1 && s.arg1 != 0)) {
    return Error::invalid_argument;
  }
  return Error::none;
}

}  // namespace

// --- Operations -----------------------------------------------------------------------------------------------------

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

bool Ring::execute(const Sqe& s, i64* result, PendingOp** op) {
  const Error shape = validate_shape(s);
  if (shape != Error::none) {
    ++stats_.rejected;
    *result = err(shape);
    return true;
  }
  cap::HandleTable& table = process_->handles();
  const bool nonblocking = (s.flags & abi::kSqeNonBlocking) != 0;
  auto fail = [&](Error e) {
    *result = err(e);
    return true;
  };
  switch (static_cast<Op>(s.opcode)) {
    case Op::nop: *result = 0; return true;

    case Op::channel_create: {
      if (table.free_slots() < 2) return fail(Error::no_resources);
      auto pair = cap::ChannelEndpoint::create();
      if (pair.is_error()) return fail(pair.error());
      const auto h0 = table.add(cap::Ref<cap::KernelObject>(static_cast<cap::Ref<cap::ChannelEndpoint>&&>(pair->a)),
                                kChannelRights);
      if (h0.is_error()) return fail(h0.error());
      const auto h1 = table.add(cap::Ref<cap::KernelObject>(static_cast<cap::Ref<cap::ChannelEndpoint>&&>(pair->b)),
                                kChannelRights);
      if (h1.is_error()) {
        (void)table.close(*h0);
        return fail(h1.error());
      }
      *result = (static_cast<i64>(*h0) << 32) | *h1;
      return true;
    }

    case Op::channel_write: {
      if (s.count > cap::kMaxMessageHandles) return fail(Error::invalid_argument);
      auto bytes = user_buffer(s.addr, s.len);
      auto handles = user_buffer(s.addr2, u64{s.count} * sizeof(u32));
      if (bytes.is_error() || handles.is_error()) return fail(Error::out_of_range);
      if (s.count > 0 && !is_aligned(s.addr2, alignof(u32))) return fail(Error::misaligned);
      auto ep = table.get_as<cap::ChannelEndpoint>(s.handle, cap::Rights::write);
      if (ep.is_error()) return fail(ep.error());
      auto w = (*ep)->write(table, *account_, std::span<const u8>(*bytes, s.len),
                            std::span<const cap::Handle>(reinterpret_cast<const cap::Handle*>(*handles), s.count));
      if (w.is_error()) return fail(w.error());
      *result = 0;
      return true;
    }

    case Op::channel_read: {
      if (s.count > cap::kMaxMessageHandles) return fail(Error::invalid_argument);
      auto bytes = user_buffer(s.addr, s.len);
      auto handles = user_buffer(s.addr2, u64{s.count} * sizeof(u32));
      auto needed_out = user_buffer(s.arg1, s.arg1 != 0 ? sizeof(abi::ReadNeeded) : 0);
      if (bytes.is_error() || handles.is_error() || needed_out.is_error()) return fail(Error::out_of_range);
      if ((s.count > 0 && !is_aligned(s.addr2, alignof(u32))) || !is_aligned(s.arg1, alignof(u32))) {
        return fail(Error::misaligned);
      }
      auto ep = table.get_as<cap::ChannelEndpoint>(s.handle, cap::Rights::read);
      if (ep.is_error()) return fail(ep.error());
      cap::ChannelEndpoint::ReadSizes needed;
      auto r = (*ep)->read(table, std::span<u8>(*bytes, s.len),
                           std::span<cap::Handle>(reinterpret_cast<cap::Handle*>(*handles), s.count), &needed);
      if (r.has_value()) {
        *result = static_cast<i64>(r->bytes) | (static_cast<i64>(r->handles) << 32);
        return true;
      }
      if (r.error() == Error::buffer_too_small && s.arg1 != 0) {
        auto* out = reinterpret_cast<abi::ReadNeeded*>(*needed_out);
        out->bytes = needed.bytes;
        out->handles = needed.handles;
      }
      if (r.error() != Error::would_block || nonblocking) return fail(r.error());
      auto parked = park(s, cap::Ref<cap::KernelObject>(static_cast<cap::Ref<cap::ChannelEndpoint>&&>(*ep)),
                         cap::kSignalReadable | cap::kSignalPeerClosed, 0);
      if (parked.is_error()) return fail(parked.error());
      *op = *parked;
      return false;
    }

    case Op::handle_duplicate: {
      if ((s.arg0 & ~u64{0xff}) != 0) return fail(Error::invalid_argument);
      auto h = table.duplicate(s.handle, static_cast<cap::Rights>(s.arg0));
      if (h.is_error()) return fail(h.error());
      *result = *h;
      return true;
    }

    case Op::handle_close: {
      auto c = table.close(s.handle);
      if (c.is_error()) return fail(c.error());
      *result = 0;
      return true;
    }

    case Op::wait: {
      if (s.arg0 == 0 || s.arg0 > 0xffffffffu) return fail(Error::invalid_argument);
      auto obj = table.get(s.handle, cap::Rights::wait, static_cast<cap::ObjectType>(0));
      if (obj.is_error()) return fail(obj.error());
      const auto wanted = static_cast<u32>(s.arg0);
      if (const u32 now = (*obj)->signals(); (now & wanted) != 0) {
        *result = now;
        return true;
      }
      if (nonblocking) return fail(Error::would_block);
      const u64 deadline = s.arg1 != 0 ? Platform::now_ns() + s.arg1 : 0;
      auto parked = park(s, static_cast<cap::Ref<cap::KernelObject>&&>(*obj), wanted, deadline);
      if (parked.is_error()) return fail(parked.error());
      *op = *parked;
      return false;
    }

    case Op::timeout: {
      if (s.arg0 == 0) {
        *result = 0;
        return true;
      }
      if (s.arg0 > 1000ull * kNsPerSec * 3600) return fail(Error::invalid_argument);
      auto parked = park(s, cap::Ref<cap::KernelObject>(), 0, Platform::now_ns() + s.arg0);
      if (parked.is_error()) return fail(parked.error());
      *op = *parked;
      return false;
    }

    case Op::log_write: {
      auto rec = user_buffer(s.addr, s.len);
      if (rec.is_error()) return fail(rec.error());
      auto log = table.get_as<cap::LogNamespace>(s.handle, cap::Rights::write);
      if (log.is_error()) return fail(log.error());
      auto w = (*log)->write(std::span<const u8>(*rec, s.len));
      if (w.is_error()) return fail(w.error());
      *result = 0;
      return true;
    }

    case Op::process_spawn: {
      Runtime* rt = Runtime::instance();
      if (rt == nullptr) return fail(Error::not_supported);
      if (s.count > abi::kMaxInitialHandles || s.len == 0 || s.len > 200) return fail(Error::invalid_argument);
      if (s.arg0 == 0 || s.arg0 > kMaxCpus || s.arg1 == 0) return fail(Error::invalid_argument);
      auto text = user_buffer(s.addr, s.len);
      auto handles = user_buffer(s.addr2, u64{s.count} * sizeof(u32));
      if (text.is_error() || handles.is_error()) return fail(Error::out_of_range);
      if (s.count > 0 && !is_aligned(s.addr2, alignof(u32))) return fail(Error::misaligned);
      // Room for the process handle (the handles given away free slots too, but only if the spawn works).
      if (table.free_slots() < 1) return fail(Error::no_resources);
      // "name args...": the program's name, then its command line.
      char buf[201];
      for (u32 i = 0; i < s.len; ++i) buf[i] = static_cast<char>((*text)[i]);
      buf[s.len] = '\0';
      u32 name_len = 0;
      while (name_len < s.len && buf[name_len] != ' ') ++name_len;
      const std::string_view name(buf, name_len);
      const std::string_view args =
          name_len < s.len ? std::string_view(buf + name_len + 1, s.len - name_len - 1) : std::string_view();
      const std::span<const cap::Handle> hs(reinterpret_cast<const cap::Handle*>(*handles), s.count);
      // Admits the child, then moves the handles into it: if either fails, the parent's table is untouched.
      auto child = rt->spawn_from(
          {.program = name, .cores = static_cast<u32>(s.arg0), .memory_bytes = s.arg1, .args = args}, table, hs);
      if (child.is_error()) return fail(child.error());
      auto h =
          table.add(cap::Ref<cap::KernelObject>(static_cast<cap::Ref<cap::ProcessObject>&&>(*child)), kProcessRights);
      if (h.is_error()) return fail(h.error());
      *result = *h;
      return true;
    }

    case Op::process_exit: {
      sched::ProcessId target = pid_;
      if (s.handle != 0) {
        auto p = table.get_as<cap::ProcessObject>(s.handle, cap::Rights::manage);
        if (p.is_error()) return fail(p.error());
        target = (*p)->pid();
      }
      auto x = sched::scheduler().exit_process(target, static_cast<i64>(s.arg0));
      if (x.is_error()) return fail(x.error());
      *result = 0;
      return true;
    }

    case Op::memory_create: {
      if (table.free_slots() < 1) return fail(Error::no_resources);
      auto mo = cap::MemoryObject::create(*account_, s.arg0);
      if (mo.is_error()) return fail(mo.error());
      auto h = table.add(cap::Ref<cap::KernelObject>(static_cast<cap::Ref<cap::MemoryObject>&&>(*mo)), kMemoryRights);
      if (h.is_error()) return fail(h.error());
      *result = *h;
      return true;
    }

    case Op::memory_read:
    case Op::memory_write: {
      const bool reading = static_cast<Op>(s.opcode) == Op::memory_read;
      auto buf = user_buffer(s.addr, s.len);
      if (buf.is_error()) return fail(buf.error());
      auto mo = table.get_as<cap::MemoryObject>(s.handle, reading ? cap::Rights::read : cap::Rights::write);
      if (mo.is_error()) return fail(mo.error());
      auto r = reading ? (*mo)->read(s.arg0, std::span<u8>(*buf, s.len))
                       : (*mo)->write(s.arg0, std::span<const u8>(*buf, s.len));
      if (r.is_error()) return fail(r.error());
      *result = s.len;
      return true;
    }

    case Op::log_create: {
      if (s.len == 0 || s.len > cap::LogNamespace::kMaxName) return fail(Error::invalid_argument);
      auto name = user_buffer(s.addr, s.len);
      if (name.is_error()) return fail(name.error());
      if (table.free_slots() < 1) return fail(Error::no_resources);
      auto log = cap::LogNamespace::create(*account_, std::string_view(reinterpret_cast<const char*>(*name), s.len),
                                           s.arg0 == 0 ? 16 * KiB : s.arg0);
      if (log.is_error()) return fail(log.error());
      auto h = table.add(cap::Ref<cap::KernelObject>(static_cast<cap::Ref<cap::LogNamespace>&&>(*log)), kLogRights);
      if (h.is_error()) return fail(h.error());
      *result = *h;
      return true;
    }

    case Op::log_read: {
      auto buf = user_buffer(s.addr, s.len);
      auto needed_out = user_buffer(s.arg1, s.arg1 != 0 ? sizeof(abi::ReadNeeded) : 0);
      if (buf.is_error() || needed_out.is_error()) return fail(Error::out_of_range);
      if (!is_aligned(s.arg1, alignof(u32))) return fail(Error::misaligned);
      auto log = table.get_as<cap::LogNamespace>(s.handle, cap::Rights::read);
      if (log.is_error()) return fail(log.error());
      usize needed = 0;
      auto r = (*log)->read(std::span<u8>(*buf, s.len), &needed);
      if (r.has_value()) {
        *result = static_cast<i64>(*r);
        return true;
      }
      if (r.error() == Error::buffer_too_small && s.arg1 != 0) {
        auto* out = reinterpret_cast<abi::ReadNeeded*>(*needed_out);
        out->bytes = static_cast<u32>(needed);
        out->handles = 0;
      }
      if (r.error() != Error::would_block || nonblocking) return fail(r.error());
      auto parked = park(s, cap::Ref<cap::KernelObject>(static_cast<cap::Ref<cap::LogNamespace>&&>(*log)),
                         cap::kSignalReadable, 0);
      if (parked.is_error()) return fail(parked.error());
      *op = *parked;
      return false;
    }

    case Op::ref_create: {
      auto key = table.get(s.handle, cap::Rights::manage, static_cast<cap::ObjectType>(0));
      if (key.is_error()) return fail(key.error());
      if (table.free_slots() < 1) return fail(Error::no_resources);
      auto ref = cap::OpaqueRef::create(static_cast<cap::Ref<cap::KernelObject>&&>(*key), s.arg0);
      if (ref.is_error()) return fail(ref.error());
      auto h = table.add(cap::Ref<cap::KernelObject>(static_cast<cap::Ref<cap::OpaqueRef>&&>(*ref)), kRefRights);
      if (h.is_error()) return fail(h.error());
      *result = *h;
      return true;
    }

    case Op::ref_resolve: {
      if (s.arg0 > 0xffffffffu) return fail(Error::invalid_argument);
      auto ref = table.get_as<cap::OpaqueRef>(s.handle, cap::Rights::none);
      if (ref.is_error()) return fail(ref.error());
      auto key = table.get(static_cast<cap::Handle>(s.arg0), cap::Rights::manage, static_cast<cap::ObjectType>(0));
      if (key.is_error()) return fail(key.error());
      auto cookie = (*ref)->resolve(**key);
      if (cookie.is_error()) return fail(cookie.error());
      // Cookies are the server's 63-bit values: a negative result would read as an error.
      *result = static_cast<i64>(*cookie & ~(u64{1} << 63));
      return true;
    }

    case Op::console_write: {
      if (s.len > 1024) return fail(Error::invalid_argument);
      auto text = user_buffer(s.addr, s.len);
      if (text.is_error()) return fail(text.error());
      Platform::console_write(reinterpret_cast<const char*>(*text), s.len);
      *result = 0;
      return true;
    }
  }
  return fail(Error::not_supported);
}

// --- Consuming and completing -------------------------------------------------------------------------------------

void Ring::run_chain(Sqe* chain, u32 count, u32 start, PendingOp* op, u64 seq0) {
  for (u32 i = start; i < count; ++i) {
    i64 result = 0;
    PendingOp* parked = nullptr;
    if (!execute(chain[i], &result, &parked)) {
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
    if (count == 1 && op == nullptr && fault::inject(fault::Point::completion_delay) && delay(chain[0], result, seq0)) {
      return;
    }
    complete(chain[i].user_data, result, seq0 + i);
    if (result < 0) {
      // The rest of the chain never runs.
      for (u32 j = i + 1; j < count; ++j) complete(chain[j].user_data, err(Error::cancelled), seq0 + j);
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

u32 Ring::consume(u32 budget) {
  u32 done = 0;
  const u32 tail = hdr_->sq_tail.load(std::memory_order_acquire);
  u32 avail = tail - sq_head_;
  if (avail > sq_mask_ + 1) return 0;  // a corrupt tail: nothing trustworthy to read
  while (done < budget && avail > 0) {
    // A chain: this entry and the linked ones after it, all published.
    u32 count = 1;
    while (count <= avail && count < kMaxChain && (sq_[(sq_head_ + count - 1) & sq_mask_].flags & abi::kSqeLink)) {
      ++count;
    }
    if (count > avail) break;           // the chain's end is not published yet
    if (cq_free(count) < count) break;  // no room to promise their completions: stop taking entries
    if (fault::inject(fault::Point::cq_full)) break;  // as if it were full: the rest waits for the next pass
    Sqe chain[kMaxChain];
    for (u32 i = 0; i < count; ++i) chain[i] = sq_[(sq_head_ + i) & sq_mask_];  // copy: the program may rewrite
    const u64 seq0 = stats_.submitted;
    for (u32 i = 0; i < count; ++i)
      PLATYPOS_TRACE(ring_submit, trace_id_, chain[i].opcode, trace::flow_id(trace_id_, seq0 + i));
    sq_head_ += count;
    avail -= count;
    outstanding_ += count;
    stats_.submitted += count;
    done += count;
    if (count == kMaxChain && (chain[count - 1].flags & abi::kSqeLink) != 0) {
      // Longer than a chain may be: none of it runs (the entry after it starts afresh).
      ++stats_.rejected;
      complete(chain[0].user_data, err(Error::limit_reached), seq0);
      for (u32 i = 1; i < count; ++i) complete(chain[i].user_data, err(Error::cancelled), seq0 + i);
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
    Sqe& s = op->chain[0];
    if (op->delayed) {
      complete(s.user_data, op->delayed_result, op->seq0);
      release_op(op);
      continue;
    }
    switch (static_cast<Op>(s.opcode)) {
      case Op::timeout:
        complete(s.user_data, 0, op->seq0);
        run_chain(op->chain, op->count, 1, op, op->seq0);
        break;
      case Op::wait:
        if (op->signalled) {
          complete(s.user_data, op->observer.observed, op->seq0);
          run_chain(op->chain, op->count, 1, op, op->seq0);
        } else {
          complete(s.user_data, err(Error::timed_out), op->seq0);
          for (u32 j = 1; j < op->count; ++j) complete(op->chain[j].user_data, err(Error::cancelled), op->seq0 + j);
          release_op(op);
        }
        break;
      default:
        // A read whose channel (or log) signalled: run it again (another reader may have taken the message: it parks
        // again).
        run_chain(op->chain, op->count, 0, op, op->seq0);
        break;
    }
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
