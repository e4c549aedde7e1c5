// HostedPlatform: the Platform API on Linux. Each function serves the running SimMachine when there is one (sim
// mode, single OS thread) and threads mode otherwise.

#include "cpu_state.hpp"

#include <platypos/base/assert.hpp>
#include <platypos/hosted/console.hpp>
#include <platypos/hosted/machine.hpp>
#include <platypos/hosted/sim_machine.hpp>
#include <platypos/trace/trace.hpp>

#include <dlfcn.h>
#include <execinfo.h>
#include <immintrin.h>
#include <link.h>
#include <sched.h>
#include <time.h>
#include <elf_symbols.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

namespace platypos::hosted {

__thread CpuId t_cpu_id = 0;
__thread bool t_irq_enabled = true;
__thread u32 t_sched_flags = 0;

namespace {
SchedHook g_sched_hook = nullptr;
thread_local CpuState t_fallback_cpu;
thread_local CpuState* t_cpu = nullptr;
std::atomic<TimerHandler> g_timer_handler{nullptr};

std::mutex g_cpus_mu;
CpuState* g_cpus = nullptr;
u32 g_cpu_count = 0;
}  // namespace

void install_sched_hook(SchedHook hook) {
  g_sched_hook = hook;
  if (hook != nullptr) {
    __atomic_fetch_or(&t_sched_flags, kSchedFlagHook, __ATOMIC_RELAXED);
  } else {
    __atomic_fetch_and(&t_sched_flags, ~kSchedFlagHook, __ATOMIC_RELAXED);
  }
}

void sched_point_slow(SchedPoint p) {
  if (g_sched_hook != nullptr) {
    g_sched_hook(p);
    return;
  }
  // Threads mode: a timer interrupt is pending. It stays pending while interrupts are off (irq_restore delivers it).
  if ((__atomic_load_n(&t_sched_flags, __ATOMIC_ACQUIRE) & kSchedFlagTimer) != 0 && t_irq_enabled) {
    __atomic_fetch_and(&t_sched_flags, ~kSchedFlagTimer, __ATOMIC_RELAXED);
    deliver_due_timer(this_cpu());
  }
  if ((__atomic_load_n(&t_sched_flags, __ATOMIC_ACQUIRE) & kSchedFlagDevice) != 0 && t_irq_enabled) {
    deliver_device_irq(this_cpu());
  }
}

namespace {
struct DeviceIrq {
  std::atomic<DeviceIrqHandler> handler{nullptr};
  std::atomic<void*> context{nullptr};
};
DeviceIrq g_device_irqs[kMaxCpus];
// The vector device interrupts report in traces.
constexpr u64 kDeviceVector = 0x30;
}  // namespace

void set_device_irq_handler(CpuId cpu, DeviceIrqHandler handler, void* context) {
  PLATYPOS_ASSERT(cpu < kMaxCpus, "device irq on cpu {}", cpu);
  g_device_irqs[cpu].context.store(context, std::memory_order_relaxed);
  g_device_irqs[cpu].handler.store(handler, std::memory_order_release);
}

void raise_device_irq(CpuId cpu) {
  CpuState* target = nullptr;
  std::lock_guard cpus(g_cpus_mu);  // the machine cannot go away meanwhile
  if (g_cpus == nullptr || cpu >= g_cpu_count) return;
  target = &g_cpus[cpu];
  {
    std::lock_guard g(target->mu);
    target->device_pending = true;
    if (target->sched_flags != nullptr) __atomic_fetch_or(target->sched_flags, kSchedFlagDevice, __ATOMIC_RELEASE);
  }
  target->cv.notify_one();
}

void deliver_device_irq(CpuState& c) {
  {
    std::lock_guard g(c.mu);
    if (!c.device_pending) return;
    c.device_pending = false;
  }
  __atomic_fetch_and(&t_sched_flags, ~kSchedFlagDevice, __ATOMIC_RELAXED);
  DeviceIrq& d = g_device_irqs[c.id];
  DeviceIrqHandler h = d.handler.load(std::memory_order_acquire);
  if (h == nullptr) return;
  const IrqState was = HostedPlatform::irq_save();
  PLATYPOS_TRACE(irq_enter, kDeviceVector, 0);
  h(d.context.load(std::memory_order_relaxed));
  PLATYPOS_TRACE(irq_exit, kDeviceVector);
  t_irq_enabled = was.was_enabled;
}

void fire_timer(u64 now) {
  TimerHandler h = g_timer_handler.load(std::memory_order_acquire);
  if (h == nullptr) return;
  const IrqState was = HostedPlatform::irq_save();  // handlers run in "interrupt context"
  PLATYPOS_TRACE(irq_enter, kTimerVector, 0);
  h(now);
  PLATYPOS_TRACE(irq_exit, kTimerVector);
  t_irq_enabled = was.was_enabled;
}

void deliver_due_timer(CpuState& c) {
  u64 now = 0;
  {
    std::lock_guard g(c.mu);
    if (c.timer_deadline == 0) return;
    now = HostedPlatform::now_ns();
    if (now < c.timer_deadline) return;
    c.timer_deadline = 0;
  }
  fire_timer(now);
}

CpuState& this_cpu() { return t_cpu != nullptr ? *t_cpu : t_fallback_cpu; }

void attach_cpu(CpuState* cpu) {
  t_cpu = cpu;
  t_cpu_id = cpu != nullptr ? cpu->id : 0;
  t_irq_enabled = true;
  if (cpu != nullptr) {
    std::lock_guard g(cpu->mu);
    cpu->sched_flags = &t_sched_flags;
  }
}

void register_cpus(CpuState* cpus, u32 count) {
  std::lock_guard g(g_cpus_mu);
  g_cpus = cpus;
  g_cpu_count = count;
}

CpuState* registered_cpu(CpuId id) { return id < g_cpu_count ? &g_cpus[id] : nullptr; }
u32 registered_cpu_count() { return g_cpu_count; }

void console_flush_all() {
  auto emit_rest = [](CpuState& c) {
    if (!c.console_line.empty()) {
      emit_console_line(c.console_line);
      c.console_line.clear();
    }
  };
  {
    std::lock_guard g(g_cpus_mu);
    for (u32 i = 0; i < g_cpu_count; ++i) emit_rest(g_cpus[i]);
  }
  emit_rest(this_cpu());
  console_logger().flush();
}

u32 HostedPlatform::cpu_count() {
  if (g_sim != nullptr) return g_sim->config().cpus;
  Machine* m = Machine::current();
  return m != nullptr ? m->cpu_count() : 1;
}

namespace {
std::atomic<bool> g_spin_yields{false};
}  // namespace

void set_spin_yields(bool yields) { g_spin_yields.store(yields, std::memory_order_relaxed); }

void HostedPlatform::cpu_relax() {
  sched_point(SchedPoint::spin_wait);
  if (g_sim == nullptr && g_spin_yields.load(std::memory_order_relaxed)) {
    sched_yield();
  } else {
    _mm_pause();
  }
}

u64 HostedPlatform::now_ns() {
  if (g_sim != nullptr) return g_sim->now();
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<u64>(ts.tv_sec) * 1'000'000'000u + static_cast<u64>(ts.tv_nsec);
}

void HostedPlatform::delay_ns(u64 ns) {
  if (g_sim != nullptr) {
    g_sim->delay(ns);
    return;
  }
  const u64 end = now_ns() + ns;
  while (now_ns() < end) cpu_relax();
}

void HostedPlatform::timer_arm(u64 deadline_ns) {
  if (g_sim != nullptr) {
    g_sim->timer_arm(deadline_ns);
    return;
  }
  CpuState& c = this_cpu();
  {
    std::lock_guard g(c.mu);
    c.timer_deadline = deadline_ns == 0 ? 1 : deadline_ns;
  }
  if (Machine* m = Machine::current()) m->timer_changed();
}

void HostedPlatform::timer_cancel() {
  if (g_sim != nullptr) {
    g_sim->timer_cancel();
    return;
  }
  CpuState& c = this_cpu();
  std::lock_guard g(c.mu);
  c.timer_deadline = 0;
}

void HostedPlatform::set_timer_handler(TimerHandler handler) {
  g_timer_handler.store(handler, std::memory_order_release);
  if (g_sim != nullptr) g_sim->set_timer_handler(handler);
}

void HostedPlatform::cpu_idle() {
  if (g_sim != nullptr) {
    g_sim->idle();
    return;
  }
  sched_point(SchedPoint::idle);
  CpuState& c = this_cpu();
  std::unique_lock lk(c.mu);
  for (;;) {
    if (c.wake_pending) {
      c.wake_pending = false;
      return;
    }
    if (c.device_pending) {
      lk.unlock();
      deliver_device_irq(c);
      return;
    }
    if (c.timer_deadline != 0) {
      const u64 now = now_ns();
      if (now >= c.timer_deadline) {
        c.timer_deadline = 0;
        lk.unlock();
        __atomic_fetch_and(&t_sched_flags, ~kSchedFlagTimer, __ATOMIC_RELAXED);
        fire_timer(now);
        return;
      }
      // CLOCK_MONOTONIC and steady_clock are the same clock on Linux.
      wait_until_ns(c.cv, lk, c.timer_deadline);
    } else {
      c.cv.wait(lk);
    }
  }
}

void HostedPlatform::cpu_wake(CpuId cpu) {
  if (g_sim != nullptr) {
    g_sim->wake(cpu);
    return;
  }
  CpuState* target = nullptr;
  {
    std::lock_guard g(g_cpus_mu);
    if (g_cpus != nullptr) {
      PLATYPOS_ASSERT(cpu < g_cpu_count, "cpu_wake: no cpu {} (machine has {})", cpu, g_cpu_count);
      target = &g_cpus[cpu];
    }
  }
  if (target == nullptr) {
    PLATYPOS_ASSERT(cpu == 0, "cpu_wake: no cpu {} (no machine running)", cpu);
    target = &this_cpu();
  }
  {
    std::lock_guard g(target->mu);
    target->wake_pending = true;
  }
  target->cv.notify_one();
}

namespace {
const PhysicalMemory* active_memory() {
  if (g_sim != nullptr) return &g_sim->memory();
  if (Machine* m = Machine::current()) return &m->memory();
  return nullptr;
}
}  // namespace

std::span<const MemoryRange> HostedPlatform::boot_memory_map() {
  const PhysicalMemory* m = active_memory();
  return m != nullptr ? m->map() : std::span<const MemoryRange>();
}

void* HostedPlatform::phys_to_virt(u64 phys) {
  const PhysicalMemory* m = active_memory();
  PLATYPOS_ASSERT(m != nullptr, "phys_to_virt({:#x}): no simulated memory", phys);
  return m->to_virt(phys);
}

void HostedPlatform::console_write(const char* s, usize n) {
  // In sim mode every simulated CPU runs on this thread: keep a line per simulated CPU.
  static std::string sim_lines[kMaxCpus];
  std::string& line = g_sim != nullptr ? sim_lines[t_cpu_id] : this_cpu().console_line;
  // A line is emitted at its end, or when it reaches kMaxLine (whoever writes without line ends, a program
  // included, cannot make the kernel buffer without bound).
  constexpr usize kMaxLine = 1024;
  for (usize i = 0; i < n; ++i) {
    if (s[i] == '\n' || line.size() == kMaxLine) {
      emit_console_line(line);
      line.clear();
    }
    if (s[i] != '\n') line.push_back(s[i]);
  }
}

void HostedPlatform::shutdown(ExitStatus status) {
  console_flush_all();
  std::fflush(stdout);
  std::fflush(stderr);
  switch (status) {
    case ExitStatus::success: std::_Exit(0);
    case ExitStatus::failure: std::_Exit(1);
    case ExitStatus::panic: std::_Exit(kPanicExitCode);
  }
  std::_Exit(kPanicExitCode);
}

usize HostedPlatform::backtrace(uptr* pcs, usize max) {
  void* frames[64];
  const int got = ::backtrace(frames, 64);
  // Frame 0 is this function; callers want their own frame first.
  usize n = 0;
  for (int i = 1; i < got && n < max; ++i) pcs[n++] = reinterpret_cast<uptr>(frames[i]);
  return n;
}

namespace {
// The main program's full symbol table (static functions included) and its load bias, read once.
struct MainProgram {
  std::optional<tools::ElfSymbols> symbols;
  uptr bias = 0;
  uptr base = 0;
};

const MainProgram& main_program() {
  static const MainProgram prog = [] {
    MainProgram p;
    p.symbols = tools::ElfSymbols::load("/proc/self/exe", nullptr);
    // The first object dl_iterate_phdr reports is the main program.
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void* data) {
          auto* mp = static_cast<MainProgram*>(data);
          mp->bias = info->dlpi_addr;
          for (int i = 0; i < info->dlpi_phnum; ++i) {
            if (info->dlpi_phdr[i].p_type == PT_LOAD) {
              mp->base = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr - info->dlpi_phdr[i].p_offset;
              break;
            }
          }
          return 1;
        },
        &p);
    return p;
  }();
  return prog;
}
}  // namespace

bool HostedPlatform::symbolize(uptr pc, char* buf, usize cap) {
  Dl_info info;
  if (cap == 0 || dladdr(reinterpret_cast<void*>(pc), &info) == 0) return false;
  // pc is a return address: look up pc - 1, which is inside the call instruction's function.
  const MainProgram& prog = main_program();
  if (prog.symbols && reinterpret_cast<uptr>(info.dli_fbase) == prog.base) {
    if (const auto* sym = prog.symbols->lookup(pc - 1 - prog.bias)) {
      std::snprintf(buf, cap, "%s+%#lx", sym->name.c_str(), static_cast<unsigned long>(pc - prog.bias - sym->addr));
      return true;
    }
  }
  if (info.dli_sname == nullptr) return false;
  const std::string name = tools::demangle(info.dli_sname);
  std::snprintf(buf, cap, "%s+%#lx", name.c_str(),
                static_cast<unsigned long>(pc - reinterpret_cast<uptr>(info.dli_saddr)));
  return true;
}

}  // namespace platypos::hosted
