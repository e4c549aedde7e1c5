// Threads mode: hosted::Machine, and its CPUs' idle/wake and timers.

#include "cpu_state.hpp"

#include <platypos/base/assert.hpp>
#include <platypos/hosted/machine.hpp>

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>

namespace platypos::hosted {
namespace {
std::atomic<Machine*> g_machine{nullptr};
}

Machine::Machine(const MachineConfig& config) : config_(config), memory_(config.memory_bytes) {
  PLATYPOS_ASSERT(config.cpus >= 1 && config.cpus <= kMaxCpus, "machine with {} cpus (1..{})", config.cpus, kMaxCpus);
  PLATYPOS_ASSERT(g_sim == nullptr, "a hosted::Machine cannot run while a SimMachine exists");
  Machine* expected = nullptr;
  PLATYPOS_ASSERT(g_machine.compare_exchange_strong(expected, this), "only one hosted::Machine may exist at a time");
  // The CPUs exist from the start, so wake-ups sent before run() (a spawn during set-up) are kept pending.
  cpus_ = std::make_unique<CpuState[]>(config.cpus);
  for (u32 i = 0; i < config.cpus; ++i) cpus_[i].id = i;
  register_cpus(cpus_.get(), config.cpus);
}

Machine::~Machine() {
  register_cpus(nullptr, 0);
  g_machine.store(nullptr);
}

Machine* Machine::current() { return g_machine.load(std::memory_order_acquire); }

void Machine::run(const std::function<void(CpuId)>& fn) {
  const u32 n = config_.cpus;
  CpuState* cpus = cpus_.get();
  {
    std::lock_guard g(timer_mu_);
    timer_stop_ = false;
  }
  std::thread timer([this] { timer_thread_main(); });
  const unsigned host_cores = std::thread::hardware_concurrency();
  set_spin_yields(config_.spin == MachineConfig::Spin::yield ||
                  (config_.spin == MachineConfig::Spin::automatic && n > host_cores));
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (u32 i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      if (config_.pin_threads && i < host_cores) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(i, &set);
        pthread_setaffinity_np(pthread_self(), sizeof set, &set);
      }
      attach_cpu(&cpus[i]);
      fn(i);
      attach_cpu(nullptr);
    });
  }
  for (auto& t : threads) t.join();
  {
    std::lock_guard g(timer_mu_);
    timer_stop_ = true;
  }
  timer_cv_.notify_all();
  timer.join();
  console_flush_all();
}

void Machine::timer_changed() {
  {
    std::lock_guard g(timer_mu_);
    ++timer_epoch_;
  }
  timer_cv_.notify_all();
}

// Raises the timer flag of each CPU whose deadline has passed (once per deadline), then sleeps until the next one
// or until a timer changes. A CPU in cpu_idle() handles its own deadline; the flag is for busy CPUs, which take the
// interrupt at their next scheduling point.
void Machine::timer_thread_main() {
  std::unique_lock lk(timer_mu_);
  while (!timer_stop_) {
    const u64 now = HostedPlatform::now_ns();
    u64 next = 0;
    for (u32 i = 0; i < registered_cpu_count(); ++i) {
      CpuState& c = *registered_cpu(i);
      std::lock_guard g(c.mu);
      if (c.timer_deadline == 0 || c.signaled_deadline == c.timer_deadline) continue;
      if (c.timer_deadline <= now) {
        c.signaled_deadline = c.timer_deadline;
        if (c.sched_flags != nullptr) __atomic_fetch_or(c.sched_flags, kSchedFlagTimer, __ATOMIC_RELEASE);
        c.cv.notify_one();
      } else if (next == 0 || c.timer_deadline < next) {
        next = c.timer_deadline;
      }
    }
    const u64 epoch = timer_epoch_;
    auto changed = [&] { return timer_stop_ || timer_epoch_ != epoch; };
    if (next == 0) {
      timer_cv_.wait(lk, changed);
    } else {
      wait_until_ns(timer_cv_, lk, next, changed);
    }
  }
}

}  // namespace platypos::hosted
