#include "cpu_state.hpp"

#include <platypos/base/assert.hpp>
#include <platypos/hosted/machine.hpp>
#include <platypos/hosted/sim_machine.hpp>
#include <platypos/trace/trace.hpp>

#include <sys/mman.h>

namespace platypos::hosted {

SimMachine* g_sim = nullptr;
bool g_virtual_ticks = false;

u64 virtual_ticks() { return g_sim != nullptr ? g_sim->now() : 0; }

struct SimMachine::Cpu {
  CpuId id = 0;
  Context ctx;
  void* stack = nullptr;
  u64 clock = 0;
  State state = State::runnable;
  bool irq_enabled = true;
  bool wake_pending = false;
  u64 deadline = 0;
  u32 futile_spins = 0;  // consecutive spins with nothing else able to happen
  SimMachine* sim = nullptr;
};

namespace {
void sim_hook(SchedPoint p) { g_sim->sched_point(p); }

constexpr u64 kNoEvent = ~u64{0};
constexpr u32 kMaxFutileSpins = 100'000;
}  // namespace

SimMachine::SimMachine(const SimConfig& config) : config_(config), memory_(config.memory_bytes), rng_(config.seed) {
  PLATYPOS_ASSERT(config.cpus >= 1 && config.cpus <= kMaxCpus, "simulation with {} cpus (1..{})", config.cpus,
                  kMaxCpus);
  PLATYPOS_ASSERT(g_sim == nullptr && Machine::current() == nullptr, "one hosted machine at a time");
  for (CpuId i = 0; i < config.cpus; ++i) {
    auto c = std::make_unique<Cpu>();
    c->id = i;
    c->sim = this;
    void* st = mmap(nullptr, config.stack_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    PLATYPOS_ASSERT(st != MAP_FAILED, "cannot map a simulated cpu stack");
    c->stack = st;
    cpus_.push_back(std::move(c));
  }
  g_sim = this;
  g_virtual_ticks = true;
}

SimMachine::~SimMachine() {
  for (auto& c : cpus_) munmap(c->stack, config_.stack_bytes);
  g_virtual_ticks = false;
  g_sim = nullptr;
}

SimMachine* SimMachine::current() { return g_sim; }

u64 SimMachine::now() const {
  if (running_) return cpus_[current_]->clock;
  u64 t = 0;
  for (const auto& c : cpus_) t = c->clock > t ? c->clock : t;
  return t;
}

void SimMachine::mix(u64 v) { digest_ = (digest_ ^ v) * 0x100000001b3ull + 0x9e3779b97f4a7c15ull; }

SimReport SimMachine::run(const std::function<void(CpuId)>& fn) {
  PLATYPOS_ASSERT(!running_, "SimMachine::run is not reentrant");
  fn_ = &fn;
  events_ = switches_ = digest_ = choices_ = 0;
  at_spin_ = false;
  stuck_ = false;
  stuck_reason_.clear();
  for (auto& c : cpus_) {
    c->clock = 0;
    c->state = State::runnable;
    c->irq_enabled = true;
    c->wake_pending = false;
    c->deadline = 0;
    HostedPlatform::context_init(c->ctx, c->stack, config_.stack_bytes, &cpu_entry, c.get());
  }
  const CpuId saved_cpu = t_cpu_id;
  const bool saved_irq = t_irq_enabled;
  running_ = true;
  install_sched_hook(&sim_hook);
  current_ = 0;
  t_cpu_id = 0;
  t_irq_enabled = true;
  HostedPlatform::context_switch(driver_, cpus_[0]->ctx);
  // Back on the driver: the run is over (or stuck).
  install_sched_hook(nullptr);
  running_ = false;
  t_cpu_id = saved_cpu;
  t_irq_enabled = saved_irq;
  console_flush_all();
  SimReport r;
  r.events = events_;
  r.cpu_switches = switches_;
  r.end_time_ns = now();
  r.digest = digest_;
  r.choices = choices_;
  r.stuck = stuck_;
  r.stuck_reason = stuck_reason_;
  fn_ = nullptr;
  return r;
}

void SimMachine::cpu_entry(void* arg) {
  Cpu& c = *static_cast<Cpu*>(arg);
  SimMachine& sim = *c.sim;
  (*sim.fn_)(c.id);
  c.state = State::finished;
  sim.reschedule();
  PLATYPOS_PANIC("a finished simulated cpu was resumed");
}

// The earliest moment after which something other than `c` could happen: another runnable CPU's clock, or an idle
// CPU's timer deadline; kNoEvent if nothing can (then only c's own timer could change anything). A runnable CPU
// whose clock is still 0 counts (a CPU that spins at the very start of a run must let it go first).
u64 SimMachine::next_event_after(const Cpu& c) const {
  u64 t = kNoEvent;
  for (const auto& o : cpus_) {
    if (o.get() == &c) continue;
    u64 at = 0;
    if (o->state == State::runnable) {
      at = o->clock;
    } else if (o->state == State::idle && o->deadline != 0) {
      at = o->deadline;
    } else {
      continue;
    }
    if (at < t) t = at;
  }
  return t;
}

void SimMachine::sched_point(SchedPoint p) {
  Cpu& c = *cpus_[current_];
  ++events_;
  if (config_.max_events != 0 && events_ > config_.max_events) {
    stuck_ = true;
    stuck_reason_ = "more than " + std::to_string(config_.max_events) + " scheduling points (a livelock?)";
    end_run();
  }
  const bool spinning = p == SchedPoint::spin_wait || p == SchedPoint::ring_poll;
  c.clock += spinning ? config_.relax_cost_ns : config_.point_cost_ns;
  if (spinning) {
    // Spinning only ends when something else happens: jump to that moment (or to our own timer), but not further
    // than the spinner could go without looking at the clock itself (config_.max_spin_skip_ns).
    u64 target = next_event_after(c);
    if (t_irq_enabled && c.deadline != 0 && c.deadline < target) target = c.deadline;
    if (target != kNoEvent && config_.max_spin_skip_ns != 0 && target > c.clock + config_.max_spin_skip_ns) {
      target = c.clock + config_.max_spin_skip_ns;
    }
    if (target == kNoEvent) {
      // Nothing else can happen. A bounded poll (a ring server's spin before it blocks) gives up by itself soon; a
      // spin that goes on and on waits for something that will never come.
      if (++c.futile_spins >= kMaxFutileSpins) {
        stuck_ = true;
        stuck_reason_ = "cpu " + std::to_string(c.id) + " spins while nothing else can run";
        end_run();
      }
    } else {
      c.futile_spins = 0;
      if (target > c.clock) c.clock = target;
    }
  }
  deliver_timer_if_due(c);
  at_spin_ = spinning;
  reschedule();
  at_spin_ = false;
}

void SimMachine::deliver_timer_if_due(Cpu& c) {
  if (!t_irq_enabled || c.deadline == 0 || c.clock < c.deadline || timer_handler_ == nullptr) return;
  c.deadline = 0;
  t_irq_enabled = false;  // interrupt context
  PLATYPOS_TRACE(irq_enter, kTimerVector, 0);
  timer_handler_(c.clock);
  PLATYPOS_TRACE(irq_exit, kTimerVector);
  // We may have been switched away inside the handler and resumed later: the switcher restored our flag to
  // "disabled" as saved; interrupts come back on as the interrupted code had them.
  t_irq_enabled = true;
}

void SimMachine::delay(u64 ns) {
  while (ns > 0) {
    Cpu& c = *cpus_[current_];
    u64 step = ns;
    if (t_irq_enabled && c.deadline > c.clock && c.deadline - c.clock < step) step = c.deadline - c.clock;
    c.clock += step;
    ns -= step;
    ++events_;
    deliver_timer_if_due(*cpus_[current_]);
    reschedule();
  }
}

void SimMachine::idle() {
  Cpu& c = *cpus_[current_];
  ++events_;
  c.clock += config_.point_cost_ns;
  if (c.wake_pending) {
    c.wake_pending = false;
    return;
  }
  if (t_irq_enabled && c.deadline != 0 && c.clock >= c.deadline) {
    deliver_timer_if_due(c);
    return;
  }
  c.state = State::idle;
  reschedule();
  // Woken, or promoted at our deadline.
  Cpu& me = *cpus_[current_];
  me.wake_pending = false;
  deliver_timer_if_due(me);
}

void SimMachine::wake(CpuId id) {
  PLATYPOS_ASSERT(id < cpus_.size(), "cpu_wake: no cpu {} (simulation has {})", id, cpus_.size());
  Cpu& t = *cpus_[id];
  const Cpu& self = *cpus_[current_];
  if (t.state == State::idle) {
    t.state = State::runnable;
    if (t.clock < self.clock) t.clock = self.clock;
  } else if (t.state == State::runnable) {
    t.wake_pending = true;
  }
}

void SimMachine::timer_arm(u64 deadline) { cpus_[current_]->deadline = deadline == 0 ? 1 : deadline; }
void SimMachine::timer_cancel() { cpus_[current_]->deadline = 0; }

SimMachine::Cpu* SimMachine::pick() {
  constexpr u64 kNever = ~u64{0};
  u64 min = kNever;
  u64 earliest_deadline = kNever;
  for (const auto& c : cpus_) {
    if (c->state == State::runnable && c->clock < min) min = c->clock;
    if (c->state == State::idle && c->deadline != 0 && c->deadline < earliest_deadline) {
      earliest_deadline = c->deadline;
    }
  }
  // Idle CPUs whose timer fires no later than the earliest runnable clock wake up first (when nothing is runnable,
  // time jumps to the earliest deadline).
  const u64 limit = min != kNever ? min : earliest_deadline;
  if (earliest_deadline != kNever && earliest_deadline <= limit) {
    for (auto& c : cpus_) {
      if (c->state != State::idle || c->deadline == 0 || c->deadline > limit) continue;
      c->state = State::runnable;
      if (c->clock < c->deadline) c->clock = c->deadline;
      if (c->clock < min) min = c->clock;
    }
  }
  if (min == kNever) return nullptr;
  if (config_.strategy != nullptr) return pick_by_strategy();
  // Candidates: runnable within the window of the earliest clock. The seeded generator picks one.
  Cpu* candidates[kMaxCpus];
  u32 n = 0;
  for (auto& c : cpus_)
    if (c->state == State::runnable && c->clock <= min + config_.window_ns) candidates[n++] = c.get();
  PLATYPOS_ASSERT(n > 0, "simulator: no candidate at time {}", min);
  return candidates[n == 1 ? 0 : rng_.next() % n];
}

SimMachine::Cpu* SimMachine::pick_by_strategy() {
  CpuId ids[kMaxCpus];
  u32 n = 0;
  const Cpu& cur = *cpus_[current_];
  // Consumed here: the CPU we switch to may resume inside idle() or delay(), which never clear it.
  const bool skip_spinner = at_spin_ && cur.state == State::runnable;
  at_spin_ = false;
  bool current_eligible = false;
  for (auto& c : cpus_) {
    if (c->state != State::runnable) continue;
    if (skip_spinner && c.get() == &cur) continue;
    current_eligible = current_eligible || c.get() == &cur;
    ids[n++] = c->id;
  }
  if (n == 0) return cpus_[current_].get();  // only the spinner can run: it spins again
  if (n == 1) return cpus_[ids[0]].get();
  const SimChoice choice{ids, n, current_, current_eligible, skip_spinner, choices_};
  const u32 i = config_.strategy->choose(choice);
  PLATYPOS_ASSERT(i < n, "simulator: strategy chose candidate {} of {}", i, n);
  ++choices_;
  return cpus_[ids[i]].get();
}

void SimMachine::reschedule() {
  Cpu& cur = *cpus_[current_];
  Cpu* next = pick();
  if (next == nullptr) {
    bool all_finished = true;
    for (const auto& c : cpus_) all_finished = all_finished && c->state == State::finished;
    if (!all_finished) {
      stuck_ = true;
      stuck_reason_ = "every cpu is idle and no timer is armed";
    }
    end_run();
  }
  if (next == &cur) return;
  switch_to(*next);
}

void SimMachine::switch_to(Cpu& next) {
  Cpu& cur = *cpus_[current_];
  cur.irq_enabled = t_irq_enabled;
  ++switches_;
  mix((static_cast<u64>(next.id) << 48) ^ next.clock);
  current_ = next.id;
  t_cpu_id = next.id;
  t_irq_enabled = next.irq_enabled;
  HostedPlatform::context_switch(cur.ctx, next.ctx);
  // Resumed: whoever switched to us set t_cpu_id and t_irq_enabled to ours.
}

void SimMachine::end_run() {
  Cpu& cur = *cpus_[current_];
  cur.irq_enabled = t_irq_enabled;
  HostedPlatform::context_switch(cur.ctx, driver_);
  PLATYPOS_PANIC("a simulated cpu was resumed after its run ended");
}

}  // namespace platypos::hosted
