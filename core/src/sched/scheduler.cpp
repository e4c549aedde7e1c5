#include <platypos/base/fault.hpp>
#include <platypos/base/log.hpp>
#include <platypos/base/print.hpp>
#include <platypos/mm/kernel_heap.hpp>
#include <platypos/sched/scheduler.hpp>
#include <platypos/trace/trace.hpp>

#include <new>

namespace platypos::sched {
namespace {

constexpr u32 kSlotBits = kProcessSlotBits;
static_assert(Scheduler::kMaxProcesses <= (1u << kSlotBits));
// Generations fill the rest of a ProcessId; a slot whose generations are used up is retired (never reused).
constexpr u32 kMaxGeneration = (1u << (32 - kSlotBits)) - 1;

void copy_name(char* dst, usize cap, const char* src) {
  usize i = 0;
  for (; src != nullptr && src[i] != '\0' && i + 1 < cap; ++i) dst[i] = src[i];
  dst[i] = '\0';
}

}  // namespace

// The installed scheduler. Not in an anonymous namespace: debuggers find it by name (tools/gdb/platypos.py).
constinit Scheduler* g_scheduler = nullptr;

const char* policy_name(Policy p) { return p == Policy::dedicated ? "dedicated" : "timeshare"; }

const char* core_role_name(CoreRole r) {
  switch (r) {
    case CoreRole::kernel: return "kernel";
    case CoreRole::app_free: return "app (free)";
    case CoreRole::app_assigned: return "app";
  }
  return "?";
}

const char* task_state_name(TaskState s) {
  switch (s) {
    case TaskState::ready: return "ready";
    case TaskState::running: return "running";
    case TaskState::blocked: return "blocked";
    case TaskState::exited: return "exited";
  }
  return "?";
}

const char* resource_name(AdmissionShortfall::Resource r) {
  switch (r) {
    case AdmissionShortfall::Resource::none: return "none";
    case AdmissionShortfall::Resource::cores: return "cores";
    case AdmissionShortfall::Resource::memory: return "memory";
    case AdmissionShortfall::Resource::process_slots: return "process slots";
  }
  return "?";
}

Scheduler* Scheduler::instance() { return g_scheduler; }
void Scheduler::install(Scheduler* s) { g_scheduler = s; }

Scheduler::Scheduler(const Config& config, PageSource kernel_pages) : config_(config), kernel_pages_(kernel_pages) {
  PLATYPOS_ASSERT(config.cpus >= 1 && config.cpus <= kMaxCpus, "scheduler with {} cpus", config.cpus);
  PLATYPOS_ASSERT(config.kernel_cores >= 1 && config.kernel_cores <= config.cpus,
                  "{} kernel cores of {} cpus: need at least one kernel core", config.kernel_cores, config.cpus);
  PLATYPOS_ASSERT(config.quantum_ns > 0, "zero quantum");
  PLATYPOS_ASSERT(kernel_pages.valid(), "scheduler without a page source");
  for (CpuId c = 0; c < config.cpus; ++c) {
    Cpu& cpu = cpus_[c];
    cpu.id = c;
    cpu.role = c < config.kernel_cores ? CoreRole::kernel : CoreRole::app_free;
    RunQueue* rq = config.policy == Policy::timeshare ? &shared_rq_ : c < config.kernel_cores ? &kernel_rq_ : &free_rq_;
    cpu.rq.unobserved().store(rq, std::memory_order_relaxed);
  }
}

RunQueue* Scheduler::domain_for(Process* p) {
  if (config_.policy == Policy::timeshare) return &shared_rq_;
  return p != nullptr ? &p->rq_ : &kernel_rq_;
}

u32 Scheduler::free_app_cores() const {
  u32 n = 0;
  for (CpuId c = 0; c < config_.cpus; ++c) n += cpus_[c].role == CoreRole::app_free ? 1 : 0;
  return n;
}

Process* Scheduler::find_process(ProcessId pid) {
  const u32 slot = process_slot(pid);
  if (pid == kNoProcess || slot >= kMaxProcesses) return nullptr;
  Process& p = processes_[slot];
  if (p.id_ != pid || (p.state_ != Process::State::running && p.state_ != Process::State::exiting)) return nullptr;
  return &p;
}

Result<ProcessId> Scheduler::spawn(const ProcessSpec& spec, AdmissionShortfall* why) {
  AdmissionShortfall local;
  AdmissionShortfall& out = why != nullptr ? *why : local;
  out = AdmissionShortfall{};
  if (spec.name == nullptr || spec.name[0] == '\0' || spec.cores == 0) return Error::invalid_argument;
  IrqSpinGuard g(lock_);
  // A never-used or released slot first; an exited one (whose id still answers bad_state) only when needed, and never
  // a held one (its layer above is still tearing it down) or one whose generations are used up (its next id would
  // repeat an old one).
  auto usable = [](const Process& q) { return q.generation_ < kMaxGeneration; };
  Process* p = nullptr;
  for (Process& q : processes_)
    if (q.state_ == Process::State::free && usable(q)) {
      p = &q;
      break;
    }
  if (p == nullptr) {
    for (Process& q : processes_)
      if (q.state_ == Process::State::exited && !q.held_ && usable(q)) {
        p = &q;
        break;
      }
  }
  if (p == nullptr) {
    out = {AdmissionShortfall::Resource::process_slots, 1, 0};
    log_warn("spawn {}: refused, all {} process slots in use", spec.name, kMaxProcesses);
    return Error::no_resources;
  }
  if (config_.policy == Policy::dedicated) {
    const u32 free = free_app_cores();
    if (spec.cores > free) {
      out = {AdmissionShortfall::Resource::cores, spec.cores, free};
      log_warn("spawn {}: refused, asks {} cores, {} free", spec.name, spec.cores, free);
      return Error::no_resources;
    }
  }
  // Memory: all of it or nothing.
  MemoryAccount* account = nullptr;
  if (spec.memory_bytes > 0) {
    Result<MemoryAccount*> made = spec.memory_bytes > MemoryReservation::kMaxBytes
                                      ? Result<MemoryAccount*>(Error::no_resources)
                                      : MemoryAccount::create(kernel_pages_, spec.memory_bytes);
    if (made.is_error()) {
      out = {AdmissionShortfall::Resource::memory, spec.memory_bytes, 0};
      log_warn("spawn {}: refused, cannot reserve {} KiB", spec.name, spec.memory_bytes / KiB);
      return Error::no_resources;
    }
    account = *made;
  }
  const auto slot = static_cast<u32>(p - processes_);
  // Admitted: from here nothing fails.
  ++p->generation_;
  p->id_ = (p->generation_ << kSlotBits) | slot;
  p->account_ = account;
  p->state_ = Process::State::running;
  p->held_ = spec.held;
  copy_name(p->name_, Process::kNameLen, spec.name);
  p->cores_ = CpuSet();
  p->core_count_ = spec.cores;
  p->live_tasks_ = 0;
  p->exit_code_ = 0;
  if (config_.policy == Policy::dedicated) {
    u32 taken = 0;
    CpuSet moved;
    {
      SpinGuard fg(free_rq_.lock_);
      for (CpuId c = 0; c < config_.cpus && taken < spec.cores; ++c) {
        Cpu& cpu = cpus_[c];
        if (cpu.role != CoreRole::app_free) continue;
        cpu.role = CoreRole::app_assigned;
        cpu.owner = p;
        free_rq_.idle_.clear(c);
        cpu.rq.store(&p->rq_, std::memory_order_relaxed);
        p->cores_.set(c);
        moved.set(c);
        ++taken;
      }
    }
    // Their idle loops must notice the new queue.
    for (CpuId c = 0; c < config_.cpus; ++c)
      if (moved.has(c)) Platform::cpu_wake(c);
  }
  PLATYPOS_TRACE(process_spawn, p->id_, spec.cores, spec.memory_bytes / KiB, p->name_);
  if (config_.policy == Policy::dedicated) {
    log_info("spawn {}: process {:#x}, {} dedicated cores from cpu {}, {} KiB reserved", p->name_, p->id_, spec.cores,
             p->cores_.first(), spec.memory_bytes / KiB);
  } else {
    log_info("spawn {}: process {:#x}, timeshare, {} KiB reserved", p->name_, p->id_, spec.memory_bytes / KiB);
  }
  return p->id_;
}

Result<void> Scheduler::exit_process(ProcessId pid, i64 code) {
  Task* self = current();
  bool suicide = false;
  bool finished = false;
  {
    IrqSpinGuard g(lock_);
    const u32 slot = process_slot(pid);
    if (pid == kNoProcess || slot >= kMaxProcesses) return Error::not_found;
    Process& p = processes_[slot];
    if (p.id_ != pid || p.state_ == Process::State::free) return Error::not_found;
    if (p.state_ != Process::State::running) return Error::bad_state;
    p.state_ = Process::State::exiting;
    p.exit_code_ = code;
    PLATYPOS_TRACE(process_exit, p.id_, p.live_tasks_);
    log_info("exit {}: process {:#x}, {} tasks to stop", p.name_, p.id_, p.live_tasks_);
    finished = p.live_tasks_ == 0;
    if (finished) finish_process(&p);
    for (Task& t : p.tasks_) {
      if (&t == self) {
        t.killed_.store(true, std::memory_order_relaxed);
        suicide = true;
      } else {
        kill(&t);
      }
    }
  }
  if (finished) run_exit_hook(pid, code);
  if (suicide) exit_task();
  return ok();
}

void Scheduler::kill(Task* t) {
  t->killed_.store(true, std::memory_order_relaxed);
  remove_sleeper(t);
  wake(t);
}

void Scheduler::finish_process(Process* p) {
  // Scheduler lock held; every task of p is gone.
  PLATYPOS_ASSERT(p->tasks_.empty() && p->live_tasks_ == 0, "finishing process {} with tasks left", p->name_);
  if (config_.policy == Policy::dedicated) {
    CpuSet moved;
    {
      SpinGuard pg(p->rq_.lock_);
      PLATYPOS_ASSERT(p->rq_.ready_.empty(), "finished process {} has ready tasks", p->name_);
      for (CpuId c = 0; c < config_.cpus; ++c) {
        if (!p->cores_.has(c)) continue;
        Cpu& cpu = cpus_[c];
        p->rq_.idle_.clear(c);
        cpu.rq.store(&free_rq_, std::memory_order_relaxed);
        cpu.role = CoreRole::app_free;
        cpu.owner = nullptr;
        moved.set(c);
      }
    }
    for (CpuId c = 0; c < config_.cpus; ++c)
      if (moved.has(c)) Platform::cpu_wake(c);
  }
  // Its memory goes with the last reference to its account: this one, unless the process layer (its handle table,
  // its rings) or objects elsewhere still hold some.
  if (p->account_ != nullptr) p->account_->release();
  p->account_ = nullptr;
  p->cores_ = CpuSet();
  p->core_count_ = 0;
  p->state_ = Process::State::exited;
  log_info("exit {}: process {:#x}: its tasks are gone, its cores returned", p->name_, p->id_);
}

void Scheduler::set_exit_hook(ExitHook hook, void* context) {
  IrqSpinGuard g(lock_);
  exit_hook_ = hook;
  exit_hook_context_ = context;
}

void Scheduler::run_exit_hook(ProcessId pid, i64 code) {
  ExitHook hook = nullptr;
  void* context = nullptr;
  {
    IrqSpinGuard g(lock_);
    hook = exit_hook_;
    context = exit_hook_context_;
  }
  if (hook != nullptr) hook(context, pid, code);
}

Result<void> Scheduler::cancel_spawn(ProcessId pid) {
  IrqSpinGuard g(lock_);
  const u32 slot = process_slot(pid);
  if (pid == kNoProcess || slot >= kMaxProcesses) return Error::not_found;
  Process& p = processes_[slot];
  if (p.id_ != pid || p.state_ == Process::State::free) return Error::not_found;
  if (p.state_ != Process::State::running || !p.tasks_.empty() || p.live_tasks_ != 0) return Error::bad_state;
  p.state_ = Process::State::exiting;
  finish_process(&p);
  p.state_ = Process::State::free;
  p.held_ = false;
  return ok();
}

Result<void> Scheduler::release_slot(ProcessId pid) {
  IrqSpinGuard g(lock_);
  const u32 slot = process_slot(pid);
  if (pid == kNoProcess || slot >= kMaxProcesses) return Error::not_found;
  Process& p = processes_[slot];
  if (p.id_ != pid || p.state_ == Process::State::free) return Error::not_found;
  if (p.state_ != Process::State::exited || !p.held_) return Error::bad_state;
  p.held_ = false;
  return ok();
}

Result<PhysAddr> Scheduler::alloc_stack(Process* p, u32 order) {
  if (p == nullptr) return kernel_pages_.alloc(order);
  if (p->account_ == nullptr) return Error::no_memory;
  return p->account_->alloc_pages(order);
}

void Scheduler::free_stack(Process* p, PhysAddr stack, u32 order) {
  // No context runs on it any more (reap() runs on another stack; create_task() never started one): the backend may
  // clean up after the frames that lived there before the pages go back to the allocator.
  const DirectMap& map = p != nullptr ? p->account_->direct_map() : kernel_pages_.direct_map();
  Platform::context_stack_released(map.to_virt(stack), kPageSize << order);
  if (p == nullptr) {
    kernel_pages_.free(stack, order).expect("task stack");
  } else {
    p->account_->free_pages(stack, order);
  }
}

Result<Task*> Scheduler::create_task(ProcessId pid, const char* name, TaskEntry entry, void* arg, u32 stack_order) {
  if (entry == nullptr || stack_order > BuddyAllocator::kMaxOrder) return Error::invalid_argument;
  IrqSpinGuard g(lock_);
  Process* p = nullptr;
  if (pid != kNoProcess) {
    const u32 slot = process_slot(pid);
    if (slot >= kMaxProcesses || processes_[slot].id_ != pid || processes_[slot].state_ == Process::State::free) {
      return Error::not_found;
    }
    p = &processes_[slot];
    if (p->state_ != Process::State::running) return Error::bad_state;
  }
  const PhysAddr stack = PLATYPOS_TRY(alloc_stack(p, stack_order));
  // A process's task is paid from its own memory, like its stack; a kernel task from the kernel heap.
  Result<void*> mem =
      p != nullptr ? p->account_->alloc_bytes(sizeof(Task)) : kernel_heap().alloc(sizeof(Task), alignof(Task));
  if (mem.is_error()) {
    free_stack(p, stack, stack_order);
    return mem.error();
  }
  Task* t = new (*mem) Task();
  t->entry_ = entry;
  t->arg_ = arg;
  t->stack_ = stack;
  t->stack_order_ = stack_order;
  t->process_ = p;
  t->id_ = next_task_id_.fetch_add(1, std::memory_order_relaxed);
  copy_name(t->name_, Task::kNameLen, name);
  PLATYPOS_TRACE(task_new, t->id_, p != nullptr ? p->id_ : kNoProcess, entry, t->name_);
  const DirectMap& map = p != nullptr ? p->account_->direct_map() : kernel_pages_.direct_map();
  Platform::context_init(t->ctx_, map.to_virt(stack), kPageSize << stack_order, &task_trampoline, t);
  (p != nullptr ? p->tasks_ : kernel_tasks_).push_back(*t);
  if (p != nullptr) ++p->live_tasks_;
  live_tasks_.fetch_add(1, std::memory_order_relaxed);
  RunQueue* rq = domain_for(p);
  t->rq_ = rq;
  t->state_ = TaskState::ready;
  {
    SpinGuard rg(rq->lock_);
    rq->ready_.push_back(*t);
    kick_idle_cpu(rq);
  }
  log_debug("task {} '{}' created in {}", t->id_, t->name_, p != nullptr ? p->name_ : "the kernel");
  return t;
}

void Scheduler::task_trampoline(void* arg) {
  Task* t = static_cast<Task*>(arg);
  Scheduler* s = g_scheduler;
  s->finish_switch();
  Platform::irq_enable();
  s->exit_if_killed();
  t->entry_(t->arg_);
  s->exit_task();
}

Task* Scheduler::current() const { return cpus_[Platform::current_cpu()].current; }

RunQueue* Scheduler::lock_cpu_rq(Cpu& cpu) {
  for (;;) {
    RunQueue* rq = cpu.rq.load(std::memory_order_relaxed);
    rq->lock_.lock();
    if (cpu.rq.load(std::memory_order_relaxed) == rq) return rq;
    rq->lock_.unlock();
  }
}

void Scheduler::switch_to(Cpu& cpu, Platform::Context& from, Task* next) {
  // The flow from the wake-up that made `next` ready (if one did) ends here (trace/event.hpp: flow_id).
  PLATYPOS_TRACE(sched_switch, cpu.current != nullptr ? cpu.current->id_ : 0, next->id_,
                 trace::flow_id(next->id_, next->stats_.wakeups));
  trace::set_current_task(cpu.id, next->id_);
  cpu.current = next;
  next->state_ = TaskState::running;
  next->cpu_ = cpu.id;
  ++next->stats_.dispatches;
  ++cpu.stats.switches;
  if (config_.policy == Policy::timeshare) next->slice_start_ns_ = Platform::now_ns();
  Platform::context_switch(from, next->ctx_);
}

void Scheduler::finish_switch() {
  Cpu& cpu = this_cpu();
  SpinLock* held = cpu.held_lock;
  Task* dead = cpu.dead;
  cpu.held_lock = nullptr;
  cpu.dead = nullptr;
  if (held != nullptr) held->unlock();
  if (dead != nullptr) {
    i64 code = 0;
    if (const ProcessId finished = reap(dead, &code); finished != kNoProcess) run_exit_hook(finished, code);
  }
  if (config_.policy == Policy::timeshare) rearm_timer(cpu);
}

void Scheduler::reschedule_locked(Cpu& cpu, Task* prev, RunQueue* rq) {
  Task* next = rq->ready_.pop_front();
  if (next == prev) {  // prev was requeued and is the only one ready: keep running
    prev->state_ = TaskState::running;
    rq->lock_.unlock();
    return;
  }
  cpu.held_lock = &rq->lock_;
  Platform::Context& from = prev != nullptr ? prev->ctx_ : cpu.idle_ctx;
  if (next != nullptr) {
    switch_to(cpu, from, next);
  } else {
    PLATYPOS_TRACE(sched_switch, prev != nullptr ? prev->id_ : 0, 0, 0);
    trace::set_current_task(cpu.id, 0);
    cpu.current = nullptr;
    Platform::context_switch(from, cpu.idle_ctx);
  }
}

void Scheduler::yield() {
  const auto irq = Platform::irq_save();
  Cpu& cpu = this_cpu();
  Task* t = cpu.current;
  PLATYPOS_ASSERT(t != nullptr, "yield() outside a task");
  RunQueue* rq = lock_cpu_rq(cpu);
  if (rq->ready_.empty()) {
    rq->lock_.unlock();
    Platform::irq_restore(irq);
    exit_if_killed();
    return;
  }
  t->state_ = TaskState::ready;
  rq->ready_.push_back(*t);
  reschedule_locked(cpu, t, rq);
  finish_switch();
  Platform::irq_restore(irq);
  exit_if_killed();
}

void Scheduler::block() {
  const auto irq = Platform::irq_save();
  Cpu& cpu = this_cpu();
  Task* t = cpu.current;
  PLATYPOS_ASSERT(t != nullptr, "block() outside a task");
  if (fault::inject(fault::Point::spurious_wakeup)) {  // callers re-check their condition: they must anyway
    Platform::irq_restore(irq);
    return;
  }
  RunQueue* rq = lock_cpu_rq(cpu);
  if (t->wake_pending_) {
    t->wake_pending_ = false;
    rq->lock_.unlock();
    Platform::irq_restore(irq);
    return;
  }
  t->state_ = TaskState::blocked;
  PLATYPOS_TRACE(sched_block, t->id_);
  reschedule_locked(cpu, t, rq);
  finish_switch();
  Platform::irq_restore(irq);
}

void Scheduler::wake(Task* t) {
  const auto irq = Platform::irq_save();
  RunQueue* rq = t->rq_;
  rq->lock_.lock();
  wake_locked(rq, t);
  rq->lock_.unlock();
  Platform::irq_restore(irq);
}

void Scheduler::wake_locked(RunQueue* rq, Task* t) {
  switch (t->state_) {
    case TaskState::blocked:
      t->state_ = TaskState::ready;
      ++t->stats_.wakeups;
      PLATYPOS_TRACE(sched_wake, t->id_, trace::flow_id(t->id_, t->stats_.wakeups));
      rq->ready_.push_back(*t);
      kick_idle_cpu(rq);
      break;
    case TaskState::ready:
    case TaskState::running:
      t->wake_pending_ = true;
      // A killed task running on another CPU ends at its next kernel entry. A program that only polls its ring
      // makes none: wake that CPU, which on bare metal interrupts ring-3 code (hosted, the program's hooks are
      // kernel entries, and waking a busy CPU does nothing).
      if (t->killed_.load(std::memory_order_relaxed) && t->cpu_ != Platform::current_cpu()) Platform::cpu_wake(t->cpu_);
      break;
    case TaskState::exited: break;
  }
}

void Scheduler::kick_idle_cpu(RunQueue* rq) {
  const CpuId c = rq->idle_.first();
  if (c == kMaxCpus) return;
  rq->idle_.clear(c);
  Platform::cpu_wake(c);
}

[[noreturn]] void Scheduler::exit_task() {
  (void)Platform::irq_save();
  Cpu& cpu = this_cpu();
  Task* t = cpu.current;
  PLATYPOS_ASSERT(t != nullptr, "exit_task() outside a task");
  PLATYPOS_TRACE(task_exit, t->id_);
  remove_sleeper(t);
  RunQueue* rq = lock_cpu_rq(cpu);
  t->state_ = TaskState::exited;
  cpu.dead = t;
  reschedule_locked(cpu, t, rq);
  PLATYPOS_PANIC("exited task {} resumed", t->name_);
}

void Scheduler::exit_if_killed() {
  Task* t = current();
  if (t != nullptr && t->killed_.load(std::memory_order_relaxed)) exit_task();
}

ProcessId Scheduler::reap(Task* t, i64* code) {
  IrqSpinGuard g(lock_);
  Process* p = t->process_;
  (p != nullptr ? p->tasks_ : kernel_tasks_).remove(*t);
  free_stack(p, t->stack_, t->stack_order_);
  t->~Task();
  if (p != nullptr) {
    p->account_->free_bytes(t, sizeof(Task));
  } else {
    kernel_heap().free(t, sizeof(Task), alignof(Task)).expect("reaping a task");
  }
  live_tasks_.fetch_sub(1, std::memory_order_relaxed);
  if (p != nullptr && --p->live_tasks_ == 0 &&
      (p->state_ == Process::State::running || p->state_ == Process::State::exiting)) {
    // The last task ended: the process is done (returning from main, in effect).
    p->state_ = Process::State::exiting;
    finish_process(p);
    *code = p->exit_code_;
    return p->id_;
  }
  return kNoProcess;
}

void Scheduler::sleep_until(u64 deadline_ns) {
  Task* t = current();
  PLATYPOS_ASSERT(t != nullptr, "sleep_until() outside a task");
  // Woken early by someone else: go back to sleep until the deadline.
  while (!t->killed_.load(std::memory_order_relaxed) && Platform::now_ns() < deadline_ns)
    (void)block_until(deadline_ns);
  exit_if_killed();
}

bool Scheduler::block_until(u64 deadline_ns) {
  Task* t = current();
  PLATYPOS_ASSERT(t != nullptr, "block_until() outside a task");
  if (deadline_ns == 0) {
    block();
    return false;
  }
  if (Platform::now_ns() >= deadline_ns) return true;
  {
    const auto irq = Platform::irq_save();
    Cpu& cpu = this_cpu();
    {
      SpinGuard g(cpu.sleep_lock);
      t->wake_at_ns_ = deadline_ns;
      t->sleeping_ = true;
      t->sleep_cpu_ = cpu.id;
      Task* pos = cpu.sleepers.front();
      while (pos != nullptr && pos->wake_at_ns_ <= deadline_ns) pos = cpu.sleepers.next(*pos);
      if (pos != nullptr) {
        cpu.sleepers.insert_before(*pos, *t);
      } else {
        cpu.sleepers.push_back(*t);
      }
    }
    rearm_timer(cpu);
    Platform::irq_restore(irq);
  }
  // A timer that fires before we block finds us running: its wake-up is pending and block() returns at once.
  block();
  remove_sleeper(t);  // woken by someone else before the deadline: leave the list
  return Platform::now_ns() >= deadline_ns;
}

void Scheduler::remove_sleeper(Task* t) {
  const auto irq = Platform::irq_save();
  Cpu& c = cpus_[t->sleep_cpu_];
  {
    SpinGuard g(c.sleep_lock);
    if (t->sleeping_) {
      c.sleepers.remove(*t);
      t->sleeping_ = false;
    }
  }
  Platform::irq_restore(irq);
}

void Scheduler::rearm_timer(Cpu& cpu) {
  u64 deadline = 0;
  {
    SpinGuard g(cpu.sleep_lock);
    if (Task* first = cpu.sleepers.front()) deadline = first->wake_at_ns_;
  }
  if (config_.policy == Policy::timeshare && cpu.current != nullptr) {
    const u64 slice_end = cpu.current->slice_start_ns_ + config_.quantum_ns;
    if (deadline == 0 || slice_end < deadline) deadline = slice_end;
  }
  if (deadline == cpu.armed_deadline) return;
  if (deadline == 0) {
    Platform::timer_cancel();
  } else {
    Platform::timer_arm(deadline);
  }
  cpu.armed_deadline = deadline;
}

void Scheduler::on_timer(u64 now) {
  if (g_scheduler != nullptr) g_scheduler->handle_timer(now);
}

void Scheduler::handle_timer(u64 now) {
  Cpu& cpu = this_cpu();
  ++cpu.stats.timer_irqs;
  PLATYPOS_TRACE(sched_timer, cpu.armed_deadline != 0 ? static_cast<i64>(now - cpu.armed_deadline) : 0);
  cpu.armed_deadline = 0;
  // Wake the sleepers whose time has come, a few at a time (no waking with the sleeper lock held).
  for (;;) {
    Task* batch[16];
    usize n = 0;
    {
      SpinGuard g(cpu.sleep_lock);
      while (n < 16) {
        Task* first = cpu.sleepers.front();
        if (first == nullptr || first->wake_at_ns_ > now) break;
        cpu.sleepers.remove(*first);
        first->sleeping_ = false;
        batch[n++] = first;
      }
    }
    for (usize i = 0; i < n; ++i) wake(batch[i]);
    if (n < 16) break;
  }
  Task* t = cpu.current;
  if (config_.policy == Policy::timeshare && t != nullptr && now - t->slice_start_ns_ >= config_.quantum_ns) {
    RunQueue* rq = lock_cpu_rq(cpu);
    if (!rq->ready_.empty()) {
      // Preempt: back of the queue, and the next task gets this CPU. We resume here later (perhaps on another
      // CPU) and return into whatever the timer interrupted.
      t->state_ = TaskState::ready;
      PLATYPOS_TRACE(sched_preempt, t->id_, now - t->slice_start_ns_);
      ++t->stats_.preemptions;
      ++cpu.stats.preemptions;
      rq->ready_.push_back(*t);
      reschedule_locked(cpu, t, rq);
      finish_switch();
      return;
    }
    t->slice_start_ns_ = now;  // alone: a fresh slice
    rq->lock_.unlock();
  }
  rearm_timer(cpu);
}

void Scheduler::run_cpu() {
  Cpu& cpu = this_cpu();
  Platform::set_timer_handler(&Scheduler::on_timer);
  for (;;) {
    const auto irq = Platform::irq_save();
    RunQueue* rq = lock_cpu_rq(cpu);
    if (Task* next = rq->ready_.pop_front()) {
      cpu.held_lock = &rq->lock_;
      switch_to(cpu, cpu.idle_ctx, next);
      finish_switch();
      Platform::irq_restore(irq);
      continue;
    }
    if (stopping()) {
      rq->lock_.unlock();
      Platform::irq_restore(irq);
      return;
    }
    rq->idle_.set(cpu.id);
    rq->lock_.unlock();
    Platform::irq_restore(irq);
    const u64 t0 = Platform::now_ns();
    Platform::cpu_idle();
    cpu.stats.idle_ns += Platform::now_ns() - t0;
    {
      const auto irq2 = Platform::irq_save();
      RunQueue* now_rq = lock_cpu_rq(cpu);
      now_rq->idle_.clear(cpu.id);
      now_rq->lock_.unlock();
      Platform::irq_restore(irq2);
    }
  }
}

void Scheduler::stop() {
  stopping_.store(true, std::memory_order_release);
  for (CpuId c = 0; c < config_.cpus; ++c) Platform::cpu_wake(c);
}

}  // namespace platypos::sched
