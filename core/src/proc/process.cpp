#include <platypos/base/log.hpp>
#include <platypos/cap/channel.hpp>
#include <platypos/proc/process.hpp>

namespace platypos::proc {
// The installed table. Not in an anonymous namespace: debuggers find it by name (tools/gdb/platypos.py).
constinit ProcessTable* g_process_table = nullptr;

namespace {

void copy_name(char* dst, usize cap, const char* src) {
  usize i = 0;
  for (; src != nullptr && src[i] != '\0' && i + 1 < cap; ++i) dst[i] = src[i];
  dst[i] = '\0';
}

}  // namespace

ProcessTable* ProcessTable::instance() { return g_process_table; }

void Process::pin() { table_->pin(*this); }
bool Process::try_pin() { return table_->try_pin(*this); }
void Process::unpin() { table_->unpin(*this); }
void Process::watch(ExitWatcher& w) { table_->watch(*this, w); }
void Process::unwatch(ExitWatcher& w) { table_->unwatch(*this, w); }

ProcessTable::ProcessTable(sched::Scheduler& s) : sched_(s) {
  sched_.set_exit_hook(&ProcessTable::on_exit, this);
  g_process_table = this;
}

ProcessTable::~ProcessTable() {
  sched_.set_exit_hook(nullptr, nullptr);
  if (g_process_table == this) g_process_table = nullptr;
}

Result<Process*> ProcessTable::spawn(const SpawnSpec& spec, sched::AdmissionShortfall* why) {
  if (spec.memory_bytes == 0 || spec.handles == 0 || spec.handles > cap::HandleTable::kMaxCapacity) {
    return Error::invalid_argument;
  }
  // Under the table's lock throughout: the scheduler makes the process visible at once (a kill may come for it
  // before this returns), and the exit hook waits on this lock until the process is set up here.
  IrqSpinGuard g(lock_);
  const ProcessId pid = PLATYPOS_TRY(
      sched_.spawn({.name = spec.name, .cores = spec.cores, .memory_bytes = spec.memory_bytes, .held = true}, why));
  // The slot is ours: the scheduler does not reuse it before release_slot(), which only the teardown calls.
  Process& p = processes_[sched::process_slot(pid)];
  PLATYPOS_ASSERT(p.state() == Process::State::free, "process slot {} reused before its teardown",
                  sched::process_slot(pid));
  sched::Process* sp = sched_.find_process(pid);
  MemoryAccount* account = sp->memory();
  auto undo = [&](Error e) -> Error {
    // (Killed meanwhile: the scheduler finished it already, and the exit hook will find nothing of ours.)
    if (sched_.cancel_spawn(pid).is_error()) sched_.release_slot(pid).expect("undo spawn");
    return e;
  };
  if (auto r = p.handles_.init(*account, spec.handles); r.is_error()) {
    log_warn("spawn {}: refused, {} handles do not fit in {} KiB", spec.name, spec.handles, spec.memory_bytes / KiB);
    return undo(Error::no_resources);
  }
  Result<cap::Ref<cap::ProcessObject>> object = cap::ProcessObject::create(pid, spec.payer);
  if (object.is_error()) {
    p.handles_.close_all();
    return undo(object.error());
  }
  account->retain();
  p.table_ = this;
  p.id_ = pid;
  copy_name(p.name_, Process::kNameLen, spec.name);
  p.account_ = account;
  p.object_ = static_cast<cap::Ref<cap::ProcessObject>&&>(*object);
  p.pins_ = 1;  // its life, until its tasks are gone
  p.exit_code_ = 0;
  p.queued_ = false;
  p.state_.store(static_cast<u8>(Process::State::live), std::memory_order_release);
  return &p;
}

Process* ProcessTable::find(ProcessId pid) {
  if (pid == kNoProcess) return nullptr;
  IrqSpinGuard g(lock_);
  Process& p = processes_[sched::process_slot(pid)];
  if (p.id_ != pid || p.state() == Process::State::free) return nullptr;
  return &p;
}

u32 ProcessTable::count() const {
  IrqSpinGuard g(lock_);
  u32 n = 0;
  for (const Process& p : processes_) n += p.state() != Process::State::free ? 1 : 0;
  return n;
}

u64 ProcessTable::teardowns() const {
  IrqSpinGuard g(lock_);
  return teardowns_;
}

// --- Pins and watchers ------------------------------------------------------------------------------------------

void ProcessTable::pin(Process& p) {
  IrqSpinGuard g(lock_);
  PLATYPOS_ASSERT(p.state() != Process::State::free && p.state() != Process::State::tearing_down,
                  "pinning process {:#x} after its teardown began", p.id_);
  ++p.pins_;
}

bool ProcessTable::try_pin(Process& p) {
  IrqSpinGuard g(lock_);
  if (p.state() != Process::State::live) return false;
  ++p.pins_;
  return true;
}

void ProcessTable::unpin_locked_then(Process& p, bool* step3_due) {
  PLATYPOS_ASSERT(p.pins_ > 0, "process {:#x} unpinned more often than pinned", p.id_);
  *step3_due = false;
  if (--p.pins_ != 0) return;
  // The last pin: only a process that stopped being live has given up its own.
  p.state_.store(static_cast<u8>(Process::State::tearing_down), std::memory_order_release);
  *step3_due = !queue_locked(p);
}

void ProcessTable::unpin(Process& p) {
  bool now = false;
  {
    IrqSpinGuard g(lock_);
    unpin_locked_then(p, &now);
  }
  if (now) tear_down(p, false);
}

void ProcessTable::watch(Process& p, ExitWatcher& w) {
  {
    IrqSpinGuard g(lock_);
    w.fired = false;
    if (p.state() == Process::State::live) {
      p.watchers_.push_back(w);
      return;
    }
    w.fired = true;
  }
  w.callback(&w);
}

void ProcessTable::unwatch(Process& p, ExitWatcher& w) {
  IrqSpinGuard g(lock_);
  if (!w.fired && w.is_linked()) p.watchers_.remove(w);
}

// --- Teardown ---------------------------------------------------------------------------------------------------

void ProcessTable::on_exit(void* self, ProcessId pid, i64 code) {
  auto* t = static_cast<ProcessTable*>(self);
  Process* p = nullptr;
  bool now = false;
  {
    IrqSpinGuard g(t->lock_);
    Process& q = t->processes_[sched::process_slot(pid)];
    if (q.id_ != pid || q.state() != Process::State::live) return;  // not one of ours (a scheduler-only process)
    q.exit_code_ = code;
    q.state_.store(static_cast<u8>(Process::State::dying), std::memory_order_release);
    p = &q;
    now = !t->queue_locked(q);
  }
  if (now) t->stop_being_live(*p);
}

bool ProcessTable::queue_locked(Process& p) {
  if (reaper_ == nullptr || reaper_exited_) return false;
  if (!p.queued_) {
    p.queued_ = true;
    queue_.push_back(p);
  }
  sched_.wake(reaper_);
  return true;
}

void ProcessTable::stop_being_live(Process& p) {
  // Step 1: tell the watchers (outside the lock: a ring server's callback takes its own locks), then give up the
  // process's own pin.
  for (;;) {
    ExitWatcher* w = nullptr;
    {
      IrqSpinGuard g(lock_);
      w = p.watchers_.pop_front();
      if (w != nullptr) w->fired = true;
    }
    if (w == nullptr) break;
    w->callback(w);
  }
  unpin(p);
}

void ProcessTable::tear_down(Process& p, bool on_reaper) {
  // Step 3. Nothing refers to the process any more but its slot: close its handles a batch at a time (the reaper
  // lets the other kernel tasks of its core run in between), collect the channel cycles they may have left, then
  // publish the exit and give everything back.
  while (!p.handles_.close_some(cap::HandleTable::kCloseBatch)) {
    if (on_reaper) sched_.yield();
  }
  cap::ChannelEndpoint::collect_cycles();
  const i64 code = p.exit_code_;
  cap::Ref<cap::ProcessObject> object;
  MemoryAccount* account = nullptr;
  ProcessId pid = kNoProcess;
  {
    IrqSpinGuard g(lock_);
    object = static_cast<cap::Ref<cap::ProcessObject>&&>(p.object_);
    account = p.account_;
    p.account_ = nullptr;
    pid = p.id_;
  }
  account->release();  // the memory goes back now, unless objects elsewhere still hold some of it
  log_info("exit {}: process {:#x} gone, handles closed, memory returned", p.name_, pid);
  {
    // The slot is free here and in the scheduler in one step: a spawn (which holds this lock while the scheduler
    // hands it a slot) never finds the scheduler's slot free and ours not yet (found by the hostile scenario in
    // threads mode).
    IrqSpinGuard g(lock_);
    sched_.release_slot(pid).expect("process slot");
    p.state_.store(static_cast<u8>(Process::State::free), std::memory_order_release);
    ++teardowns_;
  }
  // Last: whoever waits for the exit finds everything returned.
  object->mark_exited(code);
}

// --- The reaper -------------------------------------------------------------------------------------------------

Result<void> ProcessTable::start() {
  {
    IrqSpinGuard g(lock_);
    if (reaper_ != nullptr && !reaper_exited_) return ok();  // already running
  }
  sched::Task* t = PLATYPOS_TRY(sched_.create_task(kNoProcess, "reaper", &ProcessTable::reaper_main, this));
  IrqSpinGuard g(lock_);
  reaper_ = t;
  stopping_ = false;
  reaper_exited_ = false;
  return ok();
}

void ProcessTable::stop() {
  IrqSpinGuard g(lock_);
  stopping_ = true;
  if (reaper_ != nullptr && !reaper_exited_) sched_.wake(reaper_);
}

void ProcessTable::reaper_main(void* self) { static_cast<ProcessTable*>(self)->run_reaper(); }

void ProcessTable::run_reaper() {
  for (;;) {
    Process* p = nullptr;
    {
      IrqSpinGuard g(lock_);
      p = queue_.pop_front();
      if (p != nullptr) {
        p->queued_ = false;
      } else if (stopping_) {
        // The last act under the lock: from here on the steps run where they become due (queue_locked).
        reaper_exited_ = true;
        reaper_ = nullptr;
        return;
      }
    }
    if (p == nullptr) {
      sched_.block();  // a wake-up that came meanwhile makes it return at once
      continue;
    }
    if (p->state() == Process::State::dying) {
      stop_being_live(*p);
    } else if (p->state() == Process::State::tearing_down) {
      tear_down(*p, true);
    }
    sched_.yield();
  }
}

}  // namespace platypos::proc
