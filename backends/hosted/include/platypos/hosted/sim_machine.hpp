#pragma once
// hosted::SimMachine: the deterministic simulator. Every simulated CPU is a fiber on the calling OS thread; at each
// scheduling point (an Atomic<T> access, a lock attempt, a spin, a ring poll, going idle, re-enabling interrupts)
// the running CPU's fiber calls into the simulator, which charges it some virtual time and decides which CPU runs
// next. Nothing depends on the wall clock or on addresses: the same seed and binary give the same run, byte for
// byte, and the same schedule digest.
//
// Time is virtual and per CPU, kept causal in the manner of a discrete-event simulation: the CPU that runs next is
// always one whose clock is within `window_ns` of the earliest runnable clock (chosen among them by the seeded
// generator). Platform::delay_ns(d) advances the running CPU's clock by d, so CPU work is modelled exactly; a CPU
// that spins (cpu_relax) jumps straight to the next moment anything else can happen instead of burning events.
// Idle CPUs sleep until woken or until their timer deadline; when every CPU is idle, time jumps to the earliest
// deadline. Timer interrupts are delivered at scheduling points once the CPU's clock passes its deadline.
//
// A run ends when every CPU's function has returned; it is reported stuck if every CPU is idle with no timer armed
// (nothing can ever happen again) or if a CPU spins with nothing else able to run.

#include <platypos/base/random.hpp>
#include <platypos/hosted/phys_memory.hpp>
#include <platypos/platform.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace platypos::hosted {

// A decision an exploration strategy makes: which of `count` (at least 2) runnable CPUs runs next.
struct SimChoice {
  const CpuId* candidates = nullptr;  // ascending ids
  u32 count = 0;
  CpuId current = 0;              // the CPU that reached the scheduling point (or went idle, or finished)
  bool current_eligible = false;  // current is a candidate: choosing another CPU preempts it
  bool current_spinning = false;  // current reached a spin point (and is left out of the candidates)
  u64 step = 0;                   // choices made before this one in the run
};

// Decides the schedule instead of the seeded generator (schedule exploration, tests/loom). With a strategy the
// time window is ignored: every runnable CPU is a candidate, so what runs depends only on the strategy's choices,
// never on virtual time. A CPU at a spin point (cpu_relax, ring poll) is not a candidate when another CPU is: a spin
// waits for someone else, so running the spinner again only repeats the same step. Not used by default: without a
// strategy the simulator picks exactly as it always has (same seed, same digest).
class SimStrategy {
 public:
  virtual ~SimStrategy() = default;
  // Returns an index into c.candidates.
  virtual u32 choose(const SimChoice& c) = 0;
};

struct SimConfig {
  u32 cpus = 4;
  u64 seed = 1;
  u64 memory_bytes = 0;
  u64 window_ns = 0;                // CPUs within this of the earliest clock are equally eligible to run next
  u64 point_cost_ns = 2;            // virtual time one scheduling point costs (an atomic access, a lock attempt)
  u64 relax_cost_ns = 20;           // cpu_relax(): a pause instruction
  // A spinning CPU skips ahead to the next thing another CPU does, but by at most this much at a time: the spinner
  // may be watching the clock too (a ring server's poll window, the deadlines of the operations it serves), so it
  // must look again at least this often. 0: no limit (a spin jumps straight to the next event).
  u64 max_spin_skip_ns = 1'000;
  u64 stack_bytes = 256 * 1024;     // each simulated CPU's boot stack
  SimStrategy* strategy = nullptr;  // null: the seeded generator picks among the CPUs within the window
  u64 max_events = 0;               // a run that takes more scheduling points is stuck (a livelock); 0: no limit
};

struct SimReport {
  u64 events = 0;        // scheduling points taken
  u64 cpu_switches = 0;  // times the simulator switched to another CPU
  u64 end_time_ns = 0;   // the latest CPU clock at the end
  u64 digest = 0;        // hash of every scheduling decision: equal digests, equal schedules
  u64 choices = 0;       // decisions the strategy made (0 without one)
  bool stuck = false;
  std::string stuck_reason;
};

class SimMachine {
 public:
  explicit SimMachine(const SimConfig& config);
  ~SimMachine();
  SimMachine(const SimMachine&) = delete;
  SimMachine& operator=(const SimMachine&) = delete;

  // Runs fn(cpu) on every simulated CPU (CPU 0 first) until all have returned, or the run is stuck.
  SimReport run(const std::function<void(CpuId)>& fn);

  const SimConfig& config() const { return config_; }
  const PhysicalMemory& memory() const { return memory_; }
  // The running CPU's virtual clock (the latest clock once the run is over).
  u64 now() const;
  // Events so far (while running) or in the last run.
  u64 events() const { return events_; }

  static SimMachine* current();

  // --- The Platform in sim mode (called by the hosted Platform while a simulation runs) ---
  void sched_point(SchedPoint p);
  void delay(u64 ns);
  void idle();
  void wake(CpuId cpu);
  void timer_arm(u64 deadline);
  void timer_cancel();
  void set_timer_handler(TimerHandler h) { timer_handler_ = h; }
  CpuId current_cpu() const { return current_; }

 private:
  struct Cpu;
  enum class State : u8 { runnable, idle, finished };

  static void cpu_entry(void* arg);
  // Chooses the next CPU and switches to it (or returns at once if it is the current one).
  void reschedule();
  Cpu* pick();
  Cpu* pick_by_strategy();
  void switch_to(Cpu& next);
  void end_run();
  void deliver_timer_if_due(Cpu& c);
  u64 next_event_after(const Cpu& c) const;
  void mix(u64 v);

  SimConfig config_;
  PhysicalMemory memory_;
  std::vector<std::unique_ptr<Cpu>> cpus_;
  const std::function<void(CpuId)>* fn_ = nullptr;
  Context driver_;
  CpuId current_ = 0;
  TimerHandler timer_handler_ = nullptr;
  Xoshiro256 rng_;
  u64 events_ = 0;
  u64 switches_ = 0;
  u64 digest_ = 0;
  u64 choices_ = 0;
  bool at_spin_ = false;  // the current CPU reached a spin point (only consulted with a strategy)
  bool stuck_ = false;
  std::string stuck_reason_;
  bool running_ = false;
};

}  // namespace platypos::hosted
